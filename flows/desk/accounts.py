"""Local desk accounts: who may sign in, with which role, and when they are locked out.

A password is stored only as an Argon2id hash (argon2-cffi, the maintained binding of the
Password Hashing Competition's winner). After `MAX_FAILURES` wrong passwords in a row an
account is locked for `LOCKOUT` (wall-clock time, not the test clock: a fixed INNSYN_NOW must
not lock an account for ever or never). A sign-in with an unknown name costs as much as one
with a wrong password, so the answer's timing does not tell which names exist.

Roles: a `handler` registers requests and follows cases; a `reviewer` also decides
redactions, confirms a colleague's release and approves; an `admin` may do all of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from innsyn import cases
from innsyn.db import transaction
from innsyn.request import BadInput

ROLES = ("handler", "reviewer", "admin")
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10
#: An account name is a login name: letters, digits and a few separators, so it is safe in an
#: event's actor column, a log line and a form, and never mistaken for another person's.
ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")

_hasher = PasswordHasher()
#: Verified against when the name is unknown: the same work as a real account's check.
_DUMMY_HASH = _hasher.hash("innsyn-desk-no-such-account")


@dataclass(frozen=True)
class Account:
    name: str
    role: str

    def may_review(self) -> bool:
        return self.role in ("reviewer", "admin")


class SignInRefused(Exception):
    """Wrong name or password, or a locked account: one Norwegian line for the form."""


def wall_clock() -> datetime:
    return datetime.now(timezone.utc)


def check_name(name: str) -> str:
    name = cases.check_actor_name(name, "NAME")
    if not ACCOUNT_NAME.fullmatch(name):
        raise BadInput(f"NAME: an account name is 2-64 letters, digits, '.', '_', '@' or '-', got {name!r}")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise BadInput(f"--role: expected one of {', '.join(ROLES)}, got {role!r}")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadInput(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if password != password.strip() or "\n" in password:
        raise BadInput("password: no leading or trailing spaces and no line breaks")
    return password


def add_account(con: duckdb.DuckDBPyConnection, name: str, role: str, password: str) -> Account:
    """A new account; BadInput if the name is taken (compared as one person's name)."""
    name, role, password = check_name(name), check_role(role), check_password(password)
    taken = [other for (other,) in con.execute("SELECT name FROM desk_accounts").fetchall()
             if cases.same_actor(other, name)]
    if taken:
        raise BadInput(f"NAME: an account {taken[0]!r} exists already")
    with transaction(con):
        con.execute("INSERT INTO desk_accounts (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                    [name, role, _hasher.hash(password), wall_clock()])
    return Account(name, role)


def list_accounts(con: duckdb.DuckDBPyConnection) -> list[dict]:
    now = wall_clock()
    return [{"name": name, "role": role, "locked": bool(locked and locked > now), "created_at": created.isoformat()}
            for name, role, locked, created in con.execute(
                "SELECT name, role, locked_until, created_at FROM desk_accounts ORDER BY name").fetchall()]


def find_account(con: duckdb.DuckDBPyConnection, name: str) -> Account | None:
    row = con.execute("SELECT name, role FROM desk_accounts WHERE name = ?", [name]).fetchone()
    return Account(*row) if row else None


def sign_in(con: duckdb.DuckDBPyConnection, name: str, password: str) -> Account:
    """The account, when the name and password match and it is not locked; else SignInRefused.

    Every failure counts; the `MAX_FAILURES`th locks the account for `LOCKOUT`. A locked
    account is refused even with the right password, so guessing on does not help."""
    row = con.execute("SELECT name, role, password_hash, failed_logins, locked_until FROM desk_accounts "
                      "WHERE name = ?", [name.strip()]).fetchone()
    if row is None:
        _verify(_DUMMY_HASH, password)
        raise SignInRefused("Feil brukernavn eller passord.")
    account_name, role, password_hash, failures, locked_until = row
    now = wall_clock()
    if locked_until is not None and locked_until > now:
        raise SignInRefused("Kontoen er sperret etter for mange mislykkede forsøk. Prøv igjen senere, "
                            "eller be en administrator om hjelp.")
    if not _verify(password_hash, password):
        failures = (0 if locked_until is not None else failures) + 1  # a lock that ran out starts afresh
        lock = now + LOCKOUT if failures >= MAX_FAILURES else None
        with transaction(con):
            con.execute("UPDATE desk_accounts SET failed_logins = ?, locked_until = ? WHERE name = ?",
                        [0 if lock else failures, lock, account_name])
        if lock:
            raise SignInRefused("Kontoen er sperret etter for mange mislykkede forsøk. Prøv igjen senere, "
                                "eller be en administrator om hjelp.")
        raise SignInRefused("Feil brukernavn eller passord.")
    if failures or locked_until is not None or _hasher.check_needs_rehash(password_hash):
        with transaction(con):
            con.execute("UPDATE desk_accounts SET failed_logins = 0, locked_until = NULL, password_hash = ? "
                        "WHERE name = ?",
                        [_hasher.hash(password) if _hasher.check_needs_rehash(password_hash) else password_hash,
                         account_name])
    return Account(account_name, role)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# ----------------------------------------------------------------------------- sessions

SESSION_LIFETIME = timedelta(hours=8)


def open_session(con: duckdb.DuckDBPyConnection, account: Account) -> str:
    """A new session for a signed-in account: its id goes into the signed cookie."""
    import secrets

    session_id = secrets.token_urlsafe(32)
    with transaction(con):
        con.execute("DELETE FROM desk_sessions WHERE created_at < ?", [wall_clock() - SESSION_LIFETIME])
        con.execute("INSERT INTO desk_sessions VALUES (?, ?, ?)", [session_id, account.name, wall_clock()])
    return session_id


def session_account(con: duckdb.DuckDBPyConnection, session_id: str) -> Account | None:
    """The account a live session belongs to; None once it was closed or is older than a day's work."""
    row = con.execute(
        """SELECT a.name, a.role FROM desk_sessions AS s JOIN desk_accounts AS a USING (name)
           WHERE s.session_id = ? AND s.created_at >= ?""", [session_id, wall_clock() - SESSION_LIFETIME]).fetchone()
    return Account(*row) if row else None


def close_session(con: duckdb.DuckDBPyConnection, session_id: str) -> None:
    with transaction(con):
        con.execute("DELETE FROM desk_sessions WHERE session_id = ?", [session_id])
