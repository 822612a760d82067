"""Process one innsyn request, from the request file to the released answer.

A journalist asks for the class list of 5B. The flow registers the request as a case (once:
running it again finds the same case), screens the consented list in DuckDB against the
policy, and then either holds the case for legal review (a reviewer must see every
redaction the policy says needs eyes) or releases it: the public answer is rendered from the
redacted data, read back through the leak gate, and only then written to the public folder.

Prefect sees paths, case ids and counts, never a name, address or phone number: every task
reads what it needs from the database itself.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from innsyn import cases, clock
from innsyn.case_documents import CasePaths, build_answer, publish, write_redaction_log, write_review_copy
from innsyn.db import init_schema, open_db, transaction
from innsyn.policy import Policy, load_policy
from innsyn.request import parse_request
from innsyn.screening import ScreeningSummary, screen_case


class RunConfig(BaseModel):
    """Where to work and under which policy. Paths only: safe as Prefect parameters."""

    db: str
    out: str
    policy: str | None = None
    actor: str


class CaseResult(BaseModel):
    """The contract's JSON summary of a case (ids, paths and counts only)."""

    case_id: str
    status: str
    outcome: str | None
    public_pdf: str | None
    review_pdf: str | None
    withheld_items: int
    unchanged: bool = False


STEP = dict(cache_policy=NO_CACHE, persist_result=False)


@task(**STEP)
def register(request_path: str, config: RunConfig) -> str:
    """Register the request as a case, or find the case it already is."""
    path = Path(request_path)
    request = parse_request(path)
    with open_db(config.db) as con:
        init_schema(con)
        case_id, is_new = cases.register_case(
            con, request, path.read_bytes(), registered_by=config.actor, now=clock.now()
        )
    get_run_logger().info("case %s %s", case_id, "registered" if is_new else "already registered")
    return case_id


@task(**STEP)
def screen(case_id: str, config: RunConfig) -> ScreeningSummary:
    """Decide every consented value of the case under the policy in force."""
    policy = load_policy(config.policy)
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
                    "thin_classes": list(summary.thin_classes), "requires_review": summary.requires_review},
        )
    get_run_logger().info(
        "case %s screened: %d released, %d withheld, review %s",
        case_id, summary.released_items, summary.withheld_items + summary.no_trace_items,
        "required" if summary.requires_review else "not required",
    )
    return summary


@task(**STEP)
def hold_for_review(case_id: str, config: RunConfig) -> None:
    """Write the review copy and wait for a legal reviewer."""
    policy = load_policy(config.policy)
    paths = CasePaths.under(Path(config.out), case_id)
    with open_db(config.db) as con:
        answer = build_answer(con, case_id, policy, status_label="Til juridisk vurdering")
        write_redaction_log(con, case_id, policy.version, paths)
    write_review_copy(answer, paths)
    now = clock.now()
    with open_db(config.db) as con, transaction(con):
        cases.set_status(con, case_id, "awaiting_review", outcome=answer.outcome, review_pdf=str(paths.review_pdf))
        cases.record_event(con, case_id, "awaiting_review", config.actor, now, policy_version=policy.version)


@task(**STEP)
def release(case_id: str, config: RunConfig) -> None:
    """Render the public answer, pass the leak gate, and release it."""
    release_case(case_id, config, approved_by=None)


def release_case(case_id: str, config: RunConfig, approved_by: str | None) -> None:
    policy = load_policy(config.policy)
    paths = CasePaths.under(Path(config.out), case_id)
    label = f"Godkjent av {approved_by}" if approved_by else "Frigitt uten juridisk vurdering (ingen merknader)"
    with open_db(config.db) as con:
        _check_same_policy(con, case_id, policy)
        # the decision is taken now: on approval, or on release when no review was needed
        con.execute("UPDATE cases SET decided_at = ? WHERE case_id = ?", [clock.now(), case_id])
        answer = build_answer(con, case_id, policy, status_label=label)
        write_redaction_log(con, case_id, policy.version, paths)
    checked = publish(answer, paths)
    write_review_copy(answer, paths)
    now = clock.now()
    with open_db(config.db) as con, transaction(con):
        cases.set_status(con, case_id, "released", outcome=answer.outcome, public_pdf=str(paths.public_pdf),
                         review_pdf=str(paths.review_pdf), released_at=now)
        cases.record_event(con, case_id, "released", approved_by or config.actor, now,
                           policy_version=policy.version, detail={"leak_gate_values_checked": checked})


def _check_same_policy(con, case_id: str, policy: Policy) -> None:
    (recorded,) = con.execute("SELECT policy_hash FROM cases WHERE case_id = ?", [case_id]).fetchone()
    if recorded != policy.sha256:
        raise RuntimeError(
            f"case {case_id} was screened under another policy (sha256 {recorded[:12]}); "
            f"the policy in force is {policy.label}: run `innsyn process` again to re-screen"
        )


def case_result(config: RunConfig, case_id: str, *, unchanged: bool = False) -> CaseResult:
    with open_db(config.db, read_only=True) as con:
        row = cases.find_case(con, case_id)
        (withheld,) = con.execute(
            "SELECT count(*) FROM case_items WHERE case_id = ? AND decision = 'withhold' AND NOT no_trace",
            [case_id],
        ).fetchone()
    return CaseResult(
        case_id=case_id, status=row.status, outcome=row.outcome,
        public_pdf=row.public_pdf if row.status == "released" else None,
        review_pdf=row.review_pdf, withheld_items=withheld, unchanged=unchanged,
    )


@flow(name="process-request", log_prints=False)
def process_request(request_path: str, config: RunConfig) -> CaseResult:
    """One request, end to end. Safe to run again: a released case is left as it is."""
    case_id = register(request_path, config)
    with open_db(config.db, read_only=True) as con:
        status = cases.find_case(con, case_id).status
    if status in ("released", "awaiting_review"):
        get_run_logger().info("case %s is already %s: nothing changed", case_id, status)
        return case_result(config, case_id, unchanged=True)
    if status != "approved":
        summary = screen(case_id, config)
        if summary.requires_review:
            hold_for_review(case_id, config)
            return case_result(config, case_id)
    release(case_id, config)
    return case_result(config, case_id)


if __name__ == "__main__":
    process_request.serve(name="process-request")
