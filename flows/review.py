"""Legal review: a reviewer changes decisions (with a reason) and approves the case.

The same rules hold whether the reviewer works from the CLI or from the Prefect UI:
- four eyes: the person who registered the case cannot change or approve it; names are
  compared as one person would be (innsyn.cases.actor_key: Unicode compatibility forms, case,
  spacing and invisible characters do not make another person), and a name with a control or
  format character is refused;
- an override names the items, the new decision and a mandatory reason; a value withheld
  by hand names the policy rule whose legal basis applies, so every withheld value still
  points to a rule of the policy in force;
- a change after an approval voids it: the case goes back to review and needs a new one;
- releasing a value a graded-address or no-trace rule withheld needs a second reviewer, other
  than the one who released it and the registrant, to confirm it before the case is approved;
- an approval is recorded only on decisions that are still today's: the case is screened
  again first, and goes back to review if the register changed (innsyn.rescreen);
- every change, confirmation and approval is an event, with the reviewer as actor.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

import duckdb
from pydantic import BaseModel, Field

from innsyn import cases, screening
from innsyn.db import transaction
from innsyn.policy import Policy, graded_rules
from innsyn.request import BadInput


class ReturnedToReview(BadInput):
    """The approval was refused because the case went back to review (its decisions were
    stale and it was screened again): the review copy must be rendered again."""


class ItemChange(BaseModel):
    """One reviewer decision on one value, by item id (never the value itself)."""

    item_id: str = Field(min_length=1, max_length=200)
    decision: Literal["release", "withhold"]
    rule: str | None = Field(default=None, description="policy rule whose basis applies (withhold only)")


def check_four_eyes(case: cases.CaseRow, reviewer: str) -> str:
    """The reviewer's name, checked: not empty, no control or format characters, and not the
    registrant's under any spelling (innsyn.cases.actor_key)."""
    reviewer = cases.check_actor_name(reviewer, "reviewer")
    if cases.same_actor(reviewer, case.registered_by):
        raise BadInput(f"four eyes: {reviewer!r} registered case {case.case_id} and cannot also approve it")
    return reviewer


def check_reviewable(case: cases.CaseRow) -> None:
    if case.status not in ("awaiting_review", "approved"):
        raise BadInput(f"case {case.case_id} is {case.status}, not awaiting review")


def apply_changes(
    con: duckdb.DuckDBPyConnection,
    case: cases.CaseRow,
    changes: list[ItemChange],
    *,
    reviewer: str,
    reason: str,
    policy: Policy,
    now: datetime,
) -> int:
    """Override decisions on the named items; returns how many changed. All or nothing."""
    check_reviewable(case)
    reviewer = check_four_eyes(case, reviewer)
    if not reason.strip():
        raise BadInput("--reason: every override needs a reason")
    if not changes:
        return 0
    known = {
        item_id: (decision, rule, no_trace)
        for item_id, decision, rule, no_trace in con.execute(
            """SELECT item_id, decision, rule, no_trace FROM case_items
               WHERE case_id = ? AND list_contains(?, item_id)""",
            [case.case_id, [change.item_id for change in changes]],
        ).fetchall()
    }
    for change in changes:
        if change.item_id not in known:
            raise BadInput(f"case {case.case_id} has no item {change.item_id!r}")
    # a value withheld under a graded address or with no trace: released, it waits for a second reviewer
    graded = graded_rules(policy)
    second = sorted({change.item_id for change in changes
                     if change.decision == "release" and known[change.item_id][0] == "withhold"
                     and (known[change.item_id][2] or known[change.item_id][1] in graded)})
    detail: dict = {"items": {change.item_id: change.decision for change in changes}}
    if second:
        detail["needs_second_reviewer"] = second
    with transaction(con):
        (status,) = con.execute("SELECT status FROM cases WHERE case_id = ?", [case.case_id]).fetchone()
        for change in changes:
            _override(con, case.case_id, change, known[change.item_id][1], reviewer, reason, policy, now)
        # what the change implies for the rest (a line withheld by hand leaves no bare name);
        # the reviewer's own decisions stand
        implied = screening.apply_consequences(con, case.case_id, policy)
        if implied:
            detail["implied_items"] = implied
        cases.record_event(con, case.case_id, "overridden", reviewer, now, policy_version=policy.version,
                           reason=reason, detail=detail)
        if status == "approved":
            _void_approval(con, case.case_id, reviewer, now, policy, changed=len(changes))
    return len(changes)


def _void_approval(con, case_id: str, actor: str, now: datetime, policy: Policy, *, changed: int) -> None:
    """A decision changed after the approval: the approval no longer covers what would be
    released. The case goes back to review and needs a new approval."""
    approver = con.execute(
        "SELECT actor FROM case_events WHERE case_id = ? AND event = 'approved' ORDER BY event_id DESC LIMIT 1",
        [case_id]).fetchone()
    cases.set_status(con, case_id, "awaiting_review")
    cases.record_event(con, case_id, "approval_voided", actor, now, policy_version=policy.version,
                       reason="a decision changed after the approval: a new approval is needed",
                       detail={"approved_by": approver[0] if approver else None, "changed_items": changed})


def _override(con, case_id: str, change: ItemChange, current_rule: str | None, reviewer: str,
              reason: str, policy: Policy, now: datetime) -> None:
    if change.decision == "withhold":
        rule_id = change.rule or current_rule
        if rule_id is None:
            raise BadInput(f"{change.item_id}: name the policy rule whose legal basis applies (--rule)")
        if rule_id not in {rule.id for rule in policy.rules}:
            raise BadInput(f"--rule: {rule_id!r} is not a rule of policy {policy.label}")
        rule = policy.rule(rule_id)
        con.execute(
            """UPDATE case_items SET decision = 'withhold', rule = ?, legal_basis = ?, no_trace = ?,
                      consent_state = 'overridden', override_reason = ?, decided_by = ?, decided_at = ?
               WHERE case_id = ? AND item_id = ?""",
            [rule.id, policy.legal_basis(rule), rule.no_trace, reason, f"reviewer:{reviewer}", now,
             case_id, change.item_id],
        )
    else:
        con.execute(
            """UPDATE case_items SET decision = 'release', no_trace = false, consent_state = 'overridden',
                      override_reason = ?, decided_by = ?, decided_at = ?
               WHERE case_id = ? AND item_id = ?""",
            [reason, f"reviewer:{reviewer}", now, case_id, change.item_id],
        )


def pending_second_reviews(con: duckdb.DuckDBPyConnection, case_id: str) -> dict[str, str]:
    """Released values that a graded-address or no-trace rule withheld and no second reviewer
    has confirmed yet: item id -> who released it. Read from the case's events: a release
    that needs a second reviewer, not withheld again since and not confirmed since, waits.
    A screening (again) replaces every override, and with them what waited."""
    waiting: dict[str, str] = {}
    for event, actor, detail in con.execute(
        """SELECT event, actor, detail FROM case_events
           WHERE case_id = ? AND event IN ('screened', 'rescreened', 'overridden', 'release_confirmed')
           ORDER BY event_id""", [case_id]).fetchall():
        detail = json.loads(detail) if detail else {}
        if event in ("screened", "rescreened"):
            waiting.clear()
        elif event == "overridden":
            second = set(detail.get("needs_second_reviewer", ()))
            for item, decision in detail.get("items", {}).items():
                if decision == "release" and item in second:
                    waiting[item] = actor
                else:
                    waiting.pop(item, None)
        else:
            for item in detail.get("items", {}):
                waiting.pop(item, None)
    return waiting


def confirm_releases(con: duckdb.DuckDBPyConnection, case: cases.CaseRow, items: list[str], *, reviewer: str,
                     reason: str | None, policy: Policy, now: datetime) -> int:
    """A second reviewer confirms releases that wait for one; returns how many. The second
    reviewer is neither the registrant nor the one who released the value. All or nothing."""
    check_reviewable(case)
    reviewer = check_four_eyes(case, reviewer)
    waiting = pending_second_reviews(con, case.case_id)
    for item in items:
        if item not in waiting:
            raise BadInput(f"case {case.case_id}: item {item!r} is not a release waiting for a second reviewer")
        if cases.same_actor(reviewer, waiting[item]):
            raise BadInput(f"four eyes: {reviewer!r} released {item} in case {case.case_id} and cannot also "
                           "confirm it: a second reviewer must")
    with transaction(con):
        cases.record_event(con, case.case_id, "release_confirmed", reviewer, now, policy_version=policy.version,
                           reason=reason or None, detail={"items": {item: waiting[item] for item in items}})
    return len(items)


def approve(con: duckdb.DuckDBPyConnection, case: cases.CaseRow, *, reviewer: str, reason: str | None,
            policy: Policy, now: datetime) -> None:
    """Record the approval; releasing is the caller's next step.

    Refused (BadInput) while a release waits for a second reviewer, and (ReturnedToReview)
    when the case's decisions are no longer today's: it is screened again and back at review."""
    from innsyn import rescreen

    check_reviewable(case)
    reviewer = check_four_eyes(case, reviewer)
    again = rescreen.rescreen(con, case, policy, now, actor=reviewer)
    if again.changed:
        raise ReturnedToReview(
            f"case {case.case_id} was not approved: the register changed since it was screened "
            f"({again.summary()}); it was screened again and waits for review "
            f"(`innsyn review show {case.case_id}`)")
    waiting = pending_second_reviews(con, case.case_id)
    if waiting:
        item, released_by = sorted(waiting.items())[0]
        raise BadInput(
            f"case {case.case_id}: {len(waiting)} released value(s) withheld under a graded-address or no-trace "
            f"rule wait for a second reviewer: `innsyn review confirm {case.case_id} {item} --reviewer NAME` "
            f"by someone other than {released_by!r} and the registrant")
    (data_hash,) = con.execute("SELECT data_hash FROM cases WHERE case_id = ?", [case.case_id]).fetchone()
    with transaction(con):
        cases.set_status(con, case.case_id, "approved")
        cases.record_event(con, case.case_id, "approved", reviewer, now, policy_version=policy.version,
                           data_hash=data_hash, reason=reason or None)
