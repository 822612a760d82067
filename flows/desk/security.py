"""What every desk response and form carries: a signed session, a CSRF token, strict headers.

- The session is a cookie signed with a secret kept in the database (Starlette's
  SessionMiddleware, itsdangerous): it holds a session id (a row of `desk_sessions`, removed
  at sign-out, so a copied cookie is worth nothing afterwards) and the CSRF token, never a
  role (read from the database on every request, so a changed role counts at once) and never
  personal data. HttpOnly, SameSite=Strict, Secure when the operator says TLS is in front.
- Every form carries the session's CSRF token and every POST is refused (403) without it.
- Every response says `Cache-Control: no-store` (pages show personal data; a shared office
  computer's browser cache must not keep them), a Content-Security-Policy that allows this
  origin's own styles only and no script at all, and no framing, sniffing or referrers.
- The access log names method, path and status only: paths carry case and item ids, never
  a name, and the query string (filters) is left out.
"""

from __future__ import annotations

import hmac
import logging
import secrets

import duckdb
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innsyn.db import transaction

CSRF_FIELD = "csrf"
SESSION_COOKIE = "innsyn_desk"
SESSION_MAX_AGE = 8 * 3600  # a working day: the cookie's signature expires with it

CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                           "frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "cache-control": "no-store",
    "pragma": "no-cache",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}

access_log = logging.getLogger("innsyn.desk.access")


def session_secret(con: duckdb.DuckDBPyConnection) -> str:
    """The key that signs session cookies: made once per database and kept in it, so a restart
    keeps people signed in and two databases never accept each other's cookies."""
    row = con.execute("SELECT value FROM desk_secrets WHERE name = 'session_key'").fetchone()
    if row:
        return row[0]
    key = secrets.token_hex(32)
    with transaction(con):
        con.execute("INSERT INTO desk_secrets VALUES ('session_key', ?) ON CONFLICT DO NOTHING", [key])
    return con.execute("SELECT value FROM desk_secrets WHERE name = 'session_key'").fetchone()[0]


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use): printed into every form."""
    token = request.session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def csrf_ok(request: Request, form) -> bool:
    expected = request.session.get(CSRF_FIELD)
    given = form.get(CSRF_FIELD)
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(expected, given)


class SecurityHeaders:
    """Pure ASGI middleware: the headers above on every response, and one access-log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name.encode(), value.encode()) for name, value in HEADERS.items()
                         if name.encode() not in present]
                message["headers"] = list(message.get("headers", [])) + extra
                access_log.info("%s %s %s", scope["method"], scope["path"], message["status"])
            await send(message)

        await self.app(scope, receive, send_with_headers)
