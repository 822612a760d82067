"""What each `innsyn` command does, once its arguments are parsed.

Input is checked before a flow starts: a bad request never reaches Prefect, never writes a
case and costs no server start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from innsyn import cases, clock, review, warm_worker
from innsyn.service import client as service
from innsyn.db import init_db, init_schema, open_db, transaction
from innsyn.importer import ImportFailed, import_export
from innsyn.policy import Policy, PolicyError, load_policy, policy_weaknesses, weakness_warning
from innsyn.request import BadInput, case_id_for, parse_request

USER_ERRORS = (ImportFailed, PolicyError)
SERVICE_ERRORS = warm_worker.ServiceFailed
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


def run(args: argparse.Namespace, *, db: Path, out: Path) -> dict:
    if args.command == "demo":
        return demo(db, out, args.policy)
    if args.command == "db":
        return {"init": db_init, "demo-data": db_demo_data, "import": db_import,
                "backup": db_backup, "restore": db_restore}[args.db_command](args, db)
    if args.command == "process":
        return process(args.file, db, out, args.policy)
    if args.command == "review":
        handler = {"list": review_list, "show": review_show, "approve": review_approve, "release": review_change,
                   "withhold": review_change, "confirm": review_confirm, "rescreen": review_rescreen,
                   "log": review_log}[args.review_command]
        return handler(args, db, out)
    if args.command == "cases":
        return list_cases(args, db)
    if args.command == "report":
        return {"compliance": report_compliance}[args.report_command](args, db, out)
    if args.command == "serve":
        return serve(args, db, out)
    if args.command in ("users", "desk"):  # the case desk's accounts and server (innsyn.desk)
        from innsyn.desk import commands as desk_commands

        return desk_commands.run(args, db=db, out=out)
    if args.command in ("intake", "send", "archive"):
        return mail_command(args, db, out)
    if args.command == "status":
        return service.status()
    if args.command == "stop":
        return service.stop()
    raise BadInput(f"unknown command {args.command!r}")


# ----------------------------------------------------------------------------- mail and archive


def mail_command(args: argparse.Namespace, db: Path, out: Path) -> dict:
    """intake, send and archive live in their subpackages (innsyn.intake, .delivery, .archive)."""
    if args.command == "intake":
        from innsyn.intake import commands as intake

        return {"maildir": intake.intake_maildir, "list": intake.intake_list,
                "map": intake.intake_map}[args.intake_command](args, db, out)
    _require_db(db)
    if args.command == "send":
        from innsyn.delivery.send import DeliveryFailed, send_case

        try:
            return send_case(args.case_id, db=db, out=out)
        except DeliveryFailed as failed:  # checked input, then a failure: exit 1 with its one line
            raise warm_worker.ServiceFailed(str(failed), failed.exit_code) from None
    from innsyn.archive.package import ArchiveRefused, archive_case

    try:
        return archive_case(args.case_id, db=db, out=out)
    except ArchiveRefused as refused:
        raise warm_worker.ServiceFailed(str(refused), refused.exit_code) from None


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


def db_backup(args: argparse.Namespace, db: Path) -> dict:
    from innsyn.backup import backup

    return {"db": str(db), "backup": str(args.target), "tables": backup(db, args.target)}


def db_restore(args: argparse.Namespace, db: Path) -> dict:
    from innsyn.backup import restore

    return {"db": str(db), "restored_from": str(args.source), "tables": restore(db, args.source)}


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


def checked_policy(path: Path | None) -> Policy:
    """The policy a command runs under. One weaker than the standard (a marker without a rule,
    a graded address without review) is a warning on every run: one line on stderr naming the
    markers and rules, and the case's `screened` event records it."""
    policy = load_policy(path)
    weaknesses = policy_weaknesses(policy)
    if weaknesses:
        print(f"innsyn: warning: {weakness_warning(policy, weaknesses)}", file=sys.stderr)
    return policy


def _config(db: Path, out: Path, policy: Path | None, actor: str | None = None):
    from innsyn.config import RunConfig

    load_policy(policy)  # a broken policy is bad input: say so before anything runs
    return RunConfig(db=str(db), out=str(out), policy=str(policy) if policy else None,
                     actor=actor or cases.current_user(), progress=sys.stderr.isatty())


def check_request(file: Path, db: Path) -> int:
    """Everything about a request that can be wrong, checked before anything is written.

    Returns how many schools the request covers."""
    request = parse_request(file)  # received_at is checked there: after 2000, not in the future
    _require_db(db)
    request_id = cases.request_id_for(request, b"" if request.request_id else file.read_bytes())
    with open_db(db, read_only=True) as con:
        other = cases.request_with_case_number(con, request_id)
        if other is not None:
            raise BadInput(f"{file}: request_id: {request_id!r} is case {case_id_for(request_id)}, "
                           f"which another request ({other!r}) already has")
        classes = cases.resolve_scope(con, request)
    return len({school_id for _, school_id, *_ in classes})


@contextmanager
def foreground_run(schools: int) -> Iterator[None]:
    """Prefect settings for a flow run that this command starts and waits for.

    Prefect sends a heartbeat for every flow run, one at the start and then every 180 s, so
    that an automation can mark a run whose process died as crashed. The heartbeat thread
    wakes once a second, and ending a flow run waits for it: up to a second for the request
    flow and again for its render subflow. A one-school case is done in seconds, long before
    a second heartbeat, in front of the person who started it, so it runs without. A bulk
    case (minutes) keeps its heartbeats, as do the runs of `innsyn serve` and any run where
    the heartbeat is set explicitly (PREFECT_FLOWS_HEARTBEAT_FREQUENCY, in the environment or
    a Prefect profile).
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

    flows = get_current_settings().flows
    if schools > 1 or "heartbeat_frequency" in flows.model_fields_set or flows.heartbeat_frequency is None:
        yield  # (the background service runs without them already: a tenth of a second per command)
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@contextmanager
def users_prefect_server(schools: int) -> Iterator[None]:
    """A bulk case's flow runs in the user's Prefect server, not in a temporary one.

    A bulk case (several schools) renders in this command's own process, not in the
    background service. Without PREFECT_API_URL, Prefect would start a temporary server for
    the command, on a new PREFECT_HOME running its migrations first (10-15 s before the first
    flow run, and again for the approval); the user's server (innsyn.service.prefect_server,
    started if none runs, listed by `innsyn status`, idle-stopped) is there already, and this
    command counts as its user while it runs. Entered before Prefect is imported: Prefect
    reads PREFECT_API_URL once, at import, for every thread it starts (the process pool's
    forwarder of its workers' events among them); where it was imported already, or with
    INNSYN_USE_SERVICE=0, the command keeps Prefect's own way."""
    if schools <= 1 or service.inside() or "prefect" in sys.modules:
        yield
        return
    from innsyn.service.prefect_server import for_command

    with for_command("bulk case"):
        yield


def process(file: Path, db: Path, out: Path, policy: Path | None, *, actor: str | None = None) -> dict:
    """`innsyn process FILE`; the case desk calls it too, with its signed-in account as `actor`
    (default: $INNSYN_USER, else the login name)."""
    checked_policy(policy)
    schools = check_request(file, db)  # before Prefect is even imported: bad input costs no start-up
    actor = actor or cases.current_user()
    result = None
    if schools == 1:  # the service has Prefect and WeasyPrint loaded already (innsyn.service)
        result = service.run(argparse.Namespace(command="process", file=Path(file), policy=policy),
                             db=db, out=out, actor=actor)
    elif service.inside():
        raise service.Declined("a request for several schools renders on every core of its own process")
    if result is None:
        with users_prefect_server(schools):
            result = process_here(file, db, out, policy, schools, actor)
    if result["unchanged"]:
        print(f"innsyn: case {result['case_id']} is already {result['status']}: nothing changed", file=sys.stderr)
    return send_on_release(result, db, out)


def send_on_release(result: dict, db: Path, out: Path) -> dict:
    """INNSYN_SEND_ON_RELEASE=1: a released answer is e-mailed at once (innsyn.delivery).

    By the command's own process, under its own environment: inside the service, nothing."""
    if service.inside():
        return result
    if os.environ.get("INNSYN_SEND_ON_RELEASE") != "1":
        return result
    from innsyn.delivery import send

    return send.send_on_release(result, db=db, out=out)


def process_here(file: Path, db: Path, out: Path, policy: Path | None, schools: int, actor: str | None = None) -> dict:
    """The request's flow run, in this process."""
    config = _config(db, out, policy, actor)
    from innsyn.process_request import process_request

    with foreground_run(schools):
        return process_request(str(file), config).model_dump()


def demo(db: Path, out: Path, policy: Path | None) -> dict:
    """Build the demo database if absent and answer the bundled example requests."""
    from innsyn.process_request import process_request

    checked_policy(policy)
    created = not db.exists()
    if created:
        db_demo_data(argparse.Namespace(schools=3, seed=1), db)
    _demo_desk_accounts(db, created)
    config = _config(db, out, policy)
    examples = sorted(EXAMPLES_DIR.glob("*.json"))
    schools = [check_request(example, db) for example in examples]
    results = []
    for example, count in zip(examples, schools):
        with foreground_run(count):
            results.append(process_request(str(example), config).model_dump())
    for result in results:
        where = result["public_pdf"] or f"awaiting review (`innsyn review show {result['case_id']}`)"
        print(f"  {result['case_id']:<16} {result['status']:<16} {result['outcome'] or '':<17} {where}",
              file=sys.stderr)
    return {"db": str(db), "out": str(out), "cases": results}


def _demo_desk_accounts(db: Path, created: bool) -> None:
    """The case desk's demo accounts, only in a database `innsyn demo` made (innsyn.desk)."""
    from innsyn.desk.commands import DEMO_PASSWORD, add_demo_accounts, is_demo_database

    if created or is_demo_database(db):
        add_demo_accounts(db)
        print(f"innsyn: demo accounts saksbehandler, jurist, jurist2, admin (password {DEMO_PASSWORD}): "
              f"`innsyn desk`, then open http://127.0.0.1:8765/", file=sys.stderr)
    else:
        print(f"innsyn: {db} was not made by `innsyn demo`: no demo accounts added "
              "(`innsyn users add NAME --role ...`)", file=sys.stderr)


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


def _schools_of(db: Path, case_id: str) -> int:
    with open_db(db, read_only=True) as con:
        (count,) = con.execute("SELECT count(DISTINCT school_id) FROM case_classes WHERE case_id = ?",
                               [case_id]).fetchone()
    return count


def review_show(args: argparse.Namespace, db: Path, out: Path) -> dict:
    from innsyn.config import RunConfig, case_result

    _case_or_bad_input(db, args.case_id)
    config = RunConfig(db=str(db), out=str(out), actor=cases.current_user())
    return case_result(config, args.case_id).model_dump()


def _in_service(review_command: str, args: argparse.Namespace, db: Path, out: Path) -> dict | None:
    """A review command of a one-school case, answered by the service (innsyn.service); None
    when it runs here. Called once the command's input is checked."""
    if _schools_of(db, args.case_id) != 1:  # a municipal case renders on every core: nothing to gain
        if service.inside():
            raise service.Declined("a case of several schools renders on every core of its own process")
        return None
    command_line = argparse.Namespace(**{**vars(args), "command": "review", "review_command": review_command})
    return service.run(command_line, db=db, out=out, actor=cases.current_user())


def review_approve(args: argparse.Namespace, db: Path, out: Path) -> dict:
    row = _case_or_bad_input(db, args.case_id)
    load_policy(args.policy)  # a broken policy is bad input: say so before anything runs
    if row.status != "released":
        cases.check_actor_name(args.reviewer, "--reviewer")
    result = _in_service("approve", args, db, out)
    return result if result is not None else review_approve_here(args, db, out)


def review_approve_here(args: argparse.Namespace, db: Path, out: Path) -> dict:
    from innsyn.config import case_result

    row = _case_or_bad_input(db, args.case_id)
    config = _config(db, out, args.policy)
    if row.status == "released":
        print(f"innsyn: case {row.case_id} is already released: nothing changed", file=sys.stderr)
        return case_result(config, row.case_id, unchanged=True).model_dump()
    reviewer = cases.check_actor_name(args.reviewer, "--reviewer")
    try:
        with open_db(db) as con:
            review.approve(con, row, reviewer=reviewer, reason=args.reason, policy=checked_policy(args.policy),
                           now=clock.now())
    except review.ReturnedToReview:
        schools = _schools_of(db, row.case_id)
        with users_prefect_server(schools):
            from innsyn.render_answer import render_answer

            # screened again against today's register: the reviewer needs the new review copy
            with foreground_run(schools), _console_warnings_only():
                render_answer(row.case_id, config, publish=False)
        raise
    schools = _schools_of(db, row.case_id)
    with users_prefect_server(schools):
        # imported once the approval stands: a refusal (four eyes, a second reviewer) exits 2
        # without the seconds Prefect's import takes
        from innsyn.render_answer import render_answer

        with foreground_run(schools):
            render_answer(row.case_id, config, approved_by=reviewer)
    from innsyn.pool.paused import end_paused_runs

    end_paused_runs(row.case_id, db, reviewer)  # a run paused for this review ends: answered here
    return send_on_release(case_result(config, row.case_id).model_dump(), db, out)


@contextmanager
def _console_warnings_only() -> Iterator[None]:
    """Prefect's progress lines go to the run's log, not to the terminal, while a refused
    command renders what the refusal needs: the refusal stays one line on stderr."""
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    handlers = [handler for handler in logging.getLogger().handlers if isinstance(handler, PrefectConsoleHandler)]
    levels = [handler.level for handler in handlers]
    for handler in handlers:
        handler.setLevel(max(handler.level, logging.WARNING))
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels):
            handler.setLevel(level)


def _waiting_for_second_reviewer(db: Path, case_id: str) -> list[str]:
    with open_db(db, read_only=True) as con:
        return sorted(review.pending_second_reviews(con, case_id))


def review_change(args: argparse.Namespace, db: Path, out: Path) -> dict:
    """`review release|withhold CASE ITEM...`: override decisions, then refresh the review copy.

    A release of a value withheld under a graded address or with no trace waits for a second
    reviewer (`review confirm`): the JSON lists what waits in `awaiting_second_reviewer`."""
    row = _case_or_bad_input(db, args.case_id)
    load_policy(args.policy)
    cases.check_actor_name(args.reviewer, "--reviewer")
    _item_changes(args)  # as the command would refuse them, before anything starts
    result = _in_service(args.review_command, args, db, out)
    return result if result is not None else review_change_here(args, db, out)


def _item_changes(args: argparse.Namespace) -> list[review.ItemChange]:
    return [review.ItemChange(item_id=item, decision=args.review_command, rule=getattr(args, "rule", None))
            for item in args.items]


def review_change_here(args: argparse.Namespace, db: Path, out: Path) -> dict:
    from innsyn.config import case_result
    from innsyn.render_answer import render_answer

    row = _case_or_bad_input(db, args.case_id)
    config = _config(db, out, args.policy)
    reviewer = cases.check_actor_name(args.reviewer, "--reviewer")
    changes = _item_changes(args)
    with open_db(db) as con:
        changed = review.apply_changes(con, row, changes, reviewer=reviewer, reason=args.reason,
                                       policy=checked_policy(args.policy), now=clock.now())
    with foreground_run(_schools_of(db, row.case_id)):
        render_answer(row.case_id, config, publish=False)
    return {**case_result(config, row.case_id).model_dump(), "changed_items": changed,
            "awaiting_second_reviewer": _waiting_for_second_reviewer(db, row.case_id)}


def review_confirm(args: argparse.Namespace, db: Path, out: Path) -> dict:
    """`review confirm CASE ITEM... --reviewer NAME`: a second reviewer confirms releases of values
    withheld under a graded address or with no trace."""
    row = _case_or_bad_input(db, args.case_id)
    load_policy(args.policy)
    cases.check_actor_name(args.reviewer, "--reviewer")
    result = _in_service("confirm", args, db, out)
    return result if result is not None else review_confirm_here(args, db, out)


def review_confirm_here(args: argparse.Namespace, db: Path, out: Path) -> dict:
    from innsyn.config import case_result

    row = _case_or_bad_input(db, args.case_id)
    config = _config(db, out, args.policy)
    reviewer = cases.check_actor_name(args.reviewer, "--reviewer")
    with open_db(db) as con:
        confirmed = review.confirm_releases(con, row, list(args.items), reviewer=reviewer, reason=args.reason,
                                            policy=checked_policy(args.policy), now=clock.now())
    return {**case_result(config, row.case_id).model_dump(), "confirmed_items": confirmed,
            "awaiting_second_reviewer": _waiting_for_second_reviewer(db, row.case_id)}



def review_rescreen(args: argparse.Namespace, db: Path, out: Path) -> dict:
    """`review rescreen CASE`: screen the case again against today's register. When anything
    differs, the new decisions replace the old (reviewer overrides included), the case is back
    at review and its review copy is rendered again; the JSON's `rescreen` says what changed."""
    from innsyn import rescreen
    from innsyn.config import case_result

    row = _case_or_bad_input(db, args.case_id)
    config = _config(db, out, args.policy)
    review.check_reviewable(row)
    with open_db(db) as con:
        again = rescreen.rescreen(con, row, checked_policy(args.policy), clock.now(), actor=config.actor)
    if again.changed:
        # imported only now: a case whose register gives the same decisions is answered
        # without the seconds Prefect's and WeasyPrint's import take
        from innsyn.render_answer import render_answer

        with foreground_run(_schools_of(db, row.case_id)):
            render_answer(row.case_id, config, publish=False)
        print(f"innsyn: case {row.case_id} was screened again ({again.summary()}): it waits for review",
              file=sys.stderr)
    else:
        print(f"innsyn: case {row.case_id}: the register gives the same decisions: nothing changed", file=sys.stderr)
    return {**case_result(config, row.case_id, unchanged=not again.changed).model_dump(),
            "rescreen": again.as_json()}


def review_log(args: argparse.Namespace, db: Path, out: Path) -> dict:
    from innsyn.redaction_log import export_redaction_log

    _require_db(db)
    if bool(args.case) == bool(args.date_from or args.date_to):
        raise BadInput("review log: give either --case CASE or --from DATE --to DATE")
    if args.case:  # only a case that exists: its number is a safe file name, an unknown one a typo
        with open_db(db, read_only=True) as con:
            known = cases.find_case(con, args.case) is not None
        if not known:
            raise BadInput(f"--case: unknown case {args.case!r}")
    with open_db(db, read_only=True) as con:
        return export_redaction_log(con, out, case_id=args.case, date_from=args.date_from, date_to=args.date_to)


# ----------------------------------------------------------------------------- deadlines and reports


def list_cases(args: argparse.Namespace, db: Path) -> dict:
    """`innsyn cases`: every case with its dates in working days, overdue first."""
    from innsyn import deadlines

    target = deadlines.target_working_days(args.target_days)
    _require_db(db)
    today = deadlines.today()
    with open_db(db, read_only=True) as con:
        rows = deadlines.case_deadlines(con, on=today, target_days=target,
                                        open_only=args.open, overdue_only=args.overdue)
    for row in rows:
        if row.deadline_state == "unknown":  # registered with a day of receipt no deadline counts from
            dates = f"received {row.received_date or 'before year 1'}  no deadlines: correct the date of receipt"
        else:
            dates = (f"received {row.received_date}  target {row.target_date}  limit {row.implied_refusal_date}  "
                     f"{row.working_days_used} wd")
        print(f"  {row.case_id:<16} {row.status:<16} {dates}  {'OVERDUE ' if row.overdue else ''}{row.deadline_state}",
              file=sys.stderr)
    return {"as_of": today.isoformat(), "target_working_days": target,
            "limit_working_days": deadlines.STATUTORY_WORKING_DAYS, "cases": [row.as_json() for row in rows]}


def report_compliance(args: argparse.Namespace, db: Path, out: Path) -> dict:
    """`innsyn report compliance --from --to`: the PDF and CSV, through the Prefect flow."""
    from innsyn import deadlines

    target = deadlines.target_working_days(args.target_days)
    if args.date_from > args.date_to:
        raise BadInput(f"--from {args.date_from} is after --to {args.date_to}")
    _require_db(db)
    from innsyn.compliance_report import ReportConfig, compliance_report

    config = ReportConfig(db=str(db), out=str(out), target_days=target)
    return compliance_report(args.date_from, args.date_to, config).model_dump()


def serve(args: argparse.Namespace, db: Path, out: Path) -> dict:
    """`innsyn serve`: run the deployments until interrupted (see innsyn.serve).

    Refused (bad input) against a Prefect API on the network without a password, and under a
    policy weaker than the standard unless started with --allow-weak-policy."""
    from innsyn import deadlines
    from innsyn.serve import check_api_protected

    check_api_protected()
    target = deadlines.target_working_days(args.target_days)
    policy = load_policy(args.policy)  # a broken policy is bad input: say so before serving
    weaknesses = policy_weaknesses(policy)
    if weaknesses and not args.allow_weak_policy:
        raise BadInput(f"{weakness_warning(policy, weaknesses)}: `innsyn serve` refuses it "
                       "(start with --allow-weak-policy to serve it all the same)")
    checked_policy(args.policy)
    _require_db(db)
    _config(db, out, args.policy)
    intake = args.intake or (Path(os.environ["INNSYN_INTAKE"]) if os.environ.get("INNSYN_INTAKE") else None)
    from innsyn.serve import serve_deployments

    if args.maildir is not None:
        from innsyn.intake.maildir import check_maildir

        check_maildir(args.maildir)
    names = serve_deployments(db=db, out=out, policy=args.policy, target_days=target, intake=intake,
                              allow_weak_policy=args.allow_weak_policy, pause_for_review=args.review_in_prefect,
                              maildir=args.maildir)
    return {"served": names, "stopped": True}
