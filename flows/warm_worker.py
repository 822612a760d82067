"""A warm `innsyn process`: one-school requests answered inside the running `innsyn serve`.

A case handler who types `innsyn process request.json` for one class waits for a fresh Python
to import Prefect (over a second), WeasyPrint and its fonts (another half second) and to open
two flow runs, before a single pupil is screened. `innsyn serve` has all of that loaded
already. While it runs, it listens on a Unix socket that only its own user can open;
`innsyn process` checks the request as it always does (before anything is written), hands
the request's path to the service, and prints the service's answer. The work is the same
`process-request` flow run, reported to the same Prefect server, in the case handler's name.

`innsyn process` runs the flow itself, as before, when no service runs for its database, when
the service runs under another clock (INNSYN_NOW, SOURCE_DATE_EPOCH), for a bulk request (minutes on every core:
the service's process would gain nothing), and when INNSYN_USE_SERVICE=0.

Only ids and paths cross the socket: the request's path, the database, output folder and
policy paths, the acting user's name; back come the case id, status, counts and paths.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import socket
import socketserver
import stat
import sys
import tempfile
import threading
from pathlib import Path

#: Set to 0 to run every `innsyn process` in its own process, even beside a running service.
USE_SERVICE = "INNSYN_USE_SERVICE"


class ServiceFailed(Exception):
    """The service took the request and failed: its one-line reason (no personal data)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def socket_path(db: Path) -> Path:
    """Where the service for `db` listens: a folder of this user's, one socket per database.

    Named by a hash of the database's absolute path: a Unix socket's path must stay under
    108 bytes, a database's path need not."""
    digest = hashlib.sha256(str(Path(db).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"innsyn-{os.getuid()}" / f"{digest}.sock"


def _private_folder(folder: Path, *, create: bool) -> bool:
    """True when `folder` is this user's alone (created so if asked): nobody else may plant
    or reach a socket in it."""
    if create:
        folder.mkdir(mode=0o700, exist_ok=True)
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


# ----------------------------------------------------------------------------- the client


def submit(request: Path, *, db: Path, out: Path, policy: Path | None, actor: str) -> dict | None:
    """Ask the running service to process `request`; None when there is none to ask (or it
    declines), and the caller runs the flow itself."""
    if os.environ.get(USE_SERVICE, "1") == "0":
        return None
    path = socket_path(db)
    if not _private_folder(path.parent, create=False):
        return None
    message = {
        "request": str(Path(request).resolve()), "db": str(Path(db).resolve()), "out": str(Path(out).resolve()),
        "policy": str(Path(policy).resolve()) if policy else None, "actor": actor,
        "clock": _clock(),
    }
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        try:
            connection.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            return None  # no service, or one that died and left its socket behind
        connection.sendall(json.dumps(message).encode() + b"\n")
        with connection.makefile("rb") as replies:
            line = replies.readline()
    if not line:
        raise ServiceFailed("the innsyn service stopped while processing the request: run `innsyn process` again")
    reply = json.loads(line)
    if "declined" in reply:
        return None
    if "error" in reply:
        raise ServiceFailed(reply["error"], reply.get("exit_code", 1))
    print(f"innsyn: processed by the running `innsyn serve` (pid {reply['pid']})", file=sys.stderr)
    return reply["result"]


def _clock() -> list[str | None]:
    """What fixes the dates in a case and its PDFs: a fixed clock, the PDFs' fallback date."""
    # the default a render sets; from innsyn.clock, since importing innsyn.render costs 40 ms
    from innsyn.clock import SOURCE_DATE_EPOCH

    return [os.environ.get("INNSYN_NOW"), os.environ.get("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)]


# ----------------------------------------------------------------------------- the service


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        if _peer_uid(self.connection) != os.getuid():
            return  # the folder is private already; a socket passed on by its owner is not enough
        line = self.rfile.readline()
        if not line:
            return
        reply = self.server.answer(json.loads(line))
        self.wfile.write(json.dumps(reply).encode() + b"\n")


def _peer_uid(connection: socket.socket) -> int:
    import struct

    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return uid


class WarmWorker(socketserver.UnixStreamServer):
    """Answers one request at a time (DuckDB takes one writer), in a thread of the service."""

    def __init__(self, db: Path):
        self.db = Path(db).resolve()
        self.path = socket_path(self.db)
        if not _private_folder(self.path.parent, create=True):
            raise RuntimeError(f"{self.path.parent} is not private to this user: not listening there")
        self.answered = 0
        self._started = False
        super().__init__(str(self.path), _Handler, bind_and_activate=False)

    def server_bind(self) -> None:
        if listening(self.path):
            raise RuntimeError(f"another `innsyn serve` already answers requests for {self.db}")
        self.path.unlink(missing_ok=True)  # left by a service that died
        super().server_bind()
        os.chmod(self.path, 0o600)

    def answer(self, message: dict) -> dict:
        from innsyn.commands import USER_ERRORS, foreground_run
        from innsyn.config import RunConfig
        from innsyn.process_request import process_request
        from innsyn.request import BadInput

        if Path(message["db"]) != self.db:
            return {"declined": "another database"}
        if message.get("clock") != _clock():
            return {"declined": "another clock"}
        from innsyn.cases import check_actor_name

        try:
            # the client checked the name already; the service does not take it on trust
            actor = check_actor_name(str(message["actor"]), "INNSYN_USER")
            config = RunConfig(db=str(self.db), out=message["out"], policy=message["policy"], actor=actor)
            with foreground_run(1):
                result = process_request(message["request"], config)
        except (BadInput, *USER_ERRORS) as error:
            return {"error": str(error), "exit_code": 2}
        except Exception as error:  # noqa: BLE001 - the client prints it as its own one-line failure
            return {"error": f"{type(error).__name__}: {error}"}
        finally:
            self.answered += 1
        return {"result": result.model_dump(), "pid": os.getpid()}

    def handle_error(self, request, client_address) -> None:
        """One line, not a traceback: a client that left before its answer is no fault of ours."""
        error = sys.exc_info()[1]
        print(f"innsyn: warning: a request over the socket ended early ({type(error).__name__})",
              file=sys.stderr, flush=True)

    def start(self) -> WarmWorker:
        """Bind, warm up, and answer in a daemon thread that keeps the caller's Prefect settings."""
        self.server_bind()
        self.server_activate()
        _warm_up()
        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(self.serve_forever,), name="innsyn-warm-worker",
                         daemon=True).start()
        self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self.shutdown()  # waits for the request in hand, if any
        self.server_close()
        self.path.unlink(missing_ok=True)


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


def _warm_up() -> None:
    """Import the flow, compile the templates, and load WeasyPrint's fonts and stylesheets by
    rendering a page in each stylesheet."""
    import gc

    from innsyn import leak_gate, process_request  # noqa: F401 - the flow and all it imports
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
