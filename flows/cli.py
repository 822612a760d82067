"""The `innsyn` command (contract.md, "Commands").

Success prints one JSON object on stdout. Bad input exits 2 with one line on stderr and
writes nothing; any other failure exits 1 with a clear message. Tracebacks are shown only
with INNSYN_DEBUG=1, and messages carry ids, never personal data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from innsyn.db import default_db_path
from innsyn.errors import BadInput
from innsyn.service import client as service
from innsyn.warm_worker import ServiceFailed

DEFAULT_OUT = Path("out")


class UsageError(BadInput):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 2 like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _common(parser: argparse.ArgumentParser, *, writes_files: bool = False) -> None:
    parser.add_argument("--db", type=Path, default=None, help="database file (default: $INNSYN_DB or data/innsyn.duckdb)")
    parser.add_argument("--policy", type=Path, default=None, help="screening policy file (default: the bundled standard policy)")
    if writes_files:
        parser.add_argument("--out", type=Path, default=None, help="output folder (default: $INNSYN_OUT or out/)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="innsyn", description="Answer innsyn requests for school class lists.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = commands.add_parser("demo", help="build the demo database and answer the bundled example requests")
    _common(demo, writes_files=True)

    db = commands.add_parser("db", help="create, fill or import the database")
    db_commands = db.add_subparsers(dest="db_command", required=True, parser_class=_Parser)
    _common(db_commands.add_parser("init", help="create an empty database"))
    demo_data = db_commands.add_parser("demo-data", help="fill it with deterministic synthetic Oslo-like data")
    _common(demo_data)
    demo_data.add_argument("--schools", type=int, default=3)
    demo_data.add_argument("--seed", type=int, default=1)
    import_ = db_commands.add_parser("import", help="import a school system export folder (all or nothing)")
    _common(import_)
    import_.add_argument("folder", type=Path)
    backup = db_commands.add_parser("backup", help="write a consistent copy of the database to a new file")
    _common(backup)
    backup.add_argument("--to", type=Path, required=True, dest="target", help="the backup file to write (must not exist)")
    restore = db_commands.add_parser("restore", help="replace the database's content with a backup")
    _common(restore)
    restore.add_argument("source", type=Path, help="a file written by `innsyn db backup`")

    process = commands.add_parser("process", help="process one request end to end")
    _common(process, writes_files=True)
    process.add_argument("file", type=Path)

    review = commands.add_parser("review", help="legal review of cases")
    review_commands = review.add_subparsers(dest="review_command", required=True, parser_class=_Parser)
    _common(review_commands.add_parser("list", help="cases awaiting legal review"), writes_files=True)
    show = review_commands.add_parser("show", help="one case and the path of its review copy")
    _common(show, writes_files=True)
    show.add_argument("case_id")
    approve = review_commands.add_parser("approve", help="approve a case and release its answer")
    _common(approve, writes_files=True)
    approve.add_argument("case_id")
    approve.add_argument("--reviewer", required=True)
    approve.add_argument("--reason", default=None, help="optional note recorded with the approval")
    for decision in ("release", "withhold"):
        change = review_commands.add_parser(decision, help=f"{decision} the named items (ids from the review copy)")
        _common(change, writes_files=True)
        change.add_argument("case_id")
        change.add_argument("items", nargs="+", metavar="ITEM")
        change.add_argument("--reviewer", required=True)
        change.add_argument("--reason", required=True, help="why: recorded in the log and the events")
        if decision == "withhold":
            change.add_argument("--rule", default=None, help="the policy rule whose legal basis applies")
    confirm = review_commands.add_parser(
        "confirm", help="as a second reviewer, confirm releases of values withheld under a graded address or no trace")
    _common(confirm, writes_files=True)
    confirm.add_argument("case_id")
    confirm.add_argument("items", nargs="+", metavar="ITEM")
    confirm.add_argument("--reviewer", required=True)
    confirm.add_argument("--reason", default=None, help="optional note recorded with the confirmation")
    rescreen = review_commands.add_parser("rescreen", help="screen a case again against today's register")
    _common(rescreen, writes_files=True)
    rescreen.add_argument("case_id")
    log = review_commands.add_parser("log", help="export the redaction log as CSV and Parquet")
    _common(log, writes_files=True)
    log.add_argument("--case", default=None)
    log.add_argument("--from", dest="date_from", type=_date, default=None)
    log.add_argument("--to", dest="date_to", type=_date, default=None)

    target_help = "target in working days (default: $INNSYN_TARGET_WORKING_DAYS or 3)"
    cases = commands.add_parser("cases", help="cases with their deadlines in working days, overdue first")
    _common(cases)
    cases.add_argument("--open", action="store_true", help="only cases not yet answered")
    cases.add_argument("--overdue", action="store_true", help="only open cases past the target date")
    cases.add_argument("--target-days", type=int, default=None, help=target_help)

    report = commands.add_parser("report", help="reports on how we keep the law")
    report_commands = report.add_subparsers(dest="report_command", required=True, parser_class=_Parser)
    compliance = report_commands.add_parser("compliance", help="the compliance report (PDF and CSV) for a period")
    _common(compliance, writes_files=True)
    compliance.add_argument("--from", dest="date_from", type=_date, required=True, help="first day, YYYY-MM-DD")
    compliance.add_argument("--to", dest="date_to", type=_date, required=True, help="last day, YYYY-MM-DD")
    compliance.add_argument("--target-days", type=int, default=None, help=target_help)

    _mail_commands(commands)

    serve = commands.add_parser("serve", help="run the Prefect deployments: request processing, the weekly report")
    _common(serve, writes_files=True)
    serve.add_argument("--target-days", type=int, default=None, help=target_help)
    serve.add_argument("--intake", type=Path, default=None,
                       help="the folder served runs take request files from (default: $INNSYN_INTAKE, "
                            "else intake/ beside the output folder)")
    serve.add_argument("--allow-weak-policy", action="store_true",
                       help="serve a policy that leaves a marker without a rule or a graded address without review")
    serve.add_argument("--review-in-prefect", action=argparse.BooleanOptionalAction, default=True,
                       help="served runs wait for the reviewer in the Prefect UI (pause_flow_run; the default), "
                            "or with --no-review-in-prefect stop at awaiting_review")
    serve.add_argument("--maildir", type=Path, default=None, metavar="DIR",
                       help="poll this Maildir on a schedule ($INNSYN_MAILDIR_POLL_SECONDS, default 60): "
                            "eInnsyn orders become cases, other mail goes to triage")
    from innsyn.desk.commands import add_parsers  # the case desk: `innsyn users`, `innsyn desk`

    add_parsers(commands, _common, _Parser)
    commands.add_parser("status", help="what runs in the background for this user (JSON: pids, sockets, "
                                       "Prefect API, idle timeouts)")
    commands.add_parser("stop", help="stop this user's background innsyn services and their Prefect server")
    return parser


def _mail_commands(commands) -> None:
    """intake (mail in), send (the answer out by e-mail) and archive (the Noark 5 package)."""
    intake = commands.add_parser("intake", help="requests by e-mail: eInnsyn orders and other mail, and triage")
    intake_commands = intake.add_subparsers(dest="intake_command", required=True, parser_class=_Parser)
    maildir = intake_commands.add_parser("maildir", help="make a case or a triage entry of each new message in a Maildir")
    _common(maildir, writes_files=True)
    maildir.add_argument("folder", type=Path, metavar="DIR", help="the Maildir (with new/ and cur/)")
    listing = intake_commands.add_parser("list", help="messages waiting for a case handler to map them")
    _common(listing)
    listing.add_argument("--all", action="store_true", help="mapped entries too")
    map_ = intake_commands.add_parser("map", help="make a triage entry a case for a school's classes")
    _common(map_, writes_files=True)
    map_.add_argument("entry", metavar="ENTRY", help="the triage id from `innsyn intake list`")
    map_.add_argument("--school", required=True, help="school_id")
    map_.add_argument("--classes", required=True, help="class names, comma-separated (e.g. 5B,5C)")
    map_.add_argument("--kind", default="anonymous",
                      choices=["journalist", "private", "commercial", "organisation", "anonymous"])
    send = commands.add_parser("send", help="e-mail the released answer to the requester (SMTP, from $INNSYN_SMTP_*)")
    _common(send, writes_files=True)
    send.add_argument("case_id", metavar="CASE")
    archive = commands.add_parser("archive", help="write the case's Noark 5 archive package (arkivmelding.xml + PDFs)")
    _common(archive, writes_files=True)
    archive.add_argument("case_id", metavar="CASE")


def _date(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    db = getattr(args, "db", None) or default_db_path()
    out = getattr(args, "out", None) or Path(os.environ.get("INNSYN_OUT") or DEFAULT_OUT)
    return db, out


def main(argv: list[str] | None = None) -> int:
    code = _run(argv, own_process=argv is None)
    if argv is None:  # the `innsyn` command, not a caller in this process
        _skip_collection_at_exit()
    return code


#: Commands that live on and serve: they keep Python's collector as it is.
LONG_LIVED_COMMANDS = {"serve", "desk"}


def _fewer_collections() -> None:
    """Let the collector look at new objects less often while a command runs.

    A command that runs a flow loads Prefect, pydantic and WeasyPrint: half a million objects,
    which Python's default thresholds (a collection every 700 allocations, a full one every
    hundred of those) make it walk again and again while they load and while the flow runs.
    With these, a one-class `innsyn process` takes 3.60 CPU s instead of 3.77 (mean of 6,
    run alternately; wall 3.05 s instead of 3.10; same peak memory: 213 MiB). A rendered
    document's garbage is still collected as before: rendering pauses the collector and
    resumes it after each document (render._cyclic_gc_paused), and full collections come as
    often as ever, so a bulk case's memory is bounded as it was. A long-lived command keeps
    the defaults.
    """
    import gc

    gc.set_threshold(20_000, 10, 10)


def _skip_collection_at_exit() -> None:
    """Let the interpreter end without walking every object Prefect and WeasyPrint made.

    At exit Python collects garbage over the whole heap (half a million objects after
    Prefect, pydantic and WeasyPrint are imported): 0.5 to 1 s of a one-class run. Freezing
    the heap skips that walk and nothing else: Prefect still sends its queued logs and events
    (its exit handlers run as before), every file and database this command wrote is closed
    already, stdout is flushed here, and the operating system takes the memory back at once.
    """
    import gc

    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()


def _run(argv: list[str] | None, own_process: bool = False) -> int:
    # Prefect's temporary server may start slowly on a busy 2-core machine: wait, don't fail.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    # the product runs offline: no telemetry from Prefect's temporary server, nor from
    # Prefect's client, which reports a new user's first runs when started in a terminal
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # before the database is opened or Prefect imported: what they create is owner-only
    from innsyn.private import owner_only_by_default, private_prefect_home

    owner_only_by_default()
    private_prefect_home()
    try:
        args = build_parser().parse_args(argv)
        if own_process and args.command not in LONG_LIVED_COMMANDS:
            _fewer_collections()
        db, out = _paths(args)
        result = service.hand_over(args, db, out)  # a warm service checks and runs it: nothing to import
        if result is None:
            from innsyn import commands  # imported late: `innsyn --help` and a handed-over command stay fast

            result = commands.run(args, db=db, out=out)
        elif os.environ.get("INNSYN_SEND_ON_RELEASE") == "1":
            from innsyn import commands

            result = commands.send_on_release(result, db, out)
    except BadInput as error:
        return _fail(2, str(error))
    except ServiceFailed as error:  # already one line, as this process would have said it
        return _fail(error.exit_code, str(error))
    except KeyboardInterrupt:
        return _fail(1, "interrupted")
    except Exception as error:  # noqa: BLE001 - the user gets one clear line, not a traceback
        if _is_user_error(error):
            return _fail(2, str(error))
        if os.environ.get("INNSYN_DEBUG"):
            raise
        return _fail(1, f"{type(error).__name__}: {error}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _is_user_error(error: Exception) -> bool:
    """A broken policy or import folder: raised only where `innsyn.commands` was imported."""
    commands = sys.modules.get("innsyn.commands")
    return commands is not None and isinstance(error, commands.USER_ERRORS)


def _fail(code: int, message: str) -> int:
    first_line = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"innsyn: error: {first_line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
