"""Screening a case again against today's register, before its answer is released.

A case waits for review with the decisions screening made when it was registered: a snapshot
of the register (case_items), fingerprinted by cases.data_hash. The register can change while
it waits: a pupil's address is graded strengt fortrolig, a guardian moves to an institution.
Releasing from the snapshot would release what is now confidential. So before an approval is
recorded (and by hand, `innsyn review rescreen CASE`), the case is screened again under the
policy: if the fingerprint (or the policy) is the same, nothing changes and the reviewer's
overrides stay; if not, the new decisions replace the old ones, the reviewer's overrides are
dropped (they were made on another register), and the case goes back to review with the
difference in a `rescreened` event: the ids of the items that changed, came or went, and
counts. Ids and counts only, never a value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import duckdb

from innsyn import cases
from innsyn.policy import Policy, policy_weaknesses
from innsyn.resources import sql
from innsyn.screening import screen_case

#: At most this many item ids in an event's detail (a bulk case can change thousands); the
#: counts are always whole.
MAX_IDS_IN_EVENT = 500


@dataclass(frozen=True)
class Rescreening:
    """What screening again found, in ids and counts."""

    case_id: str
    changed: bool
    previous_data_hash: str | None
    data_hash: str
    changed_items: tuple[str, ...] = ()   # value, decision, rule or trace differ
    added_items: tuple[str, ...] = ()     # values the register has now and the case had not
    removed_items: tuple[str, ...] = ()   # values the case had and the register has no more
    overrides_dropped: tuple[str, ...] = ()  # reviewer overrides the new decisions replace
    policy_changed: bool = False
    no_trace_items: frozenset[str] = frozenset()  # items that leave no trace, before or after

    @property
    def counts(self) -> dict[str, int]:
        return {"changed": len(self.changed_items), "added": len(self.added_items),
                "removed": len(self.removed_items), "overrides_dropped": len(self.overrides_dropped)}

    def as_json(self) -> dict:
        fields = asdict(self)
        del fields["no_trace_items"]  # the ids are in the lists already; the case's record says which
        return {**fields, "counts": self.counts}

    def event_detail(self) -> dict:
        detail = {"previous_data_hash": self.previous_data_hash, "counts": self.counts,
                  "policy_changed": self.policy_changed}
        for key in ("changed_items", "added_items", "removed_items", "overrides_dropped"):
            detail[key] = list(getattr(self, key)[:MAX_IDS_IN_EVENT])
        return detail

    def summary(self) -> str:
        """One line: what changed, in counts of the items that leave a trace.

        The line leaves the case's record (a terminal, a refused approval that Prefect stores):
        a count of items that leave no trace would say that a strengt fortrolig household is
        there. The `rescreened` event keeps every id and count."""
        def traced(items: tuple[str, ...]) -> int:
            return sum(1 for item in items if item not in self.no_trace_items)

        counts = {"changed": traced(self.changed_items), "added": traced(self.added_items),
                  "removed": traced(self.removed_items), "overrides_dropped": traced(self.overrides_dropped)}
        parts = [f"{counts['changed']} items changed", f"{counts['added']} added", f"{counts['removed']} removed"]
        if not any(counts.values()):
            parts = ["the decisions changed"]
        if counts["overrides_dropped"]:
            parts.append(f"{counts['overrides_dropped']} reviewer overrides dropped")
        if self.policy_changed:
            parts.append("another policy")
        return ", ".join(parts)


def rescreen(con: duckdb.DuckDBPyConnection, case: cases.CaseRow, policy: Policy, now: datetime,
             *, actor: str) -> Rescreening:
    """Screen the case again; when anything differs, keep the new decisions and return the case
    to review (status awaiting_review, a `rescreened` event). When nothing differs, the case is
    left exactly as it was, overrides and all. All or nothing."""
    from innsyn.case_documents import build_answer

    previous_hash, previous_policy = con.execute(
        "SELECT data_hash, policy_hash FROM cases WHERE case_id = ?", [case.case_id]).fetchone()
    con.begin()
    try:
        con.execute("""CREATE OR REPLACE TEMP TABLE rescreen_before AS
                       SELECT item_id, value, decision, rule, no_trace, consent_state
                       FROM case_items WHERE case_id = ?""", [case.case_id])
        summary = screen_case(con, case.case_id, policy, now)
        policy_changed = previous_policy != policy.sha256
        if summary.data_hash == previous_hash and not policy_changed:
            con.rollback()  # the snapshot is today's register: keep the case as it is
            return Rescreening(case.case_id, False, previous_hash, previous_hash)
        difference = con.execute(sql("case_rescreen_difference"), {"case_id": case.case_id}).fetchall()
        overridden = con.execute(
            "SELECT item_id FROM rescreen_before WHERE consent_state = 'overridden' ORDER BY item_id").fetchall()
        no_trace = con.execute(
            """SELECT item_id FROM rescreen_before WHERE no_trace
               UNION SELECT item_id FROM case_items WHERE case_id = ? AND no_trace""", [case.case_id]).fetchall()
        result = Rescreening(
            case.case_id, True, previous_hash, summary.data_hash,
            changed_items=tuple(item for item, change in difference if change == "changed"),
            added_items=tuple(item for item, change in difference if change == "added"),
            removed_items=tuple(item for item, change in difference if change == "removed"),
            overrides_dropped=tuple(item for (item,) in overridden),
            policy_changed=policy_changed,
            no_trace_items=frozenset(item for (item,) in no_trace),
        )
        outcome = build_answer(con, case.case_id, policy, rows=False).outcome
        cases.set_status(con, case.case_id, "awaiting_review", outcome=outcome, policy_name=policy.name,
                         policy_version=policy.version, policy_hash=policy.sha256, data_hash=summary.data_hash)
        detail = result.event_detail()
        if weaknesses := policy_weaknesses(policy):
            detail["policy_weaknesses"] = weaknesses
        cases.record_event(con, case.case_id, "rescreened", actor, now, policy_version=policy.version,
                           data_hash=summary.data_hash, detail=detail)
        cases.record_event(con, case.case_id, "awaiting_review", actor, now, policy_version=policy.version,
                           reason="screened again: the register or the policy changed since screening")
        con.execute("DROP TABLE rescreen_before")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return result
