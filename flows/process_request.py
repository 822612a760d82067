"""Process one innsyn request, from the request file to the released answer.

A journalist asks for the class list of 5B. The flow registers the request as a case (once:
running it again finds the same case), screens the consented list in DuckDB against the
policy, and then either holds the case for legal review (a reviewer must see every
redaction the policy says needs eyes) or releases it: the public answer is rendered from the
redacted data, read back through the leak gate, and only then written to the public folder.

Under a Prefect server the flow pauses at review and waits for a typed `ReviewInput` from
the Prefect UI or API (approve, changes, reason, reviewer); run from the command line it
stops at `awaiting_review` and `innsyn review approve` takes it from there.

Prefect sees paths, case ids and counts, never a name, address or phone number: every task
reads what it needs from the database itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from prefect import flow, get_run_logger, task
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field

from innsyn import cases, clock, review
from innsyn.case_documents import CasePaths, build_answer
from innsyn.config import FLOW_OPTIONS, TASK_OPTIONS, CaseResult, RunConfig, case_result
from innsyn.db import init_schema, open_db, transaction
from innsyn.policy import load_policy, policy_weaknesses, weakness_warning
from innsyn.pool.paused import tag_this_run
from innsyn.render_answer import render_case
from innsyn.request import BadInput, parse_request
from innsyn.screening import ScreeningSummary, screen_case


class ReviewInput(RunInput):
    """What a reviewer gives the paused flow. Ids only: the review copy holds the values."""

    approve: bool = Field(description="Approve the case and release the answer")
    reviewer: str = Field(description="Your name (you cannot approve a case you registered)")
    reason: str = Field(default="", description="Why: required when you change a decision. Refer to item "
                                                "ids; write no names or values here, Prefect stores this text")
    changes: list[review.ItemChange] = Field(default_factory=list,
                                             description="Item ids to release or withhold, from the review copy")
    confirm: list[str] = Field(default_factory=list,
                               description="Item ids another reviewer released from a graded address or a "
                                           "no-trace rule, that you confirm as the second reviewer")


class Registration(NamedTuple):
    case_id: str
    status: str  # "received" for a new case; where an earlier run left it otherwise


@task(**TASK_OPTIONS)
def register(request_path: str, config: RunConfig) -> Registration:
    """Register the request as a case, or find the case it already is, and say where it stands."""
    path = Path(request_path)
    request = parse_request(path)
    with open_db(config.db) as con:
        init_schema(con)
        case_id, is_new = cases.register_case(
            con, request, path.read_bytes(), registered_by=config.actor, now=clock.now()
        )
        status = cases.find_case(con, case_id).status
    get_run_logger().info("case %s %s", case_id, "registered" if is_new else "already registered")
    return Registration(case_id, status)


@task(**TASK_OPTIONS)
def screen(case_id: str, config: RunConfig) -> ScreeningSummary:
    """Decide every consented value of the case under the policy in force."""
    policy = load_policy(config.policy)
    weaknesses = policy_weaknesses(policy)
    if weaknesses:
        get_run_logger().warning("%s", weakness_warning(policy, weaknesses))
    now = clock.now()
    with open_db(config.db) as con, transaction(con):
        summary = screen_case(con, case_id, policy, now)
        cases.set_status(con, case_id, "screened", policy_name=policy.name, policy_version=policy.version,
                         policy_hash=policy.sha256, data_hash=summary.data_hash, decided_at=now)
        cases.record_event(
            con, case_id, "screened", config.actor, now, policy_version=policy.version,
            data_hash=summary.data_hash,
            detail={"released_items": summary.released_items, "withheld_items": summary.withheld_items,
                    "no_trace_items": summary.no_trace_items, "consent_conflicts": summary.consent_conflicts,
                    "thin_classes": list(summary.thin_classes), "requires_review": summary.requires_review,
                    **({"policy_weaknesses": weaknesses} if weaknesses else {})},
        )
    # counts that leave for Prefect never include what leaves no trace (a strengt fortrolig
    # household): "2 withheld" would say it exists; the case's events keep the exact counts
    get_run_logger().info(
        "case %s screened: %d released, %d withheld, review %s",
        case_id, summary.released_items, summary.withheld_items,
        "required" if summary.requires_review else "not required",
    )
    return summary


def hold_for_review(case_id: str, config: RunConfig) -> None:
    """Write the review copy (a bulk case in a subflow, on all cores) and wait."""
    render_case(case_id, config, publish=False)
    mark_awaiting_review(case_id, config)


@task(**TASK_OPTIONS)
def mark_awaiting_review(case_id: str, config: RunConfig) -> None:
    policy = load_policy(config.policy)
    with open_db(config.db) as con, transaction(con):
        outcome = build_answer(con, case_id, policy, rows=False).outcome
        cases.set_status(con, case_id, "awaiting_review", outcome=outcome,
                         review_pdf=str(CasePaths.under(Path(config.out), case_id).review_pdf))
        cases.record_event(con, case_id, "awaiting_review", config.actor, clock.now(), policy_version=policy.version)


@task(**TASK_OPTIONS)
def apply_review(case_id: str, decision: ReviewInput, config: RunConfig) -> bool:
    """Apply a reviewer's changes and confirmations and, if they approve, record the approval."""
    policy = load_policy(config.policy)
    now = clock.now()
    with open_db(config.db) as con:
        case = cases.find_case(con, case_id)
        if decision.changes:
            review.apply_changes(con, case, decision.changes, reviewer=decision.reviewer,
                                 reason=decision.reason, policy=policy, now=now)
            case = cases.find_case(con, case_id)
        if decision.confirm:
            review.confirm_releases(con, case, decision.confirm, reviewer=decision.reviewer,
                                    reason=decision.reason, policy=policy, now=now)
        if decision.approve:
            review.approve(con, case, reviewer=decision.reviewer, reason=decision.reason, policy=policy, now=now)
    return decision.approve


@task(**TASK_OPTIONS)
def still_current(case_id: str, config: RunConfig) -> bool:
    """An approved case about to be released (a run resumed after a crash): are its decisions
    still today's? If not, it has been screened again and is back at review."""
    from innsyn import rescreen

    policy = load_policy(config.policy)
    with open_db(config.db) as con:
        again = rescreen.rescreen(con, cases.find_case(con, case_id), policy, clock.now(), actor=config.actor)
    if again.changed:
        # no counts: what changed may be a household that now leaves no trace
        get_run_logger().warning("case %s: the register changed since it was approved; it is back at review",
                                 case_id)
    return not again.changed


def wait_for_reviewer(case_id: str, summary: ScreeningSummary, config: RunConfig) -> ReviewInput | None:
    """Pause the flow run until a reviewer answers; None when the wait times out."""
    paths = CasePaths.under(Path(config.out), case_id)
    # Prefect stores this text: its counts leave out what leaves no trace (the values a
    # strengt fortrolig household withholds, and the conflicts and thin classes they make);
    # the review copy shows them
    description = (
        f"Case {case_id} awaits legal review: {summary.withheld_items} withheld values and as many "
        f"consent conflicts (not counting values that leave no trace); classes flagged for indirect "
        f"identification are named in the review copy, {paths.review_pdf}. Give item ids from it to "
        "release or withhold values; a change needs a reason."
    )
    tag_this_run(case_id, config.db)  # so `innsyn review approve` finds this pause (innsyn.pool.paused)
    try:
        return pause_flow_run(
            wait_for_input=ReviewInput.with_initial_data(description=description, approve=False, reviewer="", reason=""),
            timeout=config.review_timeout_seconds,
            poll_interval=config.review_poll_seconds,
        )
    except TimeoutError:
        get_run_logger().info("case %s: no reviewer answered in time; it stays awaiting review", case_id)
        return None


@flow(name="process-request", **FLOW_OPTIONS)
def process_request(request_path: str, config: RunConfig) -> CaseResult:
    """One request, end to end. Safe to run again: a released case is left as it is."""
    case_id, status = register(request_path, config)
    if status in ("released", "awaiting_review"):
        get_run_logger().info("case %s is already %s: nothing changed", case_id, status)
        return case_result(config, case_id, unchanged=True)
    approved_by = None
    if status == "approved" and not still_current(case_id, config):
        render_case(case_id, config, publish=False)
        return case_result(config, case_id)
    if status != "approved":
        summary = screen(case_id, config)
        if summary.requires_review:
            hold_for_review(case_id, config)
            if not config.pause_for_review:
                return case_result(config, case_id)
            approved_by = review_in_flow(case_id, summary, config)
            if approved_by is None:
                return case_result(config, case_id)
    render_case(case_id, config, approved_by)
    return case_result(config, case_id)


def review_in_flow(case_id: str, summary: ScreeningSummary, config: RunConfig, rounds: int = 20) -> str | None:
    """Pause for the reviewer until they approve (changes without approval: pause again)."""
    for _ in range(rounds):
        if _answered_elsewhere(case_id, config):  # before this pause, while the last answer was applied
            return None
        decision = wait_for_reviewer(case_id, summary, config)
        if decision is None or _answered_elsewhere(case_id, config):
            return None
        if not (decision.approve or decision.changes or decision.confirm):
            continue  # an answer with no decision (the command line changed items): wait again
        try:
            if apply_review(case_id, decision, config):
                return cases.check_actor_name(decision.reviewer, "reviewer")
        except review.ReturnedToReview:
            # no counts: what changed may be a household that now leaves no trace
            get_run_logger().warning("case %s was not approved: the register changed since it was screened; "
                                     "it was screened again and waits for review", case_id)
        except BadInput as refused:  # four eyes, a second reviewer: say so, and wait again
            get_run_logger().warning("case %s: %s", case_id, refused)
        render_case(case_id, config, publish=False)  # show the reviewer their changes
    return None


def _answered_elsewhere(case_id: str, config: RunConfig) -> bool:
    """Approved (and released) from the command line while this run waited: nothing to wait for."""
    with open_db(config.db, read_only=True) as con:
        status = cases.find_case(con, case_id).status
    if status in ("approved", "released"):
        get_run_logger().info("case %s was %s outside this run: nothing left to wait for", case_id, status)
        return True
    return False


if __name__ == "__main__":
    process_request.serve(name="process-request")
