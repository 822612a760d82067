"""The background service: the CLI starts it on first use, reuses it, and it goes away.

Real processes throughout: `innsyn` commands in subprocesses, the service they start (a
detached `python -m innsyn.service.daemon`), and, where no PREFECT_API_URL is given, the
user's own Prefect server it starts. Each test has its own service folder, and stops what
it started; the session's folder is swept at the end as well (conftest `service_dir`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

from conftest import CANARIES, INNSYN, canary_export, innsyn_env, write_request
from innsyn.leak_gate import find_leaks
from innsyn.service import paths



def _running(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        return b"\0" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def run(workdir: Path, api_url: str | None, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**innsyn_env(workdir, api_url or ""), **env}
    if api_url is None:
        environment.pop("PREFECT_API_URL")
    return subprocess.run([INNSYN, *args], cwd=workdir, env=environment, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture
def workdir(tmp_path, prefect_api_url) -> Path:
    imported = run(tmp_path, prefect_api_url, "db", "import", str(canary_export(tmp_path / "export")),
                   INNSYN_USE_SERVICE="0")
    assert imported.returncode == 0, imported.stderr
    return tmp_path


def status(api_url: str | None = None) -> dict:
    result = subprocess.run([INNSYN, "status"], env=os.environ, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_first_command_starts_the_service_later_ones_reuse_it_and_stop_ends_it(workdir, services,
                                                                                  prefect_api_url):
    write_request(workdir / "first.json", request_id="2026/8101")
    first = run(workdir, prefect_api_url, "process", "first.json")
    assert first.returncode == 0, first.stderr
    assert "starting the innsyn service" in first.stderr
    assert json.loads(first.stdout)["status"] == "awaiting_review"

    (service,) = status()["services"]
    assert service["kind"] == "background" and service["api_url"] == prefect_api_url
    assert service["db"] == str(workdir / "innsyn.duckdb") and service["answered"] == 1
    assert service["idle_timeout_seconds"] == paths.DEFAULT_IDLE_SECONDS
    assert f"processed by the background innsyn service (pid {service['pid']})" in first.stderr
    sock = Path(service["socket"])
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600 and stat.S_IMODE(services.stat().st_mode) == 0o700
    assert stat.S_IMODE(Path(service["log"]).stat().st_mode) == 0o600
    assert status()["prefect_server"] is None  # PREFECT_API_URL was given: no server of our own

    write_request(workdir / "second.json", request_id="2026/8102")
    second = run(workdir, prefect_api_url, "process", "second.json")
    assert second.returncode == 0, second.stderr
    assert "starting" not in second.stderr and f"(pid {service['pid']})" in second.stderr

    stopped = subprocess.run([INNSYN, "stop"], env=os.environ, capture_output=True, text=True, timeout=300)
    assert stopped.returncode == 0, stopped.stderr
    assert [s["pid"] for s in json.loads(stopped.stdout)["stopped"]] == [service["pid"]]
    assert not _running(service["pid"]) and not sock.exists()
    assert not paths.state_path(workdir / "innsyn.duckdb").exists()
    assert status()["services"] == []


def test_review_commands_run_in_the_service_and_the_answer_passes_the_gate(workdir, services, prefect_api_url):
    write_request(workdir / "request.json", request_id="2026/8111")
    processed = run(workdir, prefect_api_url, "process", "request.json")
    case = json.loads(processed.stdout)
    assert case["status"] == "awaiting_review", processed.stderr
    db = workdir / "innsyn.duckdb"
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        (item,) = con.execute("SELECT item_id FROM case_items WHERE case_id = ? AND decision = 'release' "
                              "ORDER BY item_id LIMIT 1", [case["case_id"]]).fetchone()
    withheld = run(workdir, prefect_api_url, "review", "withhold", case["case_id"], item,
                   "--reviewer", "Lise Jurist", "--reason", "for prøving", "--rule", "fortrolig_adresse")
    assert withheld.returncode == 0, withheld.stderr
    assert "processed by the background innsyn service" in withheld.stderr
    assert json.loads(withheld.stdout)["changed_items"] == 1

    approved = run(workdir, prefect_api_url, "review", "approve", case["case_id"], "--reviewer", "Lise Jurist")
    assert approved.returncode == 0, approved.stderr
    assert "processed by the background innsyn service" in approved.stderr
    released = json.loads(approved.stdout)
    assert released["status"] == "released"
    again = run(workdir, prefect_api_url, "review", "approve", case["case_id"], "--reviewer", "Lise Jurist")
    assert "is already released: nothing changed" in again.stderr and json.loads(again.stdout)["unchanged"]

    with duckdb.connect(str(db), read_only=True) as con:
        items = con.execute("SELECT item_id, value, decision FROM case_items WHERE case_id = ?",
                            [case["case_id"]]).fetchall()
        actors = dict(con.execute("SELECT event, actor FROM case_events WHERE case_id = ?",
                                  [case["case_id"]]).fetchall())
    secret = {item_id: value for item_id, value, decision in items if decision == "withhold"}
    assert item in secret and any(CANARIES["fortrolig pupil"] in value for value in secret.values())
    public = Path(released["public_pdf"])
    assert find_leaks(public, secret, [v for _, v, d in items if d == "release"]) == []
    assert actors["approved"] == "Lise Jurist" and actors["received"] == "saksbehandler"
    # a review refused for its input is refused in the service too, one line and exit 2
    refused = run(workdir, prefect_api_url, "review", "release", case["case_id"], item,
                  "--reviewer", "Lise Jurist", "--reason", "x")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) <= 2, refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("innsyn: error:")
    assert not any(value in refused.stderr for value in CANARIES.values())


def test_bad_input_exits_2_before_any_service_starts(workdir, services, prefect_api_url):
    write_request(workdir / "bad.json", scope={"school_id": "S404", "classes": ["5B"]})
    for args in (["process", "bad.json"], ["review", "approve", "2026-404", "--reviewer", "Lise Jurist"],
                 ["review", "approve", "2026-404", "--reviewer", "Lise\u200bJurist"]):
        result = run(workdir, prefect_api_url, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert status()["services"] == [] and not list(services.glob("*.sock"))


def test_an_idle_service_stops_by_itself(workdir, services, prefect_api_url, monkeypatch):
    monkeypatch.setenv(paths.IDLE_SECONDS, "3")
    write_request(workdir / "request.json", request_id="2026/8121")
    processed = run(workdir, prefect_api_url, "process", "request.json")
    assert processed.returncode == 0, processed.stderr
    state = paths.read_state(paths.state_path(workdir / "innsyn.duckdb"))
    assert state["idle_timeout_seconds"] == 3
    deadline = time.monotonic() + 60
    while _running(state["pid"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(state["pid"]), "the service outlived its idle timeout"
    assert not Path(state["socket"]).exists() and not paths.state_path(workdir / "innsyn.duckdb").exists()
    assert "idle for 3 s" in Path(state["log"]).read_text()


def test_a_service_started_from_other_code_makes_way_for_a_new_one(workdir, services, prefect_api_url):
    import socket

    from innsyn.warm_worker import clock

    write_request(workdir / "one.json", request_id="2026/8131")
    write_request(workdir / "two.json", request_id="2026/8132")
    assert run(workdir, prefect_api_url, "process", "one.json").returncode == 0
    old = paths.read_state(paths.state_path(workdir / "innsyn.duckdb"))
    # a command from other code (an upgrade, an edit: other files, sizes or times) reaches it;
    # said over the socket, not by touching the sources other tests run from meanwhile
    message = {"command": "process", "args": {"file": str(workdir / "two.json")}, "db": old["db"],
               "out": str(workdir / "out"), "policy": None, "actor": "saksbehandler", "clock": clock(),
               "api_url": prefect_api_url, "fingerprint": "0" * 16}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(old["socket"])
        connection.sendall(json.dumps(message).encode() + b"\n")
        reply = json.loads(connection.makefile("rb").readline())
    assert reply == {"declined": "other code", "stale": True}
    deadline = time.monotonic() + 60
    while _running(old["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(old["pid"]), "a stale service stops"

    second = run(workdir, prefect_api_url, "process", "two.json")
    assert second.returncode == 0, second.stderr
    new = paths.read_state(paths.state_path(workdir / "innsyn.duckdb"))["pid"]
    assert new != old["pid"] and "starting the innsyn service" in second.stderr
    assert f"processed by the background innsyn service (pid {new})" in second.stderr


def test_without_a_prefect_api_the_user_gets_one_server_visible_and_idle_stopped(workdir, services, monkeypatch):
    monkeypatch.setenv(paths.IDLE_SECONDS, "4")
    monkeypatch.setenv("XDG_CACHE_HOME", str(workdir / "cache"))  # no migrated empty database kept yet
    home = workdir / "prefect-home"
    write_request(workdir / "request.json", request_id="2026/8141")
    processed = run(workdir, None, "process", "request.json", PREFECT_HOME=str(home))
    assert processed.returncode == 0, processed.stderr
    case = json.loads(processed.stdout)

    server = paths.read_state(paths.server_file("json"))
    assert server["api_url"].startswith("http://127.0.0.1:") and server["prefect_home"] == str(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    environ = Path(f"/proc/{server['pid']}/environ").read_bytes().split(b"\0")
    assert b"PREFECT_SERVER_ANALYTICS_ENABLED=false" in environ  # no telemetry
    # the case's flow run is a real one, in that server
    request = urllib.request.Request(f"{server['api_url']}/flow_runs/filter", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        runs = json.loads(response.read())
    assert any(run_["state_type"] == "COMPLETED" for run_ in runs), runs
    assert not any(CANARIES["fortrolig pupil"] in json.dumps(run_) for run_ in runs)

    service = paths.read_state(paths.state_path(workdir / "innsyn.duckdb"))
    # nor from Prefect's client in the service, where a terminal would let it report a new user
    assert b"DO_NOT_TRACK=1" in Path(f"/proc/{service['pid']}/environ").read_bytes().split(b"\0")
    deadline = time.monotonic() + 90
    while (_running(service["pid"]) or _running(server["pid"])) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _running(service["pid"]) and not _running(server["pid"]), "outlived the idle timeout"
    assert not paths.server_file("json").exists()

    # it noted that it migrated its database; the next start skips Prefect's check and works
    from importlib.metadata import version

    noted = (home / "prefect.db.innsyn-migrated").read_text()
    assert noted.startswith(f"prefect {version('prefect')} database {home / 'prefect.db'} ")
    write_request(workdir / "request.json", request_id="2026/8142")
    again = run(workdir, None, "process", "request.json", PREFECT_HOME=str(home))
    assert again.returncode == 0, again.stderr
    assert (home / "prefect.db.innsyn-migrated").read_text() == noted

    # the first server kept its new database, migrated and still empty, for the next new home
    template = workdir / "cache" / "innsyn" / f"prefect-{version('prefect')}-empty.db"
    assert stat.S_IMODE(template.stat().st_mode) == 0o600
    with closing(sqlite3.connect(template)) as kept:
        assert kept.execute("SELECT count(*) FROM flow_run").fetchone() == (0,)


def test_make_keeps_a_migrated_empty_database_once(tmp_path, monkeypatch):
    # the Makefile's install step: a new home's first server then starts from a copy as well
    from importlib.metadata import version

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "innsyn.service.prefect_server", "--keep-migrated-empty-database"]
    made = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    template = tmp_path / "innsyn" / f"prefect-{version('prefect')}-empty.db"
    assert made.returncode == 0 and made.stdout == f"innsyn: a migrated empty Prefect database is kept in {template}\n"
    assert sorted(path.name for path in template.parent.iterdir()) == [template.name]  # no scratch left
    assert stat.S_IMODE(template.stat().st_mode) == 0o600 and stat.S_IMODE(template.parent.stat().st_mode) == 0o700
    with closing(sqlite3.connect(template)) as kept:
        assert kept.execute("SELECT version_num FROM alembic_version").fetchone()
        assert kept.execute("SELECT count(*) FROM flow_run").fetchone() == (0,)
    built = template.stat().st_mtime_ns
    assert subprocess.run(command, env=env, capture_output=True, timeout=300).returncode == 0
    assert template.stat().st_mtime_ns == built  # kept, not built again

    # a new home starts as a copy of it, unless someone else could have written it, or it holds runs
    from innsyn.service import prefect_server

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    home = tmp_path / "home"
    assert prefect_server.started_from_template(home / "one.db")
    assert stat.S_IMODE((home / "one.db").stat().st_mode) == 0o600
    os.chmod(template, 0o620)  # group-writable: anyone in the group could have put it there
    assert not prefect_server.started_from_template(home / "two.db") and not (home / "two.db").exists()
    os.chmod(template, 0o600)

    # the user's Prefect server with a new home starts from it, and serves
    server_env = {key: value for key, value in env.items() if key != "PREFECT_API_URL"}
    server_env.update(PREFECT_HOME=str(tmp_path / "new-home"), INNSYN_SERVICE_DIR=str(tmp_path / "service"))
    (tmp_path / "service").mkdir(mode=0o700)
    with (tmp_path / "server.log").open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "innsyn.service.prefect_server"], env=server_env,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        state = tmp_path / "service" / "prefect-server.json"
        deadline = time.monotonic() + 120
        while not state.exists() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.1)
        prefect_server.wait_until_healthy(json.loads(state.read_text())["api_url"], timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=60)
    new_home = tmp_path / "new-home" / "prefect.db"
    assert f"{new_home} started as a copy of the migrated {template}" in (tmp_path / "server.log").read_text()
    assert (tmp_path / "new-home" / "prefect.db.innsyn-migrated").read_text().startswith(f"prefect {version('prefect')} ")

    with closing(sqlite3.connect(template)) as planted:
        planted.execute("INSERT INTO log (name, level, message, timestamp) VALUES ('x', 20, 'x', '2026-12-02')")
        planted.commit()
    assert not prefect_server.started_from_template(home / "three.db")  # not empty: not a template


def test_a_new_prefect_or_a_new_database_file_is_migrated_again(tmp_path, monkeypatch):
    from innsyn.service import prefect_server

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL", raising=False)
    database = tmp_path / "prefect.db"
    marker = prefect_server._migrated_marker()
    assert prefect_server._migration_key(marker) == ""  # no file yet: Prefect creates and migrates it
    database.write_bytes(b"first")
    first = prefect_server._migration_key(marker)
    assert first and marker == tmp_path / "prefect.db.innsyn-migrated"
    replaced = tmp_path / "replacement.db"
    replaced.write_bytes(b"second")
    replaced.replace(database)
    assert prefect_server._migration_key(marker) not in ("", first)
    key = prefect_server._migration_key(marker)
    monkeypatch.setattr("importlib.metadata.version", lambda name: "99.0.0")
    assert prefect_server._migration_key(marker) != key
    marker.write_text(prefect_server._migration_key(marker))
    assert prefect_server._migrated_already(marker)
    monkeypatch.setenv("PREFECT_SERVER_DATABASE_MIGRATE_ON_START", "true")  # the user's own setting wins
    assert not prefect_server._migrated_already(marker)
    monkeypatch.delenv("PREFECT_SERVER_DATABASE_MIGRATE_ON_START")
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", "postgresql+asyncpg://u:p@localhost/prefect")
    assert prefect_server._migrated_marker() is None  # another database: Prefect checks it every start


def test_a_bulk_command_without_a_prefect_api_uses_the_users_server_and_counts_as_its_user(
        tmp_path, services, monkeypatch):
    """A bulk case renders in the command's own process, but its flow runs go to the user's
    Prefect server (started by the command), not to a temporary server of the command's own:
    `innsyn status` lists the command as the server's user while it runs, and the server
    stops once the idle timeout has passed after the command ended."""
    monkeypatch.setenv(paths.IDLE_SECONDS, "4")
    made = run(tmp_path, None, "db", "demo-data", "--schools", "1", INNSYN_USE_SERVICE="0")
    assert made.returncode == 0, made.stderr
    write_request(tmp_path / "bulk.json", request_id="2026/8150", scope={"school_id": "all", "classes": "all"})
    environment = {**innsyn_env(tmp_path, ""), "PREFECT_HOME": str(tmp_path / "prefect-home")}
    environment.pop("PREFECT_API_URL")
    command = subprocess.Popen([INNSYN, "process", "bulk.json"], cwd=tmp_path, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, listed = time.monotonic() + 300, None
        while listed is None and command.poll() is None and time.monotonic() < deadline:
            server = status()["prefect_server"]
            listed = next((c for c in (server or {}).get("commands", []) if c["pid"] == command.pid), None)
            time.sleep(0.2)
        out, err = command.communicate(timeout=600)
    finally:
        if command.poll() is None:
            command.kill()
    assert command.returncode == 0, err
    assert listed and listed["command"] == "bulk case", "not listed by `innsyn status` while it ran"
    assert "temporary server" not in err
    assert json.loads(out.splitlines()[-1])["status"] == "awaiting_review"

    server = paths.read_state(paths.server_file("json"))
    assert listed["api_url"] == server["api_url"]
    request = urllib.request.Request(f"{server['api_url']}/flow_runs/filter", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        runs = json.loads(response.read())
    assert {"process-request", "render-answer"} <= {_flow_name(server, run_) for run_ in runs}
    assert all(run_["state_type"] == "COMPLETED" for run_ in runs), runs
    assert not list(services.glob("command-*.json"))  # the command no longer counts as a user
    deadline = time.monotonic() + 90
    while _running(server["pid"]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _running(server["pid"]), "outlived the idle timeout"


def _flow_name(server: dict, flow_run: dict) -> str:
    with urllib.request.urlopen(f"{server['api_url']}/flows/{flow_run['flow_id']}", timeout=30) as response:
        return json.loads(response.read())["name"]
