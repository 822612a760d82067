"""The user's Prefect server, for background services that were given no PREFECT_API_URL.

`ensure_running` (light: no Prefect import) finds the server this user's services share, or
starts it: `python -m innsyn.service.prefect_server`, a detached process that binds a free
port on 127.0.0.1, writes its state file (pid, API and UI address, PREFECT_HOME), and runs
Prefect's API and UI (the app `prefect server start` runs) in the user's own, owner-only
PREFECT_HOME, with telemetry off. Flow runs of the services are real and visible there.

It stops by itself once no background service has used it for the idle timeout
(INNSYN_SERVICE_IDLE_SECONDS), or with `innsyn stop`. A service registers as a user of the
server under the server's lock, and the server decides to stop under the same lock, so a
service never gets the address of a server that is about to stop.

A command that renders a bulk case in its own process (`for_command`) uses the same server
rather than a temporary one of its own (a temporary server on a new PREFECT_HOME runs
Prefect's migrations first: 10-15 s before the first flow run, again for the approval). It
registers as a user for as long as it runs (a state file named by its pid, which `innsyn
status` lists), so the idle timeout counts from its end.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path

from innsyn.service import paths

MARKER = "innsyn.service.prefect_server"
DAEMON_MARKER = "innsyn.service.daemon"
#: What a command that uses the server has on its command line (`innsyn process ...`).
COMMAND_MARKER = "innsyn"


@contextmanager
def _server_lock(blocking: bool = True):
    with open(paths.server_file("lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_running(register: Callable[[dict], None], timeout: float = 60) -> dict:
    """The running server's state, starting it if none runs; `register(state)` is called under
    the server's lock, so the caller counts as its user before it can decide to stop."""
    if not paths.private_folder(paths.service_dir(), create=True):
        raise RuntimeError(f"{paths.service_dir()} is not private to this user")
    with _server_lock():
        state = paths.read_state(paths.server_file("json"))
        if not (state and paths.alive(state.get("pid"), MARKER)):
            state = _start(timeout)
        register(state)
        return state


def _start(timeout: float) -> dict:
    log = paths.server_file("log")
    env = {key: value for key, value in os.environ.items()
           if key not in ("PREFECT_API_URL", "PREFECT_UI_API_URL", "PYTHONPATH")}
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    with open(log, "wb") as output:
        os.chmod(log, 0o600)
        process = subprocess.Popen([sys.executable, "-m", MARKER], stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd="/")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = paths.read_state(paths.server_file("json"))
        if state and state.get("pid") == process.pid:
            return state
        if process.poll() is not None:
            break
        time.sleep(0.02)
    process.kill()
    raise RuntimeError(f"the Prefect server did not start (see {log})")


def command_state_path(pid: int | None = None) -> Path:
    """The state file of a command that uses the server (its pid in the name)."""
    return paths.service_dir() / f"command-{pid or os.getpid()}.json"


def commands_using(api_url: str | None = None) -> list[dict]:
    """The commands alive that use the server (at `api_url`, or any)."""
    found = []
    for state_file in paths.service_dir().glob("command-*.json"):
        state = paths.read_state(state_file) or {}
        if (api_url is None or state.get("api_url") == api_url) and paths.alive(state.get("pid"), COMMAND_MARKER):
            found.append(state)
    return found


@contextmanager
def for_command(what: str) -> Iterator[str | None]:
    """The user's server for this command's flow runs, started if none runs (with
    INNSYN_USE_SERVICE=running only one that runs already), and this command registered as its
    user until the block ends; the API's address, set as PREFECT_API_URL meanwhile. None, and
    nothing changed, where the command keeps Prefect's own way: PREFECT_API_URL names a server,
    INNSYN_USE_SERVICE=0, or the service folder is not private to the user."""
    mode = paths.use_service()
    if os.environ.get("PREFECT_API_URL") or mode == "no" or not paths.private_folder(paths.service_dir(), create=True):
        yield None
        return
    if mode == "running":
        state = paths.read_state(paths.server_file("json"))
        if not (state and paths.alive(state.get("pid"), MARKER)):
            yield None
            return
    state_file = command_state_path()

    def register(server: dict) -> None:
        paths.write_state(state_file, {
            "pid": os.getpid(), "api_url": server["api_url"], "command": what,
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})

    try:
        server = ensure_running(register)
        api_url = server["api_url"]
        wait_until_healthy(api_url, timeout=float(os.environ.get("INNSYN_SERVICE_START_TIMEOUT") or 300))
        print(f"innsyn: flow runs in the Prefect server at {server.get('ui_url') or api_url} "
              "(`innsyn status`, `innsyn stop`)", file=sys.stderr, flush=True)
        before = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = api_url
        try:
            yield api_url
        finally:
            if before is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = before
    finally:
        state_file.unlink(missing_ok=True)


def wait_until_healthy(api_url: str, timeout: float) -> None:
    """Until the API answers /health (the server imports and migrates for a few seconds)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Prefect API at {api_url} did not answer within {timeout:g} s")
        time.sleep(0.1)


# ----------------------------------------------------------------------------- the server process


def _users(api_url: str) -> int:
    """Background services and commands alive that use this server."""
    count = len(commands_using(api_url))
    for state_file in paths.service_dir().glob("*.json"):
        if state_file.name == paths.server_file("json").name or state_file.name.startswith("command-"):
            continue
        state = paths.read_state(state_file) or {}
        if state.get("api_url") == api_url and paths.alive(state.get("pid"), DAEMON_MARKER):
            count += 1
    return count


def _stop_when_unused(api_url: str, idle: float) -> None:
    last_used = time.monotonic()
    tick = max(0.2, min(5.0, idle / 10))
    while True:
        time.sleep(tick)
        if _users(api_url):
            last_used = time.monotonic()
            continue
        if time.monotonic() - last_used <= idle:
            continue
        with _server_lock(blocking=False) as locked:
            if not locked or _users(api_url):
                continue  # a service is registering right now
            _forget_state()
        print(f"innsyn: the Prefect server stops: no innsyn service or command used it for {idle:g} s", flush=True)
        os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own clean shutdown
        return


def _forget_state() -> None:
    state = paths.read_state(paths.server_file("json"))
    if state and state.get("pid") == os.getpid():
        paths.server_file("json").unlink(missing_ok=True)


# Prefect checks its database's migrations at every start (alembic reads its hundreds of
# migration scripts: 0.6-0.7 CPU s of a start of about 5, in front of the first command after
# boot). The user's server migrates its SQLite file itself, before it serves, notes that this
# Prefect version did so, and skips the check while that holds; a new Prefect, a new file or
# another database checks.
#
# A new PREFECT_HOME has no database: migrating an empty one is 5 CPU s more (the first call
# after boot with a new home, each bulk benchmark, the tests' servers). Every migrated empty
# database of one Prefect version is the same, so the first server that migrates one keeps a
# copy of it in the user's cache, before anything is written to it, and a server with a new
# home starts from that copy instead.


MIGRATED = ".innsyn-migrated"


def _database_file() -> Path | None:
    """The SQLite file the server will use, or None for any other database."""
    from prefect.settings import Settings

    url = Settings().server.database.connection_url  # as the environment says now, not as first read
    url = url.get_secret_value() if url is not None else ""
    prefix = "sqlite+aiosqlite:///"
    return Path(url[len(prefix):]) if url.startswith(prefix) and "?" not in url else None


def _migrated_marker() -> Path | None:
    """The note beside the server's SQLite database; None for another database (checked at
    every start, as Prefect does)."""
    database = _database_file()
    return None if database is None else database.with_name(database.name + MIGRATED)


def _migration_key(marker: Path) -> str:
    """This Prefect version and the identity of the database file `marker` notes (a new file
    is checked again); empty while there is no file."""
    from importlib.metadata import version

    database = marker.with_name(marker.name.removesuffix(MIGRATED))
    if not database.exists():
        return ""
    info = database.stat()
    return f"prefect {version('prefect')} database {database} {info.st_dev}:{info.st_ino}"


def _user_decides_migration() -> bool:
    """The user said whether to migrate at start: their setting wins, either way."""
    return any(name in os.environ for name in ("PREFECT_API_DATABASE_MIGRATE_ON_START",
                                               "PREFECT_SERVER_DATABASE_MIGRATE_ON_START"))


def _migrated_already(marker) -> bool:
    """True when the note says this Prefect migrated this file, and the user has not said
    whether to migrate at start."""
    if _user_decides_migration():
        return False
    return marker is not None and marker.exists() and marker.read_text() == _migration_key(marker)


def template_file() -> Path:
    """The migrated empty database of this Prefect version, in the user's cache."""
    from importlib.metadata import version

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "innsyn"
    return cache / f"prefect-{version('prefect')}-empty.db"


def started_from_template(database: Path) -> bool:
    """Make the missing `database` a copy of the template; False where there is none (or
    another process made the database meanwhile)."""
    import sqlite3

    template = template_file()
    if database.exists() or not template.is_file() or not _own_and_private(template):
        return False
    try:
        with closing(sqlite3.connect(f"file:{template}?mode=ro", uri=True)) as check:
            if check.execute("PRAGMA quick_check").fetchone() != ("ok",) or \
                    not check.execute("SELECT version_num FROM alembic_version").fetchone() or \
                    not _empty(check):
                return False
    except sqlite3.Error:
        return False
    database.parent.mkdir(parents=True, exist_ok=True)
    copy = database.with_name(f".{database.name}.{os.getpid()}.copy")
    try:
        shutil.copyfile(template, copy)
        os.chmod(copy, 0o600)
        os.link(copy, database)  # never over a database another process made meanwhile
    except FileExistsError:
        return False
    finally:
        copy.unlink(missing_ok=True)
    return True


def _own_and_private(template: Path) -> bool:
    """The template and its folder are this user's, and nobody else may write them: a file
    another user could have put there is not copied into the user's Prefect home."""
    for path in (template, template.parent):
        info = path.stat()
        if info.st_uid != os.getuid() or info.st_mode & 0o022:
            return False
    return True


def _empty(connection) -> bool:
    """No flow run, task run or log in the database (only Prefect's schema and defaults)."""
    return all(connection.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
               for table in ("flow_run", "task_run", "log"))


def _migrate(database: Path) -> None:
    """Prefect's own migration of the server's database (what its start-up would run), and
    a copy for the template when the database was made just now, empty."""
    import asyncio
    import sqlite3

    from prefect.server.database import provide_database_interface

    new = not database.exists()
    asyncio.run(provide_database_interface().create_db())
    template = template_file()
    if not new or template.exists():
        return
    template.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    copy = template.with_name(f".{template.name}.{os.getpid()}.copy")
    with closing(sqlite3.connect(database)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)  # consistent, whatever Prefect's connections left in the journal
        target.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal or -shm beside it
        kept = _empty(target)  # nothing else wrote to the new database meanwhile
    os.chmod(copy, 0o600)
    if kept:
        os.replace(copy, template)
    else:
        copy.unlink()


def keep_migrated_empty_database() -> Path:
    """Build the template now if there is none (`make` does, once per install: the first
    server of a new home then starts from it too). Returns its path."""
    template = template_file()
    if template.exists():
        return template
    template.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    scratch = template.with_name(f".{template.stem}.{os.getpid()}.scratch.db")
    os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{scratch}"
    try:
        _migrate(scratch)
    finally:
        for leftover in scratch.parent.glob(scratch.name + "*"):
            leftover.unlink()
    return template


def _prepare_database() -> None:
    """Before serving: start a new SQLite database from the template or migrate it, note
    it, and tell Prefect's start-up not to check again. Another database, or a user who set
    *_DATABASE_MIGRATE_ON_START, is left to Prefect's start-up, as it would be anyway."""
    marker = _migrated_marker()
    if marker is None or _user_decides_migration():
        return
    if not _migrated_already(marker):
        database = marker.with_name(marker.name.removesuffix(MIGRATED))
        if started_from_template(database):
            print(f"innsyn: {database} started as a copy of the migrated {template_file()}", flush=True)
        else:
            _migrate(database)
        marker.write_text(_migration_key(marker))
    os.environ["PREFECT_API_DATABASE_MIGRATE_ON_START"] = "false"


def main() -> None:
    from innsyn.private import owner_only_by_default, private_prefect_home, prefect_home

    owner_only_by_default()
    private_prefect_home()
    # IPPROTO_TCP named, not left 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # sockets that say they are TCP. With it on, every answer of the API (headers, then body)
    # waited for the client's delayed acknowledgement: 40 ms a request, five to six requests
    # of a one-school command. The accepted sockets inherit TCP_NODELAY from the listener too.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(os.environ.get("INNSYN_PREFECT_PORT") or 0)))
    port = listener.getsockname()[1]
    api_url = f"http://127.0.0.1:{port}/api"
    # the UI asks the API at this address; the server's own clients too
    os.environ.update(PREFECT_API_URL=api_url, PREFECT_SERVER_API_HOST="127.0.0.1", PREFECT_SERVER_API_PORT=str(port),
                      PREFECT_SERVER_ANALYTICS_ENABLED="false")
    idle = paths.idle_seconds()
    paths.write_state(paths.server_file("json"), {
        "pid": os.getpid(), "api_url": api_url, "ui_url": f"http://127.0.0.1:{port}",
        "prefect_home": str(prefect_home()), "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "idle_timeout_seconds": idle, "log": str(paths.server_file("log")),
        "stops": "when no innsyn service or command used it for the idle timeout, or with `innsyn stop`"})
    print(f"innsyn: Prefect server for {os.environ.get('USER', 'this user')} at {api_url}", flush=True)
    threading.Thread(target=_stop_when_unused, args=(api_url, idle), daemon=True).start()
    try:
        _prepare_database()
        import uvicorn
        from prefect.server.api.server import create_app

        config = uvicorn.Config(app=create_app(final=True), log_level="warning", lifespan="on")
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        _forget_state()


if __name__ == "__main__":
    if sys.argv[1:] == ["--keep-migrated-empty-database"]:
        print(f"innsyn: a migrated empty Prefect database is kept in {keep_migrated_empty_database()}")
    else:
        main()
