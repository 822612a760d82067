"""What each `innsyn` command does, once its arguments are parsed.

Input is checked before a flow starts: a bad request never reaches Prefect, never writes a
case and costs no server start.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from innsyn import cases, clock
from innsyn.db import init_db, init_schema, open_db, transaction
from innsyn.importer import ImportFailed, import_export
from innsyn.policy import PolicyError, load_policy
from innsyn.request import BadInput, parse_request

USER_ERRORS = (ImportFailed, PolicyError)
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


def run(args: argparse.Namespace, *, db: Path, out: Path) -> dict:
    if args.command == "demo":
        return demo(db, out, args.policy)
    if args.command == "db":
        return {"init": db_init, "demo-data": db_demo_data, "import": db_import}[args.db_command](args, db)
    if args.command == "process":
        return process(args.file, db, out, args.policy)
    if args.command == "review":
        return {"list": review_list, "show": review_show, "approve": review_approve}[args.review_command](args, db, out)
    raise BadInput(f"unknown command {args.command!r}")


# ----------------------------------------------------------------------------- db


def db_init(args: argparse.Namespace, db: Path) -> dict:
    init_db(db)
    return {"db": str(db), "created": True}


def _require_db(db: Path) -> None:
    if not db.exists():
        raise BadInput(f"no database at {db}: run `innsyn db init` and `innsyn db import DIR` (or `innsyn db demo-data`)")


def db_import(args: argparse.Namespace, db: Path) -> dict:
    folder: Path = args.folder
    if not folder.is_dir():
        raise BadInput(f"{folder}: not a folder (expected the export's CSV files)")
    with open_db(db) as con:
        init_schema(con)
        counts = import_export(con, folder)
    return {"db": str(db), "imported": counts}


def db_demo_data(args: argparse.Namespace, db: Path) -> dict:
    from innsyn.demo_data import write_demo_export

    if not 1 <= args.schools <= 1000:
        raise BadInput(f"--schools: expected 1 to 1000, got {args.schools}")
    with tempfile.TemporaryDirectory(prefix="innsyn-demo-") as tmp:
        write_demo_export(Path(tmp), schools=args.schools, seed=args.seed)
        with open_db(db) as con:
            init_schema(con)
            counts = import_export(con, Path(tmp))
    return {"db": str(db), "imported": counts, "schools": args.schools, "seed": args.seed}


# ----------------------------------------------------------------------------- process


def _config(db: Path, out: Path, policy: Path | None):
    from innsyn.process_request import RunConfig

    load_policy(policy)  # a broken policy is bad input: say so before anything runs
    return RunConfig(db=str(db), out=str(out), policy=str(policy) if policy else None, actor=cases.current_user())


def check_request(file: Path, db: Path) -> None:
    """Everything about a request that can be wrong, checked before anything is written."""
    request = parse_request(file)
    if request.received_at > clock.now():
        raise BadInput(f"{file}: received_at: is in the future")
    _require_db(db)
    with open_db(db, read_only=True) as con:
        cases.resolve_scope(con, request)


def process(file: Path, db: Path, out: Path, policy: Path | None) -> dict:
    config = _config(db, out, policy)
    check_request(file, db)
    from innsyn.process_request import process_request

    result = process_request(str(file), config)
    if result.unchanged:
        print(f"innsyn: case {result.case_id} is already {result.status}: nothing changed", file=sys.stderr)
    return result.model_dump()


def demo(db: Path, out: Path, policy: Path | None) -> dict:
    """Build the demo database if absent and answer the bundled example requests."""
    from innsyn.process_request import process_request

    if not db.exists():
        db_demo_data(argparse.Namespace(schools=3, seed=1), db)
    config = _config(db, out, policy)
    examples = sorted(EXAMPLES_DIR.glob("*.json"))
    for example in examples:
        check_request(example, db)
    results = [process_request(str(example), config).model_dump() for example in examples]
    for result in results:
        where = result["public_pdf"] or f"awaiting review (`innsyn review show {result['case_id']}`)"
        print(f"  {result['case_id']:<16} {result['status']:<16} {result['outcome'] or '':<17} {where}",
              file=sys.stderr)
    return {"db": str(db), "out": str(out), "cases": results}


# ----------------------------------------------------------------------------- review


def review_list(args: argparse.Namespace, db: Path, out: Path) -> dict:
    _require_db(db)
    with open_db(db, read_only=True) as con:
        rows = con.execute(
            """SELECT case_id, request_id, outcome, review_pdf, registered_at
               FROM cases WHERE status = 'awaiting_review' ORDER BY registered_at, case_id"""
        ).fetchall()
    return {"awaiting_review": [
        {"case_id": c, "request_id": r, "outcome": o, "review_pdf": p, "registered_at": t.isoformat()}
        for c, r, o, p, t in rows
    ]}


def _case_or_bad_input(db: Path, case_id: str) -> cases.CaseRow:
    _require_db(db)
    with open_db(db, read_only=True) as con:
        row = cases.find_case(con, case_id)
    if row is None:
        raise BadInput(f"unknown case {case_id!r}")
    return row


def review_show(args: argparse.Namespace, db: Path, out: Path) -> dict:
    from innsyn.process_request import RunConfig, case_result

    _case_or_bad_input(db, args.case_id)
    config = RunConfig(db=str(db), out=str(out), actor=cases.current_user())
    return case_result(config, args.case_id).model_dump()


def review_approve(args: argparse.Namespace, db: Path, out: Path) -> dict:
    from innsyn.process_request import case_result, release_case

    row = _case_or_bad_input(db, args.case_id)
    reviewer = args.reviewer.strip()
    if not reviewer:
        raise BadInput("--reviewer: a name is required")
    if row.status == "released":
        print(f"innsyn: case {row.case_id} is already released: nothing changed", file=sys.stderr)
        return case_result(_config(db, out, args.policy), row.case_id, unchanged=True).model_dump()
    if row.status not in ("awaiting_review", "approved"):
        raise BadInput(f"case {row.case_id} is {row.status}, not awaiting review")
    if reviewer.casefold() == row.registered_by.casefold():
        raise BadInput(
            f"four eyes: {reviewer!r} registered case {row.case_id} and cannot also approve it"
        )
    config = _config(db, out, args.policy)
    now = clock.now()
    with open_db(db) as con, transaction(con):
        cases.set_status(con, row.case_id, "approved")
        cases.record_event(con, row.case_id, "approved", reviewer, now)
    release_case(row.case_id, config, approved_by=reviewer)
    return case_result(config, row.case_id).model_dump()
