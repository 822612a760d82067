"""From an eInnsyn order to a request: which class lists its journal documents are.

The register's journal mapping (journal_documents.csv, imported with the export) says which
journal document is which class list. An order whose every document is a class list of one
school becomes one request for those classes: received on the order's date, answered to the
order's e-mail, its case number made from the order's id (so eInnsyn's retries of the same
order are one case). Anything else (a document the mapping does not know, class lists at
two schools, an order dated in the future) is a reason to triage, in one line that names no
personal data.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import duckdb

from innsyn import clock
from innsyn.files import atomic_write_bytes
from innsyn.intake.order import EInnsynOrder
from innsyn.request import case_id_for
from innsyn.resources import sql

_SAFE_ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,47}$")


@dataclass(frozen=True)
class Unmapped:
    """The order cannot be a case by itself: why, in one line."""

    reason: str


def match_order(con: duckdb.DuckDBPyConnection, order: EInnsynOrder) -> tuple[str, list[str]] | Unmapped:
    """(school_id, class names) the order asks for, or why it needs a case handler."""
    documents = [{"n": n, "system_id": d.system_id, "saksnr": d.case_number or None,
                  "dokumentnr": d.document_number or None} for n, d in enumerate(order.documents, start=1)]
    rows = con.execute(sql("journal_matches"), {"documents": documents}).fetchall()
    unmatched = [n for n, _, class_id, _ in rows if class_id is None]
    if unmatched:
        return Unmapped(f"{len(unmatched)} of {len(rows)} ordered documents match no class list in the journal "
                        f"mapping (document {unmatched[0]} first)")
    schools = sorted({school_id for _, school_id, _, _ in rows})
    if len(schools) > 1:
        return Unmapped(f"the ordered documents are class lists at {len(schools)} schools; map them by hand, "
                        "one school per case")
    return schools[0], sorted({class_name for *_, class_name in rows})


def safe_order_id(order_id: str) -> bool:
    return bool(_SAFE_ORDER_ID.fullmatch(order_id))


def request_id_for_order_id(order_id: str) -> str:
    """eInnsyn's order id as our request id: the same order, retried, is the same case. An id
    that would not make a safe case number is replaced by its hash (the same for a retry)."""
    return f"eInnsyn-{order_id if safe_order_id(order_id) else hashlib.sha256(order_id.encode()).hexdigest()[:32]}"


def request_id_for_order(order: EInnsynOrder) -> str:
    return request_id_for_order_id(order.order_id)


def received_at_for_day(day: date) -> datetime:
    """The day eInnsyn sent the order, in Oslo: the deadline counts from the day after."""
    return datetime.combine(day, time(0), tzinfo=clock.OSLO)


def received_at(order: EInnsynOrder) -> datetime:
    return received_at_for_day(order.ordered_on)


def order_request(order: EInnsynOrder, school_id: str, classes: list[str], *,
                  request_id: str | None = None) -> dict:
    """The request (contract.md, "A request: JSON") an order is, for the classes it names."""
    return {
        "request_id": request_id or request_id_for_order(order),
        "received_at": received_at(order).isoformat(),
        # eInnsyn passes on no name, only the address the answer goes to
        "requester": {"name": "", "email": order.email, "kind": "anonymous",
                      "reference": f"eInnsyn {order.order_id}"[:100]},
        "scope": {"school_id": school_id, "classes": classes},
    }


def write_request_file(out: Path, request: dict) -> Path:
    """The request as a file the process flow reads (owner-only: it holds the reply address)."""
    path = out / "internal" / "intake" / f"{case_id_for(request['request_id'])}.json"
    atomic_write_bytes(path, json.dumps(request, ensure_ascii=False, indent=1).encode(), private=True)
    return path
