"""One temporary Prefect server for every test process of a session.

A Prefect test server costs about 12 CPU seconds to start (7 from a copy of the migrated empty
database innsyn keeps) and a second a minute while it idles.
`make test` runs the tests in two processes (pytest-xdist); each used to start its own. Now the
first process that needs a server starts it, under a file lock in a folder the controlling
process hands to every test process, and writes its address there; the others read it. The
server is started as Prefect's own test harness starts its server (same command, same
settings, a temporary SQLite database), but it belongs to no test process: the one that started
it may finish its modules long before the others do. The controlling process stops it once every
test process has ended (`stop`).

Run in one process (no xdist), the session starts its own server with Prefect's test harness,
as it always did (conftest.py).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import time
from pathlib import Path

from innsyn.service.paths import exclusive
from innsyn.service.prefect_server import started_from_template

ADDRESS_FILE = "server.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(folder: Path) -> dict:
    """Start a server on a free loopback port, its database in `folder`; its address and pid."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL, temporary_settings

    # the server's own telemetry off, as `innsyn` does for the servers it starts (see
    # conftest.prefect_server); set for the server's process only
    before = os.environ.get("PREFECT_SERVER_ANALYTICS_ENABLED")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    port = _free_port()
    database = folder / "prefect-test.db"
    database_url = f"sqlite+aiosqlite:///{database}"
    # a copy of the migrated empty database innsyn's own Prefect servers start from (with the same
    # checks): Prefect then only checks the migrations at start, 5 CPU s less before the first test
    started_from_template(database)
    try:
        with temporary_settings(updates={PREFECT_SERVER_DATABASE_CONNECTION_URL: database_url}):
            server = SubprocessASGIServer(port=port)
            server.start(timeout=120)
    finally:
        if before is None:
            del os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"]
        else:
            os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = before
    # The server outlives this process: Prefect would stop it when this process exits, and would
    # hand it to this process's own flows as their ephemeral server; neither, here.
    atexit.unregister(server.stop)
    SubprocessASGIServer._instances.pop(port, None)
    return {"api_url": server.api_url, "database_url": database_url, "pid": server.server_process.pid}


def shared_server(folder: Path) -> dict:
    """The session's server (started by the first process that asks): its API's address
    (`api_url`) and its database's (`database_url`: a test reads what Prefect stored)."""
    with exclusive(folder / "lock"):
        address = folder / ADDRESS_FILE
        if not address.exists():
            address.write_text(json.dumps(_start(folder)))
        return json.loads(address.read_text())


def stop(folder: Path) -> None:
    """Stop the session's server, if a test process started one (the controlling process, last)."""
    address = folder / ADDRESS_FILE
    if not address.exists():
        return
    pid = json.loads(address.read_text())["pid"]
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            if b"\0" not in Path(f"/proc/{pid}/cmdline").read_bytes():  # a zombie: it has ended
                break
            time.sleep(0.1)
        else:
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, FileNotFoundError):
        pass
