"""A warm `innsyn`: commands answered inside a process that has everything loaded.

A case handler who types `innsyn process request.json` for one class waits for a fresh Python
to import Prefect (over a second), WeasyPrint and its fonts (another half second) and to open
two flow runs, before a single pupil is screened. The warm worker has all of that loaded
already. It listens on a Unix socket that only its own user can open, one per database, in
one of two processes: `innsyn serve` (beside its deployments), or the background service the
CLI starts itself (innsyn.service.daemon), which stops after a while without commands.

The command hands the worker its parsed command line (ids, names and paths) and prints the
worker's answer. The worker runs the command as `innsyn` would run it alone: its input
checks first (bad input: exit 2, nothing written, no flow run), then the same flow run,
reported to the same Prefect server, in the case handler's name, on one connection to the
database (innsyn.db.one_connection), closed before the answer goes. What the worker answers:
`process` (a one-school request) and `review approve|release|withhold|confirm` (of a
one-school case), plus `status` and `stop` (the background service only).

The worker declines, and the command runs alone as before, when it runs under another clock
(INNSYN_NOW, SOURCE_DATE_EPOCH), another Prefect API than the command asks for, or other code
than the command's (a background service that is stale also stops, so the next command
starts a fresh one).

The protocol is one JSON line each way, and one more from the worker: `accepted` (or
`declined`) once the checks pass and the work starts, then `result` or `error`. A command that loses
the connection before `accepted` may try again; after it, the run was under way.
Only ids and paths cross the socket: the request's path, the database, output folder and
policy paths, case and item ids, the acting user's and reviewer's names; back come the case
id, status, counts and paths, and the command's own stderr lines (the same lines it prints
when it runs alone).
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import io
import json
import os
import socket
import socketserver
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from innsyn.service.paths import USE_SERVICE, code_fingerprint, private_folder, socket_path  # noqa: F401

#: The commands a worker runs, by the name the client sends.
WORK_COMMANDS = ("process", "review approve", "review release", "review withhold", "review confirm")


class ServiceFailed(Exception):
    """The service took the command and failed: its one-line reason (no personal data)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def clock() -> list[str | None]:
    """What fixes the dates in a case and its PDFs: a fixed clock, the PDFs' fallback date."""
    # the default a render sets; from innsyn.clock, since importing innsyn.render costs 40 ms
    from innsyn.clock import SOURCE_DATE_EPOCH

    return [os.environ.get("INNSYN_NOW"), os.environ.get("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)]


# ----------------------------------------------------------------------------- the worker


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        if _peer_uid(self.connection) != os.getuid():
            return  # the folder is private already; a socket passed on by its owner is not enough
        line = self.rfile.readline()
        if not line:
            return
        self.server.handle_message(json.loads(line), self._reply)

    def _reply(self, message: dict) -> None:
        self.wfile.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
        self.wfile.flush()


def _peer_uid(connection: socket.socket) -> int:
    import struct

    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return uid


class WarmWorker(socketserver.UnixStreamServer):
    """Answers one command at a time (DuckDB takes one writer), in a thread of its process.

    `kind` is "serve" (inside `innsyn serve`: runs until it stops) or "background" (the
    CLI's service: stops after `idle_timeout` seconds without a command, or on `stop`)."""

    request_queue_size = 64  # many commands at once wait their turn instead of being refused

    def __init__(self, db: Path, *, kind: str = "serve", idle_timeout: float | None = None):
        self.db = Path(db).resolve()
        self.path = socket_path(self.db)
        if not private_folder(self.path.parent, create=True):
            raise RuntimeError(f"{self.path.parent} is not private to this user: not listening there")
        self.kind = kind
        self.idle_timeout = idle_timeout
        self.answered = 0
        self.busy = False
        self.api_url: str | None = None
        self.fingerprint = code_fingerprint()
        self.started_at = datetime.now(timezone.utc)
        self._last_active = time.monotonic()
        self._started = False
        self._closed = False
        self._stopping = threading.Event()
        self._stop_lock = threading.Lock()
        self._inode: int | None = None
        super().__init__(str(self.path), _Handler, bind_and_activate=False)

    def server_bind(self) -> None:
        if listening(self.path):
            raise RuntimeError(f"another `innsyn serve` already answers requests for {self.db} (or the background "
                               "innsyn service: `innsyn status`)")
        self.path.unlink(missing_ok=True)  # left by a service that died
        super().server_bind()
        os.chmod(self.path, 0o600)
        self._inode = os.stat(self.path).st_ino  # ours to remove; a later service's socket is not

    # ------------------------------------------------------------------------- messages

    def handle_message(self, message: dict, reply) -> None:
        command = message.get("command", "process")
        if command == "status":
            reply(self.status())
        elif command == "stop":
            if self.kind != "background":
                reply({"declined": "`innsyn serve` stops with Ctrl-C or SIGTERM, not `innsyn stop`"})
                return
            reply({"stopping": os.getpid()})
            self.stop_soon("stopped by `innsyn stop`")
        elif command in WORK_COMMANDS:
            declined = self._declined(message)
            if declined:
                stale = declined == "other code" and self.kind == "background"
                reply({"declined": declined, "stale": stale})
                if stale:
                    self.stop_soon("the installed code changed")
                return
            self.run(message, reply)
        else:
            reply({"error": f"unknown command {command!r}", "exit_code": 2})

    def _declined(self, message: dict) -> str | None:
        if Path(message.get("db", "")) != self.db:
            return "another database"
        if message.get("clock") != clock():
            return "another clock"
        if message.get("fingerprint") != self.fingerprint:
            return "other code"
        wanted = message.get("api_url")
        if wanted and self.api_url and wanted.rstrip("/") != self.api_url.rstrip("/"):
            return "another Prefect API"
        return None

    def run(self, message: dict, reply) -> None:
        """A command line as it was typed (innsyn.service.client): the command's own checks,
        then its work, as `innsyn` would do them in its own process.

        `accepted` goes once the checks pass and the work starts, or with the answer of a
        check that failed (exit 2); a command the service should not run (several schools)
        is declined before that, and runs in the command's own process."""
        from innsyn import cases, commands
        from innsyn.request import BadInput
        from innsyn.service import client

        self.busy = True
        self._last_active = time.monotonic()
        said = io.StringIO()
        accepted = []

        def accept() -> None:
            if not accepted:
                accepted.append(True)
                reply({"accepted": os.getpid()})

        try:
            name, source = message["actor"]
            args = {key: value for key, value in dict(message["args"]).items() if key not in ("db", "out")}
            for key in message.get("path_keys") or ():
                args[key] = Path(args[key]) if args.get(key) is not None else None
            try:
                if client.command_of(argparse.Namespace(**args)) != message["command"]:
                    # the words in the command line decide what runs: they must be the ones declared
                    raise BadInput(f"the command line is not `innsyn {message['command']}`")
                actor = cases.check_actor_name(str(name), str(source))
                with cases.acting_as(actor), contextlib.redirect_stderr(said), client.answering_here(accept), \
                        self._one_connection():
                    result = commands.run(argparse.Namespace(**args), db=self.db, out=Path(message["out"]))
                answer = {"result": result, "pid": os.getpid(), "kind": self.kind, "stderr": said.getvalue()}
            except client.Declined as why:
                if not accepted:
                    reply({"declined": str(why)})
                    return
                answer = {"error": f"the service stopped the command: {why}", "exit_code": 1}
            except (BadInput, *commands.USER_ERRORS) as error:
                answer = {"error": str(error), "exit_code": 2, "stderr": said.getvalue()}
            except Exception as error:  # noqa: BLE001 - the client prints it as its own one-line failure
                answer = {"error": f"{type(error).__name__}: {error}", "exit_code": 1, "stderr": said.getvalue()}
            self.answered += 1
            accept()
            reply(answer)
        finally:
            self.busy = False
            self._last_active = time.monotonic()

    def _one_connection(self):
        """The command's checks and its flow run share one connection (innsyn.db); none when
        the database is gone (the command's own check says so)."""
        from innsyn.db import one_connection

        return one_connection(self.db) if self.db.exists() else contextlib.nullcontext()

    def status(self) -> dict:
        return {"kind": self.kind, "pid": os.getpid(), "db": str(self.db), "socket": str(self.path),
                "api_url": self.api_url, "started_at": self.started_at.isoformat(timespec="seconds"),
                "answered": self.answered, "busy": self.busy,
                "idle_for_seconds": round(time.monotonic() - self._last_active, 1),
                "idle_timeout_seconds": self.idle_timeout}

    def handle_error(self, request, client_address) -> None:
        """One line, not a traceback: a client that left before its answer is no fault of ours."""
        error = sys.exc_info()[1]
        print(f"innsyn: warning: a request over the socket ended early ({type(error).__name__})",
              file=sys.stderr, flush=True)

    # ------------------------------------------------------------------------- life

    def start(self) -> WarmWorker:
        """Bind, warm up, and answer in a daemon thread that keeps the caller's Prefect settings."""
        from prefect.settings import PREFECT_API_URL

        self.server_bind()
        self.server_activate()
        self.api_url = PREFECT_API_URL.value() or None
        _warm_up()
        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(self._serve_one_school_runs,), name="innsyn-warm-worker",
                         daemon=True).start()
        self._started = True
        if self.idle_timeout:
            threading.Thread(target=self._stop_when_idle, name="innsyn-idle-stop", daemon=True).start()
        self._last_active = time.monotonic()
        return self

    def _serve_one_school_runs(self) -> None:
        """Answer commands under the settings of a one-school flow run (innsyn.commands.
        foreground_run) and with one Prefect client, made once: not again for every command
        (a client loads the system's certificate bundle, a twentieth of a second, even for a
        server on loopback; its connection to the server stays open between commands)."""
        from prefect.context import SyncClientContext

        from innsyn.commands import foreground_run

        with foreground_run(1), SyncClientContext.get_or_create():
            self.serve_forever()

    def _stop_when_idle(self) -> None:
        tick = max(0.2, min(5.0, self.idle_timeout / 10))
        while not self._stopping.wait(tick):
            if not self.busy and time.monotonic() - self._last_active > self.idle_timeout:
                self.stop_soon(f"idle for {self.idle_timeout:g} s")

    def stop_soon(self, why: str) -> None:
        """Stop from any thread, the worker's own included: no new command is taken."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        print(f"innsyn: the service stops: {why}", file=sys.stderr, flush=True)
        threading.Thread(target=self.stop, name="innsyn-stop", daemon=True).start()

    def stopped(self, timeout: float | None = None) -> bool:
        """Wait until a stop was asked for (the background service's main thread waits here)."""
        return self._stopping.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        with self._stop_lock:  # from the idle thread, a signal and the main thread at once: once
            if self._closed:
                return
            self._closed = True
            # the socket goes first: a command that comes now finds no service and starts one
            with contextlib.suppress(OSError):
                if os.stat(self.path).st_ino == self._inode:
                    self.path.unlink()
            if self._started:
                self.shutdown()  # waits for the command in hand, if any
            self.server_close()


def listening(path: Path) -> bool:
    """Whether a service answers on the socket at `path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


#: Every face the answer and the review copy use (serif and sans, bold, italic, condensed, the
#: small margin boxes), so the first request does not load them.
WARM_UP_HTML = """<html data-etat="Utdanningsetaten"><body data-saksnr="0">
<h1 class="brevtittel">Svar på innsynskrav</h1><p>Æ ø å <b>fet</b> <i>kursiv</i> <b><i>begge</i></b></p>
<section class="klasseside"><h2 class="klassetittel">Klasseliste 1A – Skole</h2>
<table class="klasseliste"><thead><tr><th>Elev</th><th>E-post</th></tr></thead>
<tbody class="elev"><tr><td>Åse Sæther</td><td><b>Unntatt</b> · <i>offl. § 13</i></td></tr></tbody>
</table></section><p>side 2</p></body></html>"""


def warm_up() -> None:
    """Import the flows, compile the templates, and load WeasyPrint's fonts and stylesheets by
    rendering a page in each stylesheet. Once per process."""
    import gc

    global _warm
    if _warm:
        return

    from innsyn import leak_gate, process_request, render_answer, review  # noqa: F401 - all they import
    from innsyn import render

    for template in ("svar/svar.html", "intern/intern.html"):
        render.environment().get_template(template)
    html_class, fonts, stylesheets = render._weasy()
    for sheet in ("svar", "intern"):
        html_class(string=WARM_UP_HTML, base_url=str(render.TEMPLATES_DIR), url_fetcher=render._local_fetcher) \
            .render(stylesheets=[stylesheets[sheet]], font_config=fonts).write_pdf(pdf_variant=render.PDF_VARIANT)
    # what is loaded now stays for the life of the service: keep the collector off it
    gc.collect()
    gc.freeze()
    _warm = True


_warm = False
_warm_up = warm_up
