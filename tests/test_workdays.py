"""The working-day calendar the law counts in (domain.md, "Time").

The holidays come from the `holidays` package; these tables, written out by hand from the
almanac, are what it must agree with, year by year, including the movable Easter, Ascension
and Whitsun days and 2027, when Whit Monday falls on 17 May.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from innsyn.workdays import add_working_days, is_working_day, public_holidays, working_days_between


def d(text: str) -> date:
    return date.fromisoformat(text)


EASTER_SUNDAY = {2024: d("2024-03-31"), 2025: d("2025-04-20"), 2026: d("2026-04-05"), 2027: d("2027-03-28"),
                 2028: d("2028-04-16")}

PUBLIC_HOLIDAYS = {
    2024: ["2024-01-01", "2024-03-28", "2024-03-29", "2024-03-31", "2024-04-01", "2024-05-01", "2024-05-09",
           "2024-05-17", "2024-05-19", "2024-05-20", "2024-12-25", "2024-12-26"],
    2025: ["2025-01-01", "2025-04-17", "2025-04-18", "2025-04-20", "2025-04-21", "2025-05-01", "2025-05-17",
           "2025-05-29", "2025-06-08", "2025-06-09", "2025-12-25", "2025-12-26"],
    2026: ["2026-01-01", "2026-04-02", "2026-04-03", "2026-04-05", "2026-04-06", "2026-05-01", "2026-05-14",
           "2026-05-17", "2026-05-24", "2026-05-25", "2026-12-25", "2026-12-26"],
    # Whit Monday is 17 May: eleven dates, one of them two holidays
    2027: ["2027-01-01", "2027-03-25", "2027-03-26", "2027-03-28", "2027-03-29", "2027-05-01", "2027-05-06",
           "2027-05-16", "2027-05-17", "2027-12-25", "2027-12-26"],
}


@pytest.mark.parametrize("year", sorted(PUBLIC_HOLIDAYS))
def test_the_public_holidays_are_exactly_the_almanacs(year):
    assert sorted(public_holidays(year)) == [d(day) for day in PUBLIC_HOLIDAYS[year]]


@pytest.mark.parametrize("year, easter", sorted(EASTER_SUNDAY.items()))
def test_the_easter_days_move_with_easter_sunday(year, easter):
    holidays = public_holidays(year)
    for offset in (-3, -2, 0, 1, 39, 49, 50):  # Maundy Thursday ... Whit Monday
        assert easter + timedelta(days=offset) in holidays, (year, offset)


@pytest.mark.parametrize("day, working", [
    ("2026-11-23", True),    # a Monday
    ("2026-11-28", False),   # Saturday
    ("2026-11-29", False),   # Sunday
    ("2026-04-02", False),   # Maundy Thursday
    ("2026-04-06", False),   # Easter Monday
    ("2026-05-01", False),   # 1 May, a Friday
    ("2026-05-14", False),   # Ascension Day
    ("2026-05-25", False),   # Whit Monday
    ("2026-12-24", True),    # Christmas Eve is a working day in law
    ("2026-12-31", True),    # and so is New Year's Eve
    ("2027-05-17", False),   # Constitution Day and Whit Monday
    ("2025-05-17", False),   # Constitution Day on a Saturday
])
def test_which_days_are_working_days(day, working):
    assert is_working_day(d(day)) is working


@pytest.mark.parametrize("received, n, expected", [
    ("2026-11-23", 0, "2026-11-23"),   # zero days: the day itself
    ("2026-11-23", 3, "2026-11-26"),   # Monday + 3 = Thursday
    ("2026-11-26", 3, "2026-12-01"),   # Thursday + 3 crosses the weekend
    ("2026-11-28", 1, "2026-11-30"),   # received on a Saturday: Monday is the first day
    ("2026-03-27", 5, "2026-04-08"),   # the Friday before Easter week
    ("2024-03-27", 1, "2024-04-02"),   # Wednesday before Easter 2024: next is the Tuesday after
    ("2025-04-16", 1, "2025-04-22"),   # and 2025
    ("2026-12-23", 5, "2026-12-31"),   # Christmas: 24, 28, 29, 30, 31
    ("2026-05-13", 1, "2026-05-15"),   # over Ascension Day
])
def test_adding_working_days_counts_from_the_day_after_receipt(received, n, expected):
    assert add_working_days(d(received), n) == d(expected)


def test_a_moment_counts_on_its_day_in_oslo():
    late_thursday_utc = datetime.fromisoformat("2026-03-26T23:30:00+00:00")  # Friday 00:30 in Oslo
    assert add_working_days(late_thursday_utc, 1) == d("2026-03-30")
    assert add_working_days(datetime.fromisoformat("2026-03-26T22:30:00+00:00"), 1) == d("2026-03-27")


def test_a_moment_without_a_time_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        add_working_days(datetime(2026, 3, 26, 12, 0), 1)


@pytest.mark.parametrize("start, end, expected", [
    ("2026-11-23", "2026-11-23", 0),   # decided the same day
    ("2026-11-23", "2026-11-26", 3),
    ("2026-11-27", "2026-11-30", 1),   # Friday to Monday
    ("2026-03-27", "2026-04-08", 5),   # over Easter
    ("2026-11-26", "2026-11-23", 0),   # an end before the start counts nothing
])
def test_working_days_between_two_days(start, end, expected):
    assert working_days_between(d(start), d(end)) == expected


def test_adding_and_counting_agree_for_every_day_of_two_years():
    day = d("2026-01-01")
    while day < d("2028-01-01"):
        for n in (1, 3, 5):
            assert working_days_between(day, add_working_days(day, n)) == n, (day, n)
        day += timedelta(days=1)
