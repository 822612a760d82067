"""The triage list: messages intake could not make a case of, for a case handler to map.

An entry keeps what a handler needs to decide (sender, subject, the reason in one line, and
an eInnsyn order's id, date, reply address and documents) and, once mapped, the case it
became. Entries are written in the same transaction as the record that their message was
handled (intake_messages), so a message is never triaged twice nor lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb

from innsyn.intake.mail import Message
from innsyn.request import BadInput


@dataclass(frozen=True)
class TriageEntry:
    triage_id: str
    received_at: datetime
    sender: str | None
    subject: str | None
    reason: str
    order_id: str | None
    ordered_on: object
    reply_to: str | None
    documents: list
    status: str
    case_id: str | None

    def as_json(self) -> dict:
        return {"triage_id": self.triage_id, "received_at": self.received_at.isoformat(), "sender": self.sender,
                "subject": self.subject, "reason": self.reason, "order_id": self.order_id,
                "ordered_on": self.ordered_on.isoformat() if self.ordered_on else None,
                "documents": self.documents, "status": self.status, "case_id": self.case_id}


_COLUMNS = ("triage_id, received_at, sender, subject, reason, order_id, ordered_on, reply_to, documents, "
            "status, case_id")


def triage_id_for(message_sha256: str) -> str:
    return f"T-{message_sha256[:12]}"


def add_entry(con: duckdb.DuckDBPyConnection, triage_id: str, message: Message, reason: str,
              received_at: datetime) -> None:
    """One open entry (in the caller's transaction). The reason is already one line."""
    order = message.order
    con.execute(
        f"INSERT INTO intake_triage ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', NULL)",
        [triage_id, received_at, message.sender or None, message.subject or None, reason,
         order.order_id if order else None, order.ordered_on if order else None,
         (order.email if order else message.sender_address),
         json.dumps([d.as_json() for d in order.documents] if order else [])],
    )


def entries(con: duckdb.DuckDBPyConnection, *, everything: bool = False) -> list[TriageEntry]:
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM intake_triage WHERE ? OR status = 'open' ORDER BY received_at, triage_id",
        [everything],
    ).fetchall()
    return [_entry(row) for row in rows]


def find_entry(con: duckdb.DuckDBPyConnection, triage_id: str) -> TriageEntry:
    row = con.execute(f"SELECT {_COLUMNS} FROM intake_triage WHERE triage_id = ?", [triage_id]).fetchone()
    if row is None:
        raise BadInput(f"no triage entry {triage_id!r} (see `innsyn intake list`)")
    return _entry(row)


def mark_mapped(con: duckdb.DuckDBPyConnection, triage_id: str, case_id: str, actor: str, at: datetime) -> None:
    con.execute("UPDATE intake_triage SET status = 'mapped', case_id = ?, mapped_by = ?, mapped_at = ? "
                "WHERE triage_id = ?", [case_id, actor, at, triage_id])


def _entry(row: tuple) -> TriageEntry:
    *head, documents, status, case_id = row
    return TriageEntry(*head, json.loads(documents or "[]"), status, case_id)
