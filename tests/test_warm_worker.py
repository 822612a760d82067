"""`innsyn process` beside a running service: a one-school request is answered warm by it.

The service's warm worker (what `innsyn serve` starts) runs here, in the test process, against
the session's Prefect server; `innsyn process` is the real command in a subprocess. The answer
must be the one the command would have given on its own, in the case handler's name, and
whatever the service cannot take (bad input, another clock, a dead service) is answered as
before.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from conftest import CANARIES, canary_export, innsyn, write_request
from innsyn.warm_worker import WarmWorker, listening, socket_path


@pytest.fixture(autouse=True)
def use_a_running_service(monkeypatch):
    monkeypatch.setenv("INNSYN_USE_SERVICE", "running")  # the one each test starts; never a new one


@pytest.fixture
def workdir(tmp_path, prefect_api_url) -> Path:
    imported = innsyn(tmp_path, prefect_api_url, "db", "import", str(canary_export(tmp_path / "export")))
    assert imported.returncode == 0, imported.stderr
    write_request(tmp_path / "request.json", request_id="2026/7101")
    return tmp_path


@pytest.fixture
def service(workdir, prefect_server):
    worker = WarmWorker(workdir / "innsyn.duckdb").start()
    yield worker
    worker.stop()


def test_a_one_school_request_is_answered_by_the_running_service(workdir, service, prefect_api_url, tmp_path_factory):
    run = innsyn(workdir, prefect_api_url, "process", "request.json")

    assert run.returncode == 0, run.stderr
    assert f"processed by the running `innsyn serve` (pid {os.getpid()})" in run.stderr
    assert service.answered == 1
    case = json.loads(run.stdout)
    # the canary register has values a lawyer must see: the case waits for review
    assert (case["case_id"], case["status"], case["outcome"]) == ("2026-7101", "awaiting_review", "delvis_innvilget")
    text = poppler_text(Path(case["review_pdf"]))
    # the review copy shows the withheld values, marked
    assert "Åse Sæther" in text and CANARIES["fortrolig pupil"] in text

    # the same answer the command gives when it runs the flow itself
    alone = tmp_path_factory.mktemp("alone")
    innsyn(alone, prefect_api_url, "db", "import", str(canary_export(alone / "export")))
    write_request(alone / "request.json", request_id="2026/7101")
    own = innsyn(alone, prefect_api_url, "process", "request.json")
    assert own.returncode == 0 and "processed by" not in own.stderr
    assert {**json.loads(own.stdout), "public_pdf": None, "review_pdf": None} == \
           {**case, "public_pdf": None, "review_pdf": None}
    assert poppler_text(Path(json.loads(own.stdout)["review_pdf"])) == text


def test_the_case_is_registered_in_the_case_handlers_name(workdir, service, prefect_api_url):
    import duckdb

    run = innsyn(workdir, prefect_api_url, "process", "request.json", user="kari.saksbehandler")
    assert run.returncode == 0, run.stderr
    with duckdb.connect(str(workdir / "innsyn.duckdb"), read_only=True) as con:
        actors = {actor for (actor,) in con.execute("SELECT DISTINCT actor FROM case_events").fetchall()}
    assert actors == {"kari.saksbehandler"}


def test_a_second_run_finds_the_case_unchanged(workdir, service, prefect_api_url):
    first = innsyn(workdir, prefect_api_url, "process", "request.json")
    again = innsyn(workdir, prefect_api_url, "process", "request.json")
    assert json.loads(again.stdout)["unchanged"] is True
    assert "is already awaiting_review: nothing changed" in again.stderr
    assert json.loads(first.stdout)["case_id"] == json.loads(again.stdout)["case_id"]
    assert service.answered == 2


def test_bad_input_is_refused_by_the_services_checks_as_the_command_alone_refuses_it(workdir, service,
                                                                                      prefect_api_url):
    """The command hands its command line over unchecked; the service runs the command's own
    checks: the same one line, exit 2, before any case or flow run."""
    import duckdb

    write_request(workdir / "bad.json", scope={"school_id": "S404", "classes": ["5B"]})
    run = innsyn(workdir, prefect_api_url, "process", "bad.json")
    assert run.returncode == 2
    assert run.stderr.startswith("innsyn: error:") and len(run.stderr.strip().splitlines()) == 1
    assert run.stdout == "" and service.answered == 1

    alone = _innsyn_with(workdir, prefect_api_url, {"INNSYN_USE_SERVICE": "0"}, "process", "bad.json")
    assert (alone.returncode, alone.stderr) == (2, run.stderr.replace(str(workdir / "bad.json"), "bad.json"))
    with duckdb.connect(str(workdir / "innsyn.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM cases").fetchone() == (0,)


def test_a_command_handed_to_the_running_service_imports_neither_duckdb_pydantic_nor_prefect(
        workdir, service, prefect_api_url):
    """What makes a warm command fast: the command line goes to the service as typed."""
    import subprocess
    import sys

    from conftest import innsyn_env

    script = ("import sys; from innsyn.cli import main; code = main(['process', 'request.json']); "
              "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'duckdb', 'pydantic', 'prefect', 'weasyprint'}); "
              "print('imported:', ','.join(heavy) or 'nothing heavy', file=sys.stderr); sys.exit(code)")
    run = subprocess.run([sys.executable, "-c", script], cwd=workdir, env=innsyn_env(workdir, prefect_api_url),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "processed by the running `innsyn serve`" in run.stderr and service.answered == 1
    assert "imported: nothing heavy" in run.stderr
    assert json.loads(run.stdout.splitlines()[-1])["case_id"] == "2026-7101"


def test_a_request_for_several_schools_is_declined_and_runs_in_the_commands_own_process(tmp_path, prefect_api_url,
                                                                                       prefect_server):
    """A bulk case renders on every core of its own process: the service says no before it
    starts anything, and the command runs it as it would alone."""
    from innsyn.service import client
    from innsyn.warm_worker import clock

    assert innsyn(tmp_path, prefect_api_url, "db", "demo-data", "--schools", "2").returncode == 0
    write_request(tmp_path / "all.json", request_id="2026/7102", scope={"school_id": "all", "classes": "all"})
    worker = WarmWorker(tmp_path / "innsyn.duckdb").start()
    try:
        args = {"command": "process", "file": str(tmp_path / "all.json"), "policy": None}
        message = {"command": "process", "args": args, "path_keys": ["file"], "db": str(worker.db),
                   "out": str(tmp_path / "out"), "actor": ["saksbehandler", "INNSYN_USER"], "clock": clock(),
                   "api_url": prefect_api_url, "fingerprint": worker.fingerprint}
        reply = client._send(worker.path, message)
        assert reply == {"declined": "a request for several schools renders on every core of its own process"}
        assert worker.answered == 0 and not (tmp_path / "out").exists()
    finally:
        worker.stop()


def test_a_message_whose_command_line_is_another_command_runs_nothing(workdir, service, prefect_api_url):
    """The words in the command line decide what `innsyn.commands.run` does: a message that
    declares `process` but carries `db restore` (a second way to a command the service never
    runs) is refused, exit 2, and the database is left as it was."""
    from innsyn.service import client
    from innsyn.warm_worker import clock

    before = (workdir / "innsyn.duckdb").read_bytes()
    args = {"command": "db", "db_command": "restore", "backup": str(workdir / "elsewhere.duckdb"), "policy": None}
    message = {"command": "process", "args": args, "path_keys": [], "db": str(service.db),
               "out": str(workdir / "out"), "actor": ["saksbehandler", "INNSYN_USER"], "clock": clock(),
               "api_url": prefect_api_url, "fingerprint": service.fingerprint}
    reply = client._send(service.path, message)
    assert reply["answer"]["exit_code"] == 2
    assert reply["answer"]["error"] == "the command line is not `innsyn process`"
    assert (workdir / "innsyn.duckdb").read_bytes() == before


def test_a_failure_in_the_service_is_one_line_and_exit_1(workdir, service, prefect_api_url):
    (workdir / "blocked").write_text("a file where the output folder should be")
    env_out = {"INNSYN_OUT": str(workdir / "blocked")}
    run = _innsyn_with(workdir, prefect_api_url, env_out, "process", "request.json")
    assert run.returncode == 1 and service.answered == 1
    assert run.stderr.startswith("innsyn: error:") and len(run.stderr.strip().splitlines()) == 1
    assert run.stdout == ""
    assert not any(value in run.stderr for value in CANARIES.values())


def test_a_service_under_another_clock_declines_and_the_command_runs_alone(workdir, service, prefect_api_url):
    run = _innsyn_with(workdir, prefect_api_url, {"INNSYN_NOW": "2026-11-25T10:00:00+01:00"},
                       "process", "request.json")
    assert run.returncode == 0, run.stderr
    assert "processed by" not in run.stderr and service.answered == 0


def test_use_service_0_runs_alone(workdir, service, prefect_api_url):
    run = _innsyn_with(workdir, prefect_api_url, {"INNSYN_USE_SERVICE": "0"}, "process", "request.json")
    assert run.returncode == 0, run.stderr
    assert "processed by" not in run.stderr and service.answered == 0


def test_a_dead_services_socket_is_ignored_and_replaced(workdir, prefect_api_url, prefect_server):
    path = socket_path(workdir / "innsyn.duckdb")
    WarmWorker(workdir / "innsyn.duckdb").server_close()  # makes the private folder
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # what `kill -9` leaves: the socket file, nobody listening
    assert path.exists()

    run = innsyn(workdir, prefect_api_url, "process", "request.json")
    assert run.returncode == 0, run.stderr
    assert "processed by" not in run.stderr

    worker = WarmWorker(workdir / "innsyn.duckdb").start()  # the next service takes its place
    try:
        assert listening(path)
        with pytest.raises(RuntimeError, match="another `innsyn serve` already answers"):
            WarmWorker(workdir / "innsyn.duckdb").start()
    finally:
        worker.stop()
    assert not path.exists()


def test_a_broken_client_does_not_stop_the_service(workdir, service, prefect_api_url, capfd):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(str(service.path))
        client.sendall(b"not a request\n")
        assert client.makefile("rb").readline() == b""  # hung up on, nothing said
    assert "a request over the socket ended early (JSONDecodeError)" in capfd.readouterr().err

    run = innsyn(workdir, prefect_api_url, "process", "request.json")
    assert run.returncode == 0, run.stderr
    assert "processed by the running `innsyn serve`" in run.stderr


def test_only_its_user_can_reach_the_socket(service):
    folder = service.path.parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and folder.stat().st_uid == os.getuid()
    assert stat.S_IMODE(service.path.stat().st_mode) == 0o600


def poppler_text(pdf: Path) -> str:
    import subprocess

    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _innsyn_with(workdir: Path, prefect_api_url: str, env: dict[str, str], *args: str):
    import subprocess

    from conftest import INNSYN, innsyn_env

    return subprocess.run([INNSYN, *args], cwd=workdir, env={**innsyn_env(workdir, prefect_api_url), **env},
                          capture_output=True, text=True, timeout=600)

