"""Norwegian working days: the calendar the law counts our deadlines in.

Offentleglova § 29 and § 32 measure us in working days (arbeidsdagar). A working day is
Monday to Friday except the public holidays: 1 January, Maundy Thursday, Good Friday,
Easter Sunday and Monday, 1 May, 17 May, Ascension Day, Whit Sunday and Monday, 25 and
26 December. Christmas Eve and New Year's Eve are ordinary working days in law.

The holiday dates come from the maintained `holidays` package (the movable feasts follow
Easter), never from our own date arithmetic; tests/test_workdays.py pins them against a
table of known dates. Sundays are left out of its list (`include_sundays=False`): they are
weekend days anyway, and we want the list to say which days are *holidays*.

A deadline of n working days counts from the day after receipt, in Oslo time: a request
received on a Friday afternoon has the following Monday as its first working day.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from functools import cache

import duckdb
import holidays

from innsyn.clock import OSLO

SATURDAY = 5


def oslo_date(moment: datetime | date) -> date:
    """The calendar day in Oslo on which `moment` falls (a date is taken as it is)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("a moment must carry its time zone to know its day in Oslo")
        return moment.astimezone(OSLO).date()
    return moment


@cache
def public_holidays(year: int) -> dict[date, str]:
    """Norway's public holidays in `year` (helligdager and 1 and 17 May), with their names."""
    return dict(holidays.Norway(years=year, include_sundays=False))


def is_working_day(day: date) -> bool:
    return day.weekday() < SATURDAY and day not in public_holidays(day.year)


def add_working_days(received: datetime | date, n: int) -> date:
    """The n-th working day after the day of receipt (n = 0: the day of receipt itself)."""
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
    day = oslo_date(received)
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def working_days_between(start: datetime | date, end: datetime | date) -> int:
    """Working days after `start` up to and including `end`: 0 when decided the same day,
    or when `end` is not after `start`."""
    return sum(1 for _ in working_days(oslo_date(start) + timedelta(days=1), oslo_date(end)))


def working_days(first: date, last: date) -> Iterator[date]:
    """Every working day from `first` to `last`, both included."""
    day = first
    while day <= last:
        if is_working_day(day):
            yield day
        day += timedelta(days=1)


def load_working_days(con: duckdb.DuckDBPyConnection, first: date, last: date) -> None:
    """The temp table working_days(day) for [first, last], so SQL can count set-wise.

    A temp table: it works on a read-only connection and disappears with it.
    """
    con.execute("CREATE OR REPLACE TEMP TABLE working_days (day DATE PRIMARY KEY)")
    con.executemany("INSERT INTO working_days VALUES (?)", [(day,) for day in working_days(first, last)])
