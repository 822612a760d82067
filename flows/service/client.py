"""The command's side: hand a checked command to the service for its database, starting the
service if none runs; and `innsyn status` / `innsyn stop`.

Imports nothing heavy (no Prefect, no WeasyPrint): it runs in every `innsyn` command. When
the service cannot take the command (switched off, declined, failed to start), `run` returns
None and the command runs in its own process, as it always could.

Two ways in, with the same message: the parsed command line. `hand_over` is the fast one: a
command that finds a service listening sends it at once, and the service checks the input
(the same checks, the same one-line answers, exit 2) and runs it, so the command itself
imports neither DuckDB, pydantic nor Prefect (a fifth of a second of a warm command). `run`
is the way of a command that checked its input itself (the first after boot, which starts
the service; the case desk): the service checks it again, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from innsyn.service import paths
from innsyn.warm_worker import ServiceFailed, clock, listening

#: How long a command waits for a service it started to listen (a first start after boot
#: starts the Prefect server too; a loaded machine is slow).
START_TIMEOUT = "INNSYN_SERVICE_START_TIMEOUT"
DAEMON_MARKER = "innsyn.service.daemon"
SERVER_MARKER = "innsyn.service.prefect_server"


#: The commands the service runs, by their words on the command line.
COMMANDS = {("process",): "process", ("review", "approve"): "review approve",
            ("review", "release"): "review release", ("review", "withhold"): "review withhold",
            ("review", "confirm"): "review confirm"}


class Declined(Exception):
    """Raised inside the service by a command it should not run (a request for several
    schools renders on every core of the command's own process): the command runs itself."""


#: Inside the service, while it runs a command: called once the input is checked and the
#: work starts (it tells the command the service took it).
_accept: ContextVar[Callable[[], None] | None] = ContextVar("innsyn_service_accept", default=None)


@contextmanager
def answering_here(accept: Callable[[], None]) -> Iterator[None]:
    """The service runs a command: `run` takes it here, and `inside()` is True."""
    token = _accept.set(accept)
    try:
        yield
    finally:
        _accept.reset(token)


def inside() -> bool:
    """Whether this command runs inside the service."""
    return _accept.get() is not None


def hand_over(args: argparse.Namespace, db: Path, out: Path) -> dict | None:
    """The fast way: the parsed command line to a service that listens already, which checks
    and runs it; None when the command runs itself (no service, or it declined)."""
    if command_of(args) is None or paths.use_service() == "no" or not listening(paths.socket_path(db)):
        return None
    reply = _send(paths.socket_path(db), _message(args, db, out, _login_name()))
    if reply is None or "declined" in reply:
        return None  # a stale service, another clock or API, several schools: the command's own way
    return _answered(reply["answer"])


def run(args: argparse.Namespace, *, db: Path, out: Path, actor: str) -> dict | None:
    """A command that checked its input: its result from the service, started if none runs;
    None when the command runs itself. Inside the service: the work starts here (None)."""
    accept = _accept.get()
    if accept is not None:
        accept()
        return None
    mode = paths.use_service()
    if mode == "no":
        return None
    message = _message(args, db, out, (actor, "INNSYN_USER"))
    for _attempt in range(3):
        if not listening(paths.socket_path(db)):
            if mode != "yes" or not _start(Path(db)):
                return None
        reply = _send(paths.socket_path(db), message)
        if reply is None:
            continue  # the service went away before it took the command (idle stop): again
        if "declined" in reply:
            if reply.get("stale"):
                _wait_gone(paths.socket_path(db), 30)
                continue  # it stops; the next attempt starts one from today's code
            return None
        return _answered(reply["answer"])
    return None


def command_of(args: argparse.Namespace) -> str | None:
    """`process`, `review approve`, ...: the command the service runs, from its command line."""
    return COMMANDS.get(tuple(word for word in (getattr(args, "command", None), getattr(args, "review_command", None))
                              if word))


def _message(args: argparse.Namespace, db: Path, out: Path, actor: tuple[str, str]) -> dict:
    """The command line as the service needs it: paths absolute (it runs elsewhere), ids and
    names as typed; the clock, Prefect API and code it must share with the command."""
    given = {key: value for key, value in vars(args).items() if key not in ("db", "out")}
    return {
        "command": command_of(args),
        "args": {key: str(Path(value).absolute()) if isinstance(value, Path) else value for key, value in given.items()},
        "path_keys": [key for key, value in given.items() if isinstance(value, Path)],
        "db": str(Path(db).resolve()), "out": str(Path(out).resolve()), "actor": list(actor),
        "clock": clock(), "api_url": os.environ.get("PREFECT_API_URL") or None,
        "fingerprint": paths.code_fingerprint(),
    }


def _login_name() -> tuple[str, str]:
    """Who acts, and what said so (the service checks the name as the command would)."""
    import getpass

    if os.environ.get("INNSYN_USER"):
        return os.environ["INNSYN_USER"], "INNSYN_USER"
    return getpass.getuser(), "the login name"


def _answered(answer: dict) -> dict:
    sys.stderr.write(answer.get("stderr") or "")
    if "error" in answer:
        raise ServiceFailed(answer["error"], answer.get("exit_code", 1))
    by = "the running `innsyn serve`" if answer.get("kind") == "serve" else "the background innsyn service"
    print(f"innsyn: processed by {by} (pid {answer['pid']})", file=sys.stderr)
    return answer["result"]


def _send(path: Path, message: dict) -> dict | None:
    """{"declined": ...} or {"answer": ...}; None when nobody took the command."""
    if not paths.private_folder(path.parent, create=False):
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        try:
            connection.connect(str(path))
            connection.sendall(json.dumps(message, ensure_ascii=False).encode() + b"\n")
        except OSError:
            return None  # no service, or one that died or stops and left its socket behind
        with connection.makefile("rb") as replies:
            try:
                first = replies.readline()
            except OSError:
                first = b""
            if not first:
                return None
            taken = json.loads(first)
            if "declined" in taken:
                return taken
            try:
                line = replies.readline()
            except OSError:
                line = b""
    if not line:
        raise ServiceFailed("the innsyn service stopped while it ran the command: run the command again "
                            "(`innsyn status`; its log is in " + str(path.with_suffix(".log")) + ")")
    return {"answer": json.loads(line)}


# ----------------------------------------------------------------------------- starting


def _start(db: Path) -> bool:
    """Start the service for `db` in the background and wait until it listens; False (after a
    one-line warning) when it did not come up, and the command runs itself."""
    folder = paths.service_dir()
    if not paths.private_folder(folder, create=True):
        print(f"innsyn: warning: {folder} is not private to this user: no background service", file=sys.stderr)
        return False
    sock = paths.socket_path(db)
    with paths.exclusive(paths.lock_path(db)):  # one command at a time starts a service
        if listening(sock):
            return True  # another command started it meanwhile
        log = paths.log_path(db)
        import subprocess  # here: a command handed over never starts one

        with open(log, "wb") as output:
            os.chmod(log, 0o600)
            daemon = subprocess.Popen(
                [sys.executable, "-m", DAEMON_MARKER, "--db", str(Path(db).resolve())],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                cwd=str(Path(db).resolve().parent), env=os.environ.copy())
        print(f"innsyn: starting the innsyn service for {Path(db).resolve()} (pid {daemon.pid}; "
              "`innsyn status`, `innsyn stop`)", file=sys.stderr, flush=True)
        deadline = time.monotonic() + float(os.environ.get(START_TIMEOUT) or 300)
        while time.monotonic() < deadline:
            if listening(sock):
                return True
            if daemon.poll() is not None:
                break
            time.sleep(0.02)
        else:
            daemon.terminate()
        reason = _last_line(log) or "it did not start in time"
        print(f"innsyn: warning: the innsyn service did not start ({reason}): running here", file=sys.stderr)
        return False


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:200] if lines else ""


def _wait_exited(pid: int, marker: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while paths.alive(pid, marker) and time.monotonic() < deadline:
        time.sleep(0.05)


def _wait_gone(sock: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while listening(sock) and time.monotonic() < deadline:
        time.sleep(0.05)


# ----------------------------------------------------------------------------- status and stop


def _ask(sock: Path, command: str) -> dict | None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(10)
        try:
            connection.connect(str(sock))
            connection.sendall(json.dumps({"command": command}).encode() + b"\n")
            with connection.makefile("rb") as replies:
                line = replies.readline()
        except OSError:
            return None
    return json.loads(line) if line else None


def status() -> dict:
    """What runs in the background for this user: `innsyn status`."""
    folder = paths.service_dir()
    services = []
    if paths.private_folder(folder, create=False):
        for sock in sorted(folder.glob("*.sock")):
            answer = _ask(sock, "status")
            if answer is None:
                continue  # left by a service that died
            answer["log"] = str(sock.with_suffix(".log")) if answer.get("kind") == "background" else None
            services.append(answer)
    server = paths.read_state(paths.server_file("json"))
    if server and not paths.alive(server.get("pid"), SERVER_MARKER):
        server = None
    if server:
        from innsyn.service.prefect_server import commands_using

        server["commands"] = commands_using(server.get("api_url"))  # bulk cases running in it now
    return {"service_dir": str(folder), "use_service": paths.use_service(),
            "idle_timeout_seconds": paths.idle_seconds(), "services": services, "prefect_server": server}


def stop() -> dict:
    """Stop this user's background services and the Prefect server they started: `innsyn stop`.

    `innsyn serve` is not stopped: it runs in front of someone (Ctrl-C or SIGTERM)."""
    folder = paths.service_dir()
    stopped, left = [], []
    if paths.private_folder(folder, create=False):
        for sock in sorted(folder.glob("*.sock")):
            answer = _ask(sock, "stop")
            if answer and "stopping" in answer:
                _wait_exited(answer["stopping"], DAEMON_MARKER, 120)
                stopped.append({"kind": "background", "pid": answer["stopping"], "socket": str(sock)})
            elif answer and "declined" in answer:
                left.append({"kind": "serve", "socket": str(sock), "why": answer["declined"]})
        for state_file in folder.glob("*.json"):  # a service that does not answer: by its pid
            state = paths.read_state(state_file) or {}
            pid = state.get("pid")
            if state_file.name == paths.server_file("json").name or pid in {s["pid"] for s in stopped}:
                continue
            if paths.alive(pid, DAEMON_MARKER):
                os.kill(pid, signal.SIGTERM)
                _wait_exited(pid, DAEMON_MARKER, 120)
                stopped.append({"kind": "background", "pid": pid, "socket": state.get("socket")})
    server = stop_prefect_server()
    if server:
        stopped.append(server)
    return {"stopped": stopped, "left_running": left}


def stop_prefect_server(timeout: float = 60) -> dict | None:
    state = paths.read_state(paths.server_file("json"))
    if not state or not paths.alive(state.get("pid"), SERVER_MARKER):
        return None
    os.kill(state["pid"], signal.SIGTERM)
    _wait_exited(state["pid"], SERVER_MARKER, timeout)
    return {"kind": "prefect-server", "pid": state["pid"], "api_url": state.get("api_url")}
