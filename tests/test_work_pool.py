"""The work-pool path of the README, for real: Postgres, a Prefect server, two workers, one writer.

A Postgres cluster is made in a temporary folder and started on a free loopback port (as a
user other than root: Postgres refuses root), a Prefect server runs on it, prefect.yaml is
deployed from a folder that holds nothing but that file (the flows are the installed
package's), and two process workers start in working directories of their own: the writer,
whose $INNSYN_HOME holds the only database, and a second one with no database at all. Then:

- a bulk request (three schools) pauses for review, and its school parts were rendered on
  both workers, from snapshots in the exchange folder, which is empty again afterwards; the
  reviewer's answer through the API releases it from the same parts;
- a one-school request pauses for review and is approved with `innsyn review approve`: the
  paused run ends by itself, `Completed`, with the case released;
- the weekly report's deployment is run by hand while `innsyn serve` runs beside the pool;
  stopping the service pauses its own deployments only, and `innsyn serve` refuses to take
  over a deployment of its name that a work pool runs.

Slow (a minute or two): deselect with `-m "not work_pool"`; `make test` runs it.
"""

from __future__ import annotations

import csv
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import CANARIES, FIXED_NOW, INNSYN, canary_export, pdf_text, write_request

pytestmark = pytest.mark.work_pool

PROJECT = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))
STARTUP_SECONDS = 180


# ----------------------------------------------------------------------------- Postgres


def postgres_bin(name: str) -> str | None:
    """A Postgres server program: on PATH, or where Debian's `postgresql` puts it."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    return str(candidates[-1]) if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_on_loopback():
    """A throwaway Postgres cluster on 127.0.0.1; its SQLAlchemy URL for Prefect."""
    initdb, pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("Postgres is not installed (Debian: apt-get install postgresql; `make test` does, as root)")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="innsyn-pg-"))
    if os.getuid() == 0:  # Postgres refuses to run as root
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            account = pwd.getpwnam("nobody")
        if not shutil.which("runuser"):
            pytest.skip("running as root, and no `runuser` to start Postgres as another user")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", account.pw_name, "--"]
    data, port = folder / "data", free_port()
    try:
        made = subprocess.run([*as_user, initdb, "-D", str(data), "-U", "prefect", "-A", "trust", "-E", "UTF8",
                               "--no-sync"], capture_output=True, text=True, timeout=120)
        if made.returncode != 0:
            pytest.skip(f"initdb could not make a Postgres cluster: {made.stderr.strip().splitlines()[-1:]}")
        started = subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(folder / "postgres.log"), "-w",
                                  "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off",
                                  "start"], capture_output=True, text=True, timeout=120)
        if started.returncode != 0:
            pytest.skip(f"Postgres did not start: {(folder / 'postgres.log').read_text()[-300:]}")
        try:
            createdb = postgres_bin("createdb")
            subprocess.run([createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "prefect", "prefect"],
                           check=True, capture_output=True, timeout=60)
            yield f"postgresql+asyncpg://prefect@127.0.0.1:{port}/prefect"
        finally:
            subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True,
                           timeout=60)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------- processes


class Processes:
    """Long-running processes of the test, each logging to a file, stopped at the end."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str], *, cwd: Path, env: dict) -> subprocess.Popen:
        log = self.folder / f"{name}.log"
        with log.open("w") as handle:
            process = subprocess.Popen(args, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, text=True,
                                       start_new_session=True)
        self.running[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop(self, name: str, timeout: float = 60) -> int:
        process = self.running.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return process.returncode

    def stop_all(self) -> None:
        for name in reversed(list(self.running)):
            self.stop(name)


def wait_for(condition, what: str, timeout: float = STARTUP_SECONDS, every: float = 0.5, alive=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        for process, log in alive:
            assert process.poll() is None, f"{what}: the process stopped\n{log()[-3000:]}"
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def three_school_export(folder: Path) -> Path:
    """The canary export (Sagene skole, with its graded and institution addresses) and two
    more schools with a plain class each."""
    canary_export(folder)

    def append(name: str, rows: list[list[str]]) -> None:
        with (folder / name).open("a", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)

    append("schools.csv", [["S002", "Bjølsen skole", "false"], ["S003", "Lilleborg skole", "false"]])
    append("classes.csv", [["S002-3A", "S002", "3A", "3", "false"], ["S003-6C", "S003", "6C", "6", "false"]])
    append("students.csv", [["E21", "S002-3A", "Ingrid", "Berg", ""], ["E31", "S003-6C", "Jonas", "Dahl", ""]])
    append("guardians.csv", [
        ["F21", "E21", "Tone", "Berg", "tone.berg@example.no", "921 00 000", "false", "Bjølsenveien 2", "0468",
         "OSLO", "", "true", "true", "true", "true"],
        ["F31", "E31", "Geir", "Dahl", "geir.dahl@example.no", "931 00 000", "false", "Lilleborggata 5", "0480",
         "OSLO", "", "true", "true", "true", "true"],
    ])
    return folder


# ----------------------------------------------------------------------------- the test


def test_a_work_pool_with_one_writer_renders_bulk_parts_on_both_workers_and_pauses_for_review(tmp_path):
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from innsyn.process_request import ReviewInput

    started = time.monotonic()
    timings: dict[str, float] = {}
    processes = Processes(tmp_path)
    writer, second, served = tmp_path / "writer", tmp_path / "second", tmp_path / "served"
    exchange = tmp_path / "exchange"
    for folder in (writer, second, served, exchange):
        folder.mkdir()
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    base = {key: value for key, value in os.environ.items()
            if not key.startswith(("PREFECT_", "INNSYN_"))}
    base.update({"PREFECT_API_URL": api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "INNSYN_NOW": FIXED_NOW,
                 # the CLI on the writer runs its commands itself: no background service outlives the test
                 "INNSYN_USE_SERVICE": "0", "INNSYN_SERVICE_DIR": os.environ["INNSYN_SERVICE_DIR"]})

    def env(home: Path, **extra: str) -> dict:
        return {**base, "PREFECT_HOME": str(home / ".prefect"), **extra}

    with postgres_on_loopback() as database_url, temporary_settings(updates={PREFECT_API_URL: api}):
        timings["postgres"] = time.monotonic() - started
        try:
            # -- the server, on Postgres
            server = processes.start("server", [PREFECT, "server", "start", "--host", "127.0.0.1", "--port",
                                                str(port), "--no-ui"],
                                     cwd=tmp_path, env=env(tmp_path, PREFECT_API_DATABASE_CONNECTION_URL=database_url))
            wait_for(lambda: _healthy(api), "the Prefect server", alive=[(server, lambda: processes.log("server"))])
            timings["server"] = time.monotonic() - started

            # -- the pool; then, side by side: its deployments (from a folder holding only
            # prefect.yaml), the writer's data (the only database), two workers each in its own
            # folder, and `innsyn serve` beside them with a database of its own
            pool = subprocess.run([PREFECT, "work-pool", "create", "innsyn", "--type", "process"], cwd=tmp_path,
                                  env=env(tmp_path), capture_output=True, text=True, timeout=300)
            assert pool.returncode == 0, pool.stdout + pool.stderr
            deploy_dir = tmp_path / "deploy"
            deploy_dir.mkdir()
            shutil.copy(PROJECT / "prefect.yaml", deploy_dir / "prefect.yaml")
            deploy = subprocess.Popen([PREFECT, "--no-prompt", "deploy", "--all"], cwd=deploy_dir, env=env(tmp_path),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            writer_db = writer / "data" / "innsyn.duckdb"
            writer_cli = env(writer, INNSYN_DB=str(writer_db))
            imported = subprocess.Popen([INNSYN, "db", "import", str(three_school_export(tmp_path / "export"))],
                                        cwd=writer, env=writer_cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
            worker_env = {"INNSYN_EXCHANGE": str(exchange), "PREFECT_WORKER_QUERY_SECONDS": "1"}
            # the writer takes requests and reports, and parts as well; its limit leaves it one
            # part at a time while two cases are running, so the second worker must take some
            workers = {
                "worker-a": processes.start("worker-a", [PREFECT, "worker", "start", "--pool", "innsyn", "--name",
                                                         "worker-a", "--limit", "3", "--work-queue", "requests",
                                                         "--work-queue", "reports", "--work-queue", "parts"],
                                            cwd=writer, env=env(writer, INNSYN_HOME=str(writer), **worker_env)),
                "worker-b": processes.start("worker-b", [PREFECT, "worker", "start", "--pool", "innsyn", "--name",
                                                         "worker-b", "--limit", "2", "--work-queue", "parts"],
                                            cwd=second, env=env(second, INNSYN_HOME=str(second), **worker_env)),
            }
            served_env = env(served, INNSYN_DB=str(served / "innsyn.duckdb"), INNSYN_OUT=str(served / "out"))
            assert subprocess.run([INNSYN, "db", "init"], cwd=served, env=served_env, capture_output=True,
                                  timeout=120).returncode == 0
            service = processes.start("serve", [INNSYN, "serve"], cwd=served, env=served_env)
            deployed, _ = deploy.communicate(timeout=300)
            assert deploy.returncode == 0, deployed
            _, import_errors = imported.communicate(timeout=300)
            assert imported.returncode == 0, import_errors
            (writer / "intake").mkdir()
            timings["deployed"] = time.monotonic() - started

            # -- two requests at once: a one-school case and a bulk case (three schools)
            write_request(writer / "intake" / "one.json", request_id="2026/9002")
            write_request(writer / "intake" / "bulk.json", request_id="2026/9001",
                          scope={"school_id": "all", "classes": "all"})
            with get_client(sync_client=True) as client:
                requests = client.read_deployment_by_name("process-request/work-pool").id
                one = client.create_flow_run_from_deployment(requests, parameters={"request_path": "one.json"})
                bulk = client.create_flow_run_from_deployment(requests, parameters={"request_path": "bulk.json"})
            alive = [(w, lambda n=n: processes.log(n)) for n, w in workers.items()]

            # the one-school case pauses for review, and is approved from the command line:
            # the paused run ends by itself
            wait_for(lambda: _paused(one.id), "the one-school case's pause", alive=alive)
            timings["one-school case paused"] = time.monotonic() - started
            approved = subprocess.run([INNSYN, "review", "approve", "2026-9002", "--reviewer", "Lise Jurist"],
                                      cwd=writer, env=writer_cli, capture_output=True, text=True, timeout=300)
            assert approved.returncode == 0, approved.stderr
            assert json.loads(approved.stdout)["status"] == "released"
            ended = wait_for(lambda: _final(one.id), "the paused run to end after the CLI's approval", timeout=120)
            assert ended.state.is_completed(), ended.state.message
            timings["one-school case answered from the CLI"] = time.monotonic() - started

            # the bulk case's parts rendered on both workers, then it paused for review
            paused = wait_for(lambda: _paused(bulk.id), "the bulk case's pause for review", alive=alive)
            timings["bulk rendered and paused"] = time.monotonic() - started
            part_runs = _runs_of("render-part/work-pool-parts")
            assert len(part_runs) == 3 and all(run.state.is_completed() for run in part_runs)
            assert all(set(run.parameters) == {"job"} for run in part_runs)  # a job's name, nothing else
            by_worker = {name: [run for run in part_runs if str(run.id) in processes.log(name)]
                         for name in workers}
            assert by_worker["worker-a"] and by_worker["worker-b"], {n: len(r) for n, r in by_worker.items()}
            assert not list(second.rglob("*.duckdb")), "the second worker holds no database"
            assert not list(exchange.iterdir()), "the snapshots are gone"
            assert (writer / "out" / "internal" / "2026-9001" / "intern.pdf").is_file()

            # the reviewer answers the pause through the API: released from the same parts
            with get_client(sync_client=True) as client:
                client.resume_flow_run(paused.id, run_input=ReviewInput(
                    approve=True, reviewer="Lise Jurist", reason="ingen endringer").model_dump())
            finished = wait_for(lambda: _final(bulk.id), "the bulk case's release")
            assert finished.state.is_completed(), finished.state.message
            timings["bulk released"] = time.monotonic() - started
            assert len(_runs_of("render-part/work-pool-parts")) == 3, "approval merged the parts already rendered"
            public = pdf_text(writer / "out" / "public" / "2026-9001" / "svar.pdf")
            assert "Ingrid Berg" in public and "Jonas Dahl" in public and "Åse Sæther" in public
            for canary in CANARIES.values():
                assert canary not in public

            # -- the weekly report, run by hand, while `innsyn serve` runs beside the pool
            wait_for(lambda: _deployment("process-request/process-request"), "innsyn serve's deployments",
                     alive=[(service, lambda: processes.log("serve"))])
            with get_client(sync_client=True) as client:
                weekly = client.read_deployment_by_name("compliance-report/work-pool-weekly")
                scheduled_before = _scheduled_runs(client, weekly.id)
                report = client.create_flow_run_from_deployment(weekly.id, parameters={})
            done = wait_for(lambda: _final(report.id), "the weekly report")
            assert done.state.is_completed(), done.state.message
            assert list((writer / "out" / "reports").glob("compliance-*.pdf"))
            timings["weekly report"] = time.monotonic() - started

            # nothing personal reached Prefect: not in a parameter, log, state, artifact or event
            # of its database (the snapshots' values stayed in the exchange folder, then went)
            dumped = _dump(database_url)
            assert "2026-9001" in dumped  # the dump holds the runs: ids are what Prefect sees
            for value in [*CANARIES.values(), "Ingrid Berg", "Jonas Dahl", "Kari Nordmann", "kari@avis.example",
                          "tone.berg@example.no", "Bjølsenveien", "Lilleborggata"]:
                assert value not in dumped, value

            # stopping the service pauses its own deployments, never the pool's
            assert processes.stop("serve") == 0, processes.log("serve")
            with get_client(sync_client=True) as client:
                weekly = client.read_deployment_by_name("compliance-report/work-pool-weekly")
                assert not weekly.paused and all(schedule.active for schedule in weekly.schedules)
                assert _scheduled_runs(client, weekly.id) == scheduled_before != 0
                assert client.read_deployment_by_name("compliance-report/weekly-compliance-report").paused
                # a deployment of serve's name on the pool: `innsyn serve` does not take it over
                process_flow = client.read_deployment_by_name("process-request/work-pool").flow_id
                client.create_deployment(flow_id=process_flow, name="process-request", work_pool_name="innsyn",
                                         entrypoint="innsyn.service_flows:process_request_in_service")
            refused = subprocess.run([INNSYN, "serve"], cwd=served, env=served_env, capture_output=True, text=True,
                                     timeout=120)
            assert refused.returncode == 2 and "does not take over" in refused.stderr, refused.stderr
            assert len(refused.stderr.strip().splitlines()) == 1

            # stopping the workers as the README says: SIGTERM, and a second one for a worker
            # that has not exited though it runs nothing (Prefect 3.9.1's often does not; the
            # second signal makes it kill itself)
            stopping = time.monotonic()
            for name in workers:
                workers[name].send_signal(signal.SIGTERM)
            for name, worker in workers.items():
                try:
                    worker.wait(timeout=max(1.0, 10 - (time.monotonic() - stopping)))
                    how = "SIGTERM"
                except subprocess.TimeoutExpired:
                    worker.send_signal(signal.SIGTERM)
                    worker.wait(timeout=30)
                    how = "a second SIGTERM"
                processes.running.pop(name)
                timings[f"{name} stopped on {how}, in s"] = time.monotonic() - stopping
            with get_client(sync_client=True) as client:  # and no run of theirs was left half done
                assert all(run.state.is_final() or run.state.is_scheduled() for run in client.read_flow_runs())
        finally:
            processes.stop_all()
    timings["total"] = time.monotonic() - started
    print("work pool timings (s since start): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))


def _dump(database_url: str) -> str:
    """Everything in the Prefect server's Postgres database, as pg_dump writes it."""
    from urllib.parse import urlsplit

    where = urlsplit(database_url)
    dumped = subprocess.run([postgres_bin("pg_dump"), "-h", where.hostname, "-p", str(where.port), "-U",
                             where.username, where.path.lstrip("/")], capture_output=True, timeout=120)
    assert dumped.returncode == 0, dumped.stderr
    text = dumped.stdout.decode("utf-8", "replace")
    # JSON columns may hold "\\u00e5" for "å": the escapes read as what they stand for, too
    with warnings.catch_warnings():  # pg_dump's own escapes ("\\.") are no Python escapes: no matter
        warnings.simplefilter("ignore", DeprecationWarning)
        return text + "\n" + text.encode("ascii", "backslashreplace").decode("unicode_escape", "replace")


def _healthy(api: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _paused(run_id):
    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
    assert not (run.state and run.state.is_final()), f"the run ended instead of pausing: {run.state}"
    return run if run.state and run.state.is_paused() else None


def _final(run_id):
    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
    return run if run.state and run.state.is_final() else None


def _runs_of(deployment_name: str):
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(deployment_name)
        return client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])))


def _deployment(name: str):
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_deployment_by_name(name)
        except ObjectNotFound:
            return None


def _scheduled_runs(client, deployment_id) -> int:
    from prefect.client.schemas.filters import (
        DeploymentFilter, DeploymentFilterId, FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    return len(client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])))))
