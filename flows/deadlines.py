"""Case deadlines: how many working days each case has used, and which deadlines it keeps.

Every case carries its day of receipt, a target date (our own goal: by default three
working days, the guidance's "normally within 1-3 working days"), the implied-refusal date
(five working days: no answer by then counts as a refusal, offentleglova § 32 first
paragraph), the day it was decided and released, and the working days it used.

The dates are computed on the fly from `received_at` rather than stored on the case: a
change of the target (INNSYN_TARGET_WORKING_DAYS or --target-days) or a corrected holiday
calendar then applies to every case alike, and there is one source of truth for them. The
SQL (sql/case_deadlines.sql) counts set-wise against a temp table of working days that the
Python calendar (innsyn.workdays) fills for the range the cases need.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import duckdb

from innsyn import clock
from innsyn.request import EARLIEST_RECEIPT, BadInput
from innsyn.resources import sql
from innsyn.workdays import load_working_days

STATUTORY_WORKING_DAYS = 5
DEFAULT_TARGET_WORKING_DAYS = 3
TARGET_ENV = "INNSYN_TARGET_WORKING_DAYS"
#: Calendar days of working-day table after the last day a case needs: five working days
#: never span more than 12 calendar days (Easter), so this is ample.
_CALENDAR_MARGIN = timedelta(days=40)
#: How far after today a day of receipt may lie and still be counted (clocks differ a little;
#: a test clock may stand before the cases it lists).
_FUTURE_RECEIPTS = timedelta(days=366)


def target_working_days(option: int | None = None) -> int:
    """Our target in working days: the option if given, else $INNSYN_TARGET_WORKING_DAYS, else 3."""
    if option is not None:
        value, where = option, "--target-days"
    else:
        raw = os.environ.get(TARGET_ENV, "").strip()
        if not raw:
            return DEFAULT_TARGET_WORKING_DAYS
        if not raw.isdigit():
            raise BadInput(f"{TARGET_ENV}: expected a whole number of working days, got {raw!r}")
        value, where = int(raw), TARGET_ENV
    if not 0 <= value <= STATUTORY_WORKING_DAYS:
        raise BadInput(f"{where}: expected 0 to {STATUTORY_WORKING_DAYS} working days, got {value}")
    return value


def today() -> date:
    return clock.now().date()


@dataclass(frozen=True)
class CaseDeadline:
    """One case's dates and deadline state: ids, dates and counts only."""

    case_id: str
    request_id: str
    status: str
    outcome: str | None
    requester_kind: str
    received_date: date | None   # None: before year 1 (a case registered with an absurd date)
    target_date: date | None     # None, and the working days too: a day of receipt innsyn
    implied_refusal_date: date | None  # cannot count from (deadline_state "unknown")
    decided_date: date | None
    released_date: date | None
    working_days_used: int | None
    is_open: bool
    deadline_state: str          # within_target | past_target | past_limit | unknown
    overdue: bool                # open and past the target date (or with none to keep)
    working_days_past_target: int | None
    working_days_past_limit: int | None

    def as_json(self) -> dict:
        return {key: value.isoformat() if isinstance(value, date) else value
                for key, value in asdict(self).items()}


def countable_days(on: date) -> tuple[date, date]:
    """The days of receipt a deadline can be counted from, as it stands on day `on`: from the
    first day a request may have (innsyn.request.EARLIEST_RECEIPT) to a year after `on`.

    Request parsing refuses any other day; a case an older version registered with one (year
    1, year 9999) gets no deadlines instead of a calendar of millions of days, or none at all.
    """
    return EARLIEST_RECEIPT.date(), on + _FUTURE_RECEIPTS


def load_case_deadlines(con: duckdb.DuckDBPyConnection, *, on: date, target_days: int) -> None:
    """Fill the temp table case_deadlines (sql/case_deadlines.sql) as it stands on day `on`."""
    first_day, last_day = countable_days(on)
    ((first, last),) = con.execute(sql("case_deadline_range"),
                                   {"first_day": first_day, "last_day": last_day}).fetchall()
    first = min(first or on, on)
    last = max(last or on, on)
    load_working_days(con, first, last + _CALENDAR_MARGIN)
    con.execute(sql("case_deadlines"),
                {"today": on, "target_days": target_days, "refusal_days": STATUTORY_WORKING_DAYS,
                 "first_day": first_day, "last_day": last_day})


def case_deadlines(
    con: duckdb.DuckDBPyConnection,
    *,
    on: date,
    target_days: int,
    open_only: bool = False,
    overdue_only: bool = False,
) -> list[CaseDeadline]:
    """Every case with its deadlines, overdue first, then open, then the latest decided."""
    load_case_deadlines(con, on=on, target_days=target_days)
    cursor = con.execute(sql("case_deadline_list"), {"open_only": open_only, "overdue_only": overdue_only})
    columns = [d[0] for d in cursor.description]
    return [CaseDeadline(**dict(zip(columns, row))) for row in cursor.fetchall()]
