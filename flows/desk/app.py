"""The desk as an ASGI application: `create_app(settings)` builds it, `run_desk(settings)` serves it.

`create_app` is pure (no server, no thread): another process (a test, a background service)
may host it as it likes. `run_desk` runs it in the foreground with uvicorn, bound to
loopback unless told otherwise, without uvicorn's access log (ours logs paths with ids only).
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware

from innsyn.db import init_schema, open_db

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


@dataclass(frozen=True)
class DeskSettings:
    """Where the desk works and how it is reached. `secure_cookies`: the operator runs it
    behind TLS (a reverse proxy), so the session cookie is sent over HTTPS only."""

    db: Path
    out: Path
    policy: Path | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    secure_cookies: bool = False
    target_days: int | None = None
    extra: dict = field(default_factory=dict)


def create_app(settings: DeskSettings) -> Starlette:
    from innsyn.desk import security, views

    with open_db(settings.db) as con:
        init_schema(con)  # the desk's tables, on a database made before them
        secret = security.session_secret(con)
    app = Starlette(
        routes=views.routes(),
        middleware=[
            Middleware(security.SecurityHeaders),
            Middleware(SessionMiddleware, secret_key=secret, session_cookie=security.SESSION_COOKIE,
                       max_age=security.SESSION_MAX_AGE, same_site="strict", https_only=settings.secure_cookies),
        ],
        exception_handlers=views.exception_handlers(),
    )
    app.state.settings = settings
    return app


def warm_up() -> None:
    """Import Prefect, the flows and WeasyPrint with its fonts while nobody waits: the first
    request registered at the desk is then as quick as the tenth (a cold import is 1.5-2 s)."""
    import innsyn.process_request  # noqa: F401  (Prefect, the flows)
    from innsyn import render

    render.environment()
    render._weasy()


def run_desk(settings: DeskSettings) -> None:
    """Serve the desk until Ctrl-C / SIGTERM."""
    import uvicorn

    from innsyn.serve import is_loopback  # the service's own rule for what is this machine only

    if not is_loopback(settings.host):
        print(f"innsyn: warning: the desk listens on {settings.host}, not on loopback: TLS and a reverse proxy "
              "in front of it are your job (see README, \"The case desk\")", file=sys.stderr)
    # The desk is a warm, long-running process itself: its commands run here, in its own flow
    # runs, rather than being handed to a background service (innsyn.service) that would hold
    # the same DuckDB file from a second process.
    os.environ.setdefault("INNSYN_USE_SERVICE", "0")
    app = create_app(settings)
    threading.Thread(target=warm_up, name="innsyn-desk-warm-up", daemon=True).start()
    print(f"innsyn: the case desk is at http://{settings.host}:{settings.port}/ (Ctrl-C stops it)", file=sys.stderr)

    class DeskServer(uvicorn.Server):
        """uvicorn's server, but Ctrl-C or SIGTERM ends `innsyn desk` normally: uvicorn would
        raise the signal again after its graceful shutdown, and the command would die of it
        instead of printing its JSON, as `innsyn serve` does."""

        def handle_exit(self, sig, frame) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

    config = uvicorn.Config(app, host=settings.host, port=settings.port, access_log=False, log_level="warning",
                            server_header=False, proxy_headers=False)
    DeskServer(config).run()
