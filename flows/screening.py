"""Screening: decide, set-wise in DuckDB, what of a case's consented class list is released.

The SQL in sql/ does the work, in two stages. Screening proper (`find_markers`) finds the
confidentiality markers where they belong, per class, pupil and guardian, straight from the
register: the case's classes (sql/screening_scope.sql), its guardians' rows read once
(sql/screening_guardians.sql), the graded households over the whole register
(sql/screening_households.sql: a grade protects everyone it can identify), the markers
(sql/screening_findings.sql): one row per marked class, pupil or guardian, never one per
value. Deciding (`write_decisions`) then picks the winning rule per pupil and guardian and
field (sql/screening_touches.sql), writes one row per consented value into case_items, the
case's frozen snapshot (sql/consented_class_list.sql, a view, read once by
sql/case_decisions.sql), and follows what one decision implies for others until nothing
changes (sql/case_decisions_consistent.sql: no trace takes the line, no released value equals
a withheld one, no bare names). This module loads the policy into the database, runs the
statements in order, and summarises the result in ids and counts (never values).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import duckdb

from innsyn.policy import MARKERS, Policy
from innsyn.resources import sql

# precedence: where several rules touch one value, the lowest wins: a rule consent cannot
# lift before one it can, a no-trace rule before one that leaves a trace, then the rule
# written first in the policy (rule_order is unique per rule, so a precedence names one rule)
POLICY_RULES_DDL = """
CREATE OR REPLACE TEMP TABLE policy_rules (
    rule_id VARCHAR, rule_order INTEGER, marker VARCHAR, field VARCHAR,
    consent_lifts BOOLEAN, no_trace BOOLEAN, requires_review BOOLEAN,
    legal_basis VARCHAR, letter_text VARCHAR,
    precedence INTEGER AS ((consent_lifts::INTEGER * 2 + (NOT no_trace)::INTEGER) * 1000000 + rule_order)
)
"""


@dataclass(frozen=True)
class ScreeningSummary:
    """What screening found, in counts only: safe to log and to return from a task."""

    case_id: str
    released_items: int
    withheld_items: int          # counted: excludes no-trace rules
    no_trace_items: int
    consent_conflicts: int       # ticked by a guardian, withheld all the same
    requires_review: bool
    thin_classes: tuple[str, ...]  # class ids where the withheld could be inferred
    data_hash: str


def load_policy_rules(con: duckdb.DuckDBPyConnection, policy: Policy) -> None:
    con.execute(POLICY_RULES_DDL)
    rows = policy.rule_rows()
    # one statement with every row bound: executemany costs a round trip per row
    placeholders = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
    con.execute(f"INSERT INTO policy_rules (rule_id, rule_order, marker, field, consent_lifts, no_trace, "
                f"requires_review, legal_basis, letter_text) VALUES {placeholders}",
                [value for row in rows for value in row])


def screen_case(
    con: duckdb.DuckDBPyConnection, case_id: str, policy: Policy, decided_at: datetime
) -> ScreeningSummary:
    """Decide every consented value of the case; replaces earlier decisions of the case."""
    find_markers(con, case_id, policy)
    write_decisions(con, case_id, policy, decided_at)
    return summarise(con, case_id, policy)


def find_markers(con: duckdb.DuckDBPyConnection, case_id: str, policy: Policy) -> None:
    """Screening proper: the temp table findings holds every marker touching the case."""
    con.execute(sql("normalize_address"))
    load_policy_rules(con, policy)
    con.execute(sql("screening_scope"), {"case_id": case_id})
    con.execute(sql("screening_guardians"))
    # A guardian's rows for pupils outside the case can only exist when the case's rows are
    # not all of the register's: a municipal case skips the look-up (a join of every row).
    (elsewhere,) = con.execute(
        "SELECT (SELECT count(*) FROM guardians) > (SELECT count(*) FROM screening_guardians)").fetchone()
    if elsewhere:
        con.execute(sql("screening_guardians_elsewhere"))
    find_households(con, policy)
    con.execute(sql("screening_findings"), {"rules": address_rules()})
    _check_markers_known(con)
    _execute_each(con, sql("case_household_members"), {"case_id": case_id})


def find_households(con: duckdb.DuckDBPyConnection, policy: Policy) -> None:
    """The temp table household_members: found over the whole register, or reused from the
    last screening of the same register under the same rules (household_cache)."""
    household = policy.household
    (register,) = con.execute(sql("register_fingerprint")).fetchone()
    fingerprint = f"{register}|{address_rules()}|{int(household.co_residents)}{int(household.whole_family)}"
    (found,) = con.execute("SELECT count(*) FROM household_cache WHERE fingerprint = ? AND kind = ''",
                           [fingerprint]).fetchone()
    if found:
        con.execute("""CREATE OR REPLACE TEMP TABLE household_members AS
                       SELECT kind, id, marker, via FROM household_cache WHERE fingerprint = ? AND kind <> ''""",
                    [fingerprint])
        return
    con.execute(sql("screening_households"), {
        "rules": address_rules(), "co_residents": household.co_residents, "whole_family": household.whole_family,
    })
    con.execute("DELETE FROM household_cache")
    con.execute("INSERT INTO household_cache VALUES (?, '', '', '', '')", [fingerprint])
    con.execute("INSERT INTO household_cache SELECT ?, kind, id, marker, via FROM household_members", [fingerprint])


def address_rules() -> str:
    """The version of the address normalisation: a hash of sql/normalize_address.sql."""
    return hashlib.sha256(sql("normalize_address").encode()).hexdigest()[:16]


def key_street_addresses(con: duckdb.DuckDBPyConnection) -> None:
    """Normalise every guardian street spelling once, for every screening after it (the
    import calls this in its transaction)."""
    con.execute(sql("normalize_address"))
    _execute_each(con, sql("street_keys"), {"rules": address_rules()})


def _execute_each(con: duckdb.DuckDBPyConnection, statements: str, parameters: dict) -> None:
    """Several statements with parameters: DuckDB binds parameters one statement at a time."""
    for statement in statements.split(";\n"):
        if statement.strip():
            con.execute(statement, parameters)


def write_decisions(con: duckdb.DuckDBPyConnection, case_id: str, policy: Policy, decided_at: datetime) -> None:
    """One case_items row per consented value, decided by the markers find_markers found."""
    con.execute(sql("screening_touches"))
    con.execute(sql("consented_class_list"))
    con.execute("DELETE FROM case_items WHERE case_id = ?", [case_id])
    con.execute(
        sql("case_decisions"),
        {"case_id": case_id, "decided_by": policy.decided_by, "decided_at": decided_at},
    )
    make_consistent(con, case_id)


#: Each round withholds more, and a case has finitely many values: this is never reached
#: unless the statements are wrong, and then nothing may be released.
MAX_CONSISTENCY_ROUNDS = 50


def make_consistent(con: duckdb.DuckDBPyConnection, case_id: str) -> int:
    """Apply what one decision implies for others (sql/case_decisions_consistent.sql) until
    nothing changes; how many values it withheld. Needs the address macros and the temp
    table policy_rules (find_markers loads both; apply_consequences does for a review)."""
    changed = 0
    for _ in range(MAX_CONSISTENCY_ROUNDS):
        con.execute(sql("case_decisions_consistent"), {"case_id": case_id})
        (pending,) = con.execute("SELECT count(*) FROM decision_consequences").fetchone()
        if not pending:
            return changed
        con.execute(sql("case_decisions_apply"), {"case_id": case_id})
        changed += pending
    raise RuntimeError(f"case {case_id}: decisions did not settle in {MAX_CONSISTENCY_ROUNDS} rounds")


def apply_consequences(con: duckdb.DuckDBPyConnection, case_id: str, policy: Policy) -> int:
    """After a reviewer's change: what it implies for the other values of the case."""
    con.execute(sql("normalize_address"))
    load_policy_rules(con, policy)
    return make_consistent(con, case_id)


def _check_markers_known(con: duckdb.DuckDBPyConnection) -> None:
    """A marker no policy can name (an address grade the register should not hold) would
    silently withhold nothing: stop instead. The message names the marker, never a person."""
    unknown = [marker for (marker,) in con.execute("SELECT DISTINCT marker FROM findings ORDER BY marker").fetchall()
               if marker not in MARKERS]
    if unknown:
        raise ValueError(f"screening found marker {unknown[0]!r}, which no policy can name "
                         f"(known: {', '.join(MARKERS)}): check the register's address_protection values")


def summarise(con: duckdb.DuckDBPyConnection, case_id: str, policy: Policy) -> ScreeningSummary:
    released, withheld, no_trace, review, data_hash = con.execute(
        """
        SELECT count(*) FILTER (decision = 'release'),
               count(*) FILTER (decision = 'withhold' AND NOT no_trace),
               count(*) FILTER (decision = 'withhold' AND no_trace),
               coalesce(bool_or(requires_review), false),
               -- a fingerprint of the decisions that needs no ordering: the count and the XOR
               -- of each item's md5 (item ids are unique in a case). Ordering millions of rows
               -- into one string to hash took 8 of a municipal case's 21 s of screening.
               sha256(count(*) || ':' || coalesce(bit_xor(md5_number(
                   item_id || '=' || value || '>' || decision || ':' || coalesce(rule, '')))::VARCHAR, ''))
        FROM case_items WHERE case_id = ?
        """,
        [case_id],
    ).fetchone()
    thin = thin_classes(con, case_id, policy.settings.min_released_pupils)
    return ScreeningSummary(
        case_id=case_id,
        released_items=released,
        withheld_items=withheld,
        no_trace_items=no_trace,
        consent_conflicts=withheld + no_trace,  # every value in the list was ticked
        requires_review=review
        or (bool(thin))
        or (policy.settings.review_refusals and released == 0 and withheld + no_trace > 0)
        or (policy.settings.review_consent_conflicts and withheld + no_trace > 0),
        thin_classes=thin,
        data_hash=data_hash,
    )


def thin_classes(con: duckdb.DuckDBPyConnection, case_id: str, minimum: int) -> tuple[str, ...]:
    """Classes where some pupils are withheld and fewer than `minimum` are released.

    With so few left, a reader who knows the class could name the withheld by elimination.
    A pupil counts as released when the public list shows their row: something of it is
    released and the pupil's own name need not leave no trace (such a row is dropped whole).
    """
    rows = con.execute(
        """
        WITH pupils AS (
            SELECT class_id, student_id,
                   bool_or(decision = 'release') AND NOT bool_or(no_trace AND guardian_id IS NULL) AS any_released,
                   bool_or(decision = 'withhold') AS any_withheld
            FROM case_items
            WHERE case_id = $case_id
              -- only a class with something withheld can be thin: the rest need no per-pupil look
              AND class_id IN (SELECT class_id FROM case_items WHERE case_id = $case_id AND decision = 'withhold')
            GROUP BY class_id, student_id
        )
        SELECT class_id
        FROM pupils
        GROUP BY class_id
        HAVING count(*) FILTER (any_released) < $minimum AND count(*) FILTER (NOT any_released AND any_withheld) > 0
        ORDER BY class_id
        """,
        {"case_id": case_id, "minimum": minimum},
    ).fetchall()
    return tuple(class_id for (class_id,) in rows)
