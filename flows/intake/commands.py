"""`innsyn intake maildir DIR`, `innsyn intake list`, `innsyn intake map ENTRY`.

A mapped triage entry becomes a request exactly as a mapped eInnsyn order does: the request
file is written to the internal intake folder and processed as `innsyn process` processes a
file, and the entry is marked mapped only once its case is registered (mapping it again
after a failure finds the same case).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from innsyn import cases, clock
from innsyn.db import open_db, transaction
from innsyn.intake import mapping, triage
from innsyn.intake.maildir import check_maildir, handle_maildir
from innsyn.request import BadInput


def intake_maildir(args: argparse.Namespace, db: Path, out: Path) -> dict:
    from innsyn.commands import _require_db, check_request, checked_policy, process

    check_maildir(args.folder)
    checked_policy(args.policy)
    _require_db(db)
    return handle_maildir(args.folder, db=db, out=out,
                          process=lambda file: process(file, db, out, args.policy),
                          check=lambda file: check_request(file, db))


def intake_list(args: argparse.Namespace, db: Path, out: Path) -> dict:
    from innsyn.commands import _require_db

    _require_db(db)
    with open_db(db, read_only=True) as con:
        found = triage.entries(con, everything=args.all)
    return {"triage": [entry.as_json() for entry in found]}


def intake_map(args: argparse.Namespace, db: Path, out: Path) -> dict:
    """Make the entry a case for the given school and classes (a case handler's decision)."""
    from innsyn.commands import _require_db, check_request, checked_policy, process

    checked_policy(args.policy)
    _require_db(db)
    classes = sorted({name.strip() for name in args.classes.split(",") if name.strip()})
    if not classes:
        raise BadInput("--classes: name at least one class, e.g. --classes 5B,5C")
    actor = cases.current_user()
    with open_db(db, read_only=True) as con:
        entry = triage.find_entry(con, args.entry)
    if entry.status != "open":
        raise BadInput(f"triage entry {entry.triage_id} is already mapped to case {entry.case_id}")
    if not entry.reply_to:
        raise BadInput(f"triage entry {entry.triage_id} has no address to answer; register it as a JSON request")
    request = {
        "request_id": (mapping.request_id_for_order_id(entry.order_id) if entry.order_id
                       else f"mail-{entry.triage_id[2:]}"),
        "received_at": (mapping.received_at_for_day(entry.ordered_on) if entry.ordered_on
                        else entry.received_at.astimezone(clock.OSLO)).isoformat(),
        "requester": {"name": "", "email": entry.reply_to, "kind": args.kind,
                      **({"reference": f"eInnsyn {entry.order_id}"[:100]} if entry.order_id else {})},
        "scope": {"school_id": args.school, "classes": classes},
    }
    request_file = mapping.write_request_file(out, request)
    check_request(request_file, db)
    result = process(request_file, db, out, args.policy)
    with open_db(db) as con, transaction(con):
        triage.mark_mapped(con, entry.triage_id, result["case_id"], actor, clock.now())
        cases.record_event(con, result["case_id"], "mapped_from_triage", actor, clock.now(),
                           detail={"triage_id": entry.triage_id})
    return {**result, "triage_id": entry.triage_id}
