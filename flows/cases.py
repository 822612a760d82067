"""Cases: registering a request, moving it through its life cycle, and its event trail.

received -> screened -> awaiting_review -> approved -> released. Every transition is a row
in case_events, which is append-only: nothing here updates or deletes an event.
"""

from __future__ import annotations

import contextvars
import getpass
import hashlib
import json
import os
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import duckdb

from innsyn.db import transaction
from innsyn.request import BadInput, InnsynRequest, case_id_for
from innsyn.resources import sql

STATUSES = ("received", "screened", "awaiting_review", "approved", "released")


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    request_id: str
    status: str
    outcome: str | None
    registered_by: str
    public_pdf: str | None
    review_pdf: str | None


#: Who a warm worker acts for while it runs a command handed to it (innsyn.warm_worker): the
#: command's user, not the service's.
_acting: contextvars.ContextVar[str | None] = contextvars.ContextVar("innsyn_acting_user", default=None)


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    token = _acting.set(name)
    try:
        yield
    finally:
        _acting.reset(token)


def current_user() -> str:
    """Who is acting: the command's user in a warm worker, else INNSYN_USER if set (a service
    account), else the login name."""
    if _acting.get() is not None:
        return _acting.get()
    if os.environ.get("INNSYN_USER"):
        return check_actor_name(os.environ["INNSYN_USER"], "INNSYN_USER")
    return check_actor_name(getpass.getuser(), "the login name")


#: Characters no person's name holds, that make two names look alike or break a line:
#: control (Cc), format (Cf: zero-width spaces and joiners, direction marks, the BOM),
#: surrogates (Cs: undecodable bytes) and the line and paragraph separators (Zl, Zp).
_NOT_IN_A_NAME = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def check_actor_name(name: str, source: str) -> str:
    """An actor's name as given (`--reviewer`, INNSYN_USER), stripped; BadInput with one line
    when it is empty or holds a control or format character (it names the code point, not the name)."""
    bad = next((char for char in name if unicodedata.category(char) in _NOT_IN_A_NAME), None)
    if bad is not None:
        raise BadInput(f"{source}: a name must not contain control or format characters "
                       f"(found U+{ord(bad):04X} {unicodedata.name(bad, 'unnamed')})")
    name = name.strip()
    if not name:
        raise BadInput(f"{source}: a name is required")
    return name


def actor_key(name: str) -> str:
    """What two actor names are compared by: one person, however the name is typed.

    Compatibility forms folded (NFKC: full-width letters, ligatures, non-breaking spaces),
    format characters removed (zero-width spaces and joiners, direction marks), case folded,
    whitespace collapsed. `Lise Jurist`, `lise  JURIST`, `Ｌｉｓｅ Jurist` and `Lise Jurist`
    followed by a zero-width space are one person; `Lise Jurist` and `Lise Juristen` are two.
    """
    text = unicodedata.normalize("NFKC", name)
    text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    text = unicodedata.normalize("NFKC", text.casefold())
    return " ".join(text.split())


def same_actor(first: str, second: str) -> bool:
    return actor_key(first) == actor_key(second)


def request_id_for(request: InnsynRequest, raw: bytes) -> str:
    """The request's own id, or one made from its content so a re-run finds the same case."""
    if request.request_id:
        return request.request_id
    return f"{request.received_at:%Y}/auto-{hashlib.sha256(raw).hexdigest()[:10]}"


def request_with_case_number(con: duckdb.DuckDBPyConnection, request_id: str) -> str | None:
    """The id of the request that already has this request's case number, if it is another.

    Two ids can make one case number: '2026/1' and '2026-1' are both case 2026-1 (its
    folder's name). The second request must be refused, not filed under the first's case."""
    rows = con.execute("SELECT request_id FROM cases WHERE case_id = ?", [case_id_for(request_id)]).fetchall()
    return rows[0][0] if rows and rows[0][0] != request_id else None


def resolve_scope(con: duckdb.DuckDBPyConnection, request: InnsynRequest) -> list[tuple]:
    """The classes the request covers (class_id, school_id, school_name, class_name, grade);
    BadInput for an unknown school or class."""
    scope = request.scope
    if scope.school_id != "all":
        if not con.execute("SELECT 1 FROM schools WHERE school_id = ?", [scope.school_id]).fetchone():
            raise BadInput(f"scope.school_id: unknown school {scope.school_id!r}")
    all_classes = scope.classes == "all"
    names = [] if all_classes else list(scope.classes)
    rows = con.execute(
        sql("case_scope"),
        {"school_id": scope.school_id, "all_classes": all_classes, "class_names": names},
    ).fetchall()
    missing = sorted(set(names) - {row[3] for row in rows})
    if missing:
        raise BadInput(f"scope.classes: unknown class {missing[0]!r} at school {scope.school_id!r}")
    if not rows:
        raise BadInput(f"scope: school {scope.school_id!r} has no classes")
    return rows


def find_case(con: duckdb.DuckDBPyConnection, case_id: str) -> CaseRow | None:
    row = con.execute(
        """SELECT case_id, request_id, status, outcome, registered_by, public_pdf, review_pdf
           FROM cases WHERE case_id = ?""",
        [case_id],
    ).fetchone()
    return CaseRow(*row) if row else None


def register_case(
    con: duckdb.DuckDBPyConnection,
    request: InnsynRequest,
    raw: bytes,
    *,
    registered_by: str,
    now: datetime,
) -> tuple[str, bool]:
    """Register the request as a case; idempotent on request_id. Returns (case_id, is_new)."""
    request_id = request_id_for(request, raw)
    case_id = case_id_for(request_id)
    if request_with_case_number(con, request_id) is not None:
        raise BadInput(f"request_id {request_id!r} collides with case {case_id!r} of another request")
    if con.execute("SELECT 1 FROM cases WHERE case_id = ?", [case_id]).fetchall():
        return case_id, False
    classes = resolve_scope(con, request)
    requester = request.requester
    with transaction(con):
        con.execute(
            """INSERT INTO cases (case_id, request_id, received_at, requester_name, requester_email,
                   requester_kind, requester_org, requester_reference, scope_school_id, scope_classes,
                   registered_by, status, registered_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?)""",
            [case_id, request_id, request.received_at, requester.name, requester.email,
             requester.kind, requester.organisation, requester.reference or None, request.scope.school_id,
             json.dumps(request.scope.classes, ensure_ascii=False), registered_by, now],
        )
        _insert_case_classes(con, case_id, classes)
        record_event(con, case_id, "received", registered_by, now, detail={"classes": len(classes)})
    return case_id, True


def _insert_case_classes(con: duckdb.DuckDBPyConnection, case_id: str, classes: list[tuple]) -> None:
    # one statement with list parameters: a bulk case has thousands of classes, and
    # executemany would insert them one round trip at a time
    columns = list(zip(*classes))
    con.execute(
        """INSERT INTO case_classes
           SELECT $case_id, unnest($class_id), unnest($school_id), unnest($school_name),
                  unnest($class_name), unnest($grade)""",
        {"case_id": case_id, "class_id": list(columns[0]), "school_id": list(columns[1]),
         "school_name": list(columns[2]), "class_name": list(columns[3]), "grade": list(columns[4])},
    )


def record_event(
    con: duckdb.DuckDBPyConnection,
    case_id: str,
    event: str,
    actor: str,
    at: datetime,
    *,
    policy_version: str | None = None,
    data_hash: str | None = None,
    reason: str | None = None,
    detail: dict | None = None,
) -> None:
    """Append one event. Details hold ids and counts only, never personal data."""
    con.execute(
        """INSERT INTO case_events (case_id, event, actor, occurred_at, policy_version, data_hash, reason, detail)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        [case_id, event, actor, at, policy_version, data_hash, reason,
         json.dumps(detail, sort_keys=True) if detail else None],
    )


def set_status(con: duckdb.DuckDBPyConnection, case_id: str, status: str, **columns: object) -> None:
    assert status in STATUSES, status
    assignments = ", ".join(f"{name} = ?" for name in columns)
    con.execute(
        f"UPDATE cases SET status = ?{', ' + assignments if assignments else ''} WHERE case_id = ?",
        [status, *columns.values(), case_id],
    )
