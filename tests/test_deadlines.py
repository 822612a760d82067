"""Every case carries its deadlines in working days (offentleglova § 29 and § 32).

Cases go straight into a real DuckDB file; the dates come from sql/case_deadlines.sql,
counted set-wise against the Python calendar. The expected dates are counted by hand on the
almanac, and a sweep over a whole year checks the SQL against the calendar day by day.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from conftest import innsyn, insert_case
from innsyn.deadlines import case_deadlines, target_working_days
from innsyn.request import BadInput
from innsyn.workdays import add_working_days, working_days_between

#: `innsyn cases` never touches Prefect: nothing answers at this address.
NO_PREFECT = "http://127.0.0.1:9/api"


def deadlines_by_case(con, on: str, target_days: int = 3) -> dict:
    return {row.case_id: row for row in case_deadlines(con, on=date.fromisoformat(on), target_days=target_days)}


def test_a_request_received_on_the_friday_afternoon_before_easter(con):
    insert_case(con, "E-1", "2026-03-27T16:45:00+01:00")
    case = deadlines_by_case(con, on="2026-04-07")["E-1"]
    assert case.received_date == date(2026, 3, 27)
    assert case.target_date == date(2026, 4, 1)            # Mon 30, Tue 31, Wed 1
    assert case.implied_refusal_date == date(2026, 4, 8)   # Thu 2 - Mon 6 are holidays; Tue 7, Wed 8
    assert case.working_days_used == 4                     # ... and Tuesday 7 April is the fourth
    assert case.is_open and case.overdue and case.deadline_state == "past_target"


def test_a_request_received_on_maundy_thursday_starts_counting_after_easter(con):
    insert_case(con, "E-2", "2026-04-02T10:00:00+02:00")
    case = deadlines_by_case(con, on="2026-04-06")["E-2"]
    assert (case.target_date, case.implied_refusal_date) == (date(2026, 4, 9), date(2026, 4, 13))
    assert case.working_days_used == 0 and not case.overdue and case.deadline_state == "within_target"


@pytest.mark.parametrize("received_at, target, limit", [
    ("2026-11-23T09:15:00+01:00", "2026-11-26", "2026-11-30"),   # Monday
    ("2026-11-27T15:00:00+01:00", "2026-12-02", "2026-12-04"),   # Friday afternoon
    ("2026-11-28T11:00:00+01:00", "2026-12-02", "2026-12-04"),   # Saturday, via eInnsyn
    ("2026-11-26T23:30:00+00:00", "2026-12-02", "2026-12-04"),   # Thursday in UTC, Friday in Oslo
    ("2026-12-23T09:00:00+01:00", "2026-12-29", "2026-12-31"),   # Christmas Eve counts, the 25th does not
    ("2026-05-13T09:00:00+02:00", "2026-05-19", "2026-05-21"),   # Ascension Day
    ("2026-05-22T09:00:00+02:00", "2026-05-28", "2026-06-01"),   # Whit Monday
    ("2027-05-12T09:00:00+02:00", "2027-05-18", "2027-05-20"),   # 2027: 17 May and Whit Monday at once
])
def test_target_and_implied_refusal_dates_skip_weekends_and_holidays(con, received_at, target, limit):
    insert_case(con, "C-1", received_at)
    case = deadlines_by_case(con, on="2027-12-31")["C-1"]
    assert (case.target_date.isoformat(), case.implied_refusal_date.isoformat()) == (target, limit)


@pytest.mark.parametrize("released_at, used, state", [
    ("2026-03-27T17:00:00+01:00", 0, "within_target"),   # the same afternoon
    ("2026-04-01T12:00:00+02:00", 3, "within_target"),   # on the target date
    ("2026-04-07T12:00:00+02:00", 4, "past_target"),
    ("2026-04-08T15:00:00+02:00", 5, "past_target"),     # the last day before it counts as refused
    ("2026-04-09T09:00:00+02:00", 6, "past_limit"),
])
def test_working_days_used_until_the_decision(con, released_at, used, state):
    insert_case(con, "E-1", "2026-03-27T16:45:00+01:00", released_at=released_at, outcome="innvilget")
    case = deadlines_by_case(con, on="2026-11-24")["E-1"]
    assert case.decided_date == datetime.fromisoformat(released_at).date()
    assert (case.working_days_used, case.deadline_state, case.is_open, case.overdue) == (used, state, False, False)


def test_an_answer_on_the_saturday_after_the_fifth_working_day_is_too_late(con):
    insert_case(con, "C-1", "2026-11-20T09:00:00+01:00", released_at="2026-11-28T10:00:00+01:00", outcome="innvilget")
    case = deadlines_by_case(con, on="2026-11-30")["C-1"]
    assert case.implied_refusal_date == date(2026, 11, 27)
    assert (case.working_days_used, case.deadline_state) == (5, "past_limit")


def test_the_target_is_configurable_and_applies_to_old_cases_too(con, monkeypatch):
    insert_case(con, "C-1", "2026-11-23T09:15:00+01:00")
    assert deadlines_by_case(con, on="2026-11-24", target_days=1)["C-1"].target_date == date(2026, 11, 24)
    monkeypatch.setenv("INNSYN_TARGET_WORKING_DAYS", "2")
    assert target_working_days() == 2
    assert target_working_days(4) == 4  # the option wins over the environment
    assert deadlines_by_case(con, on="2026-11-24", target_days=target_working_days())["C-1"].target_date == date(2026, 11, 25)


@pytest.mark.parametrize("value", ["three", "-1", "6"])
def test_a_target_that_makes_no_sense_is_bad_input(monkeypatch, value):
    monkeypatch.setenv("INNSYN_TARGET_WORKING_DAYS", value)
    with pytest.raises(BadInput, match="INNSYN_TARGET_WORKING_DAYS"):
        target_working_days()


def test_overdue_cases_come_first(con):
    insert_case(con, "DONE", "2026-11-16T09:00:00+01:00", released_at="2026-11-17T09:00:00+01:00", outcome="innvilget")
    insert_case(con, "FRESH", "2026-11-24T08:00:00+01:00")
    insert_case(con, "LATE", "2026-11-18T09:00:00+01:00")        # target 23 Nov, limit 25 Nov
    insert_case(con, "REFUSED", "2026-11-10T09:00:00+01:00")     # limit 17 Nov: counts as refused
    rows = case_deadlines(con, on=date(2026, 11, 24), target_days=3)
    assert [row.case_id for row in rows] == ["REFUSED", "LATE", "FRESH", "DONE"]
    assert [row.deadline_state for row in rows] == ["past_limit", "past_target", "within_target", "within_target"]
    assert [row.case_id for row in case_deadlines(con, on=date(2026, 11, 24), target_days=3, open_only=True)] == \
        ["REFUSED", "LATE", "FRESH"]
    overdue = case_deadlines(con, on=date(2026, 11, 24), target_days=3, overdue_only=True)
    assert [(row.case_id, row.working_days_past_target, row.working_days_past_limit) for row in overdue] == \
        [("REFUSED", 7, 5), ("LATE", 1, 0)]


def test_the_sql_agrees_with_the_calendar_for_every_day_of_a_year(con):
    """365 cases, one received each day of 2026 at 15:00, decided 0 to 9 days later."""
    first = date(2026, 1, 1)
    expected = {}
    for offset in range(365):
        received = first + timedelta(days=offset)
        decided = received + timedelta(days=offset % 10)
        case_id = f"Y-{offset:03d}"
        insert_case(con, case_id, f"{received}T15:00:00+01:00", released_at=f"{decided}T15:00:00+01:00",
                    outcome="innvilget")
        expected[case_id] = (add_working_days(received, 3), add_working_days(received, 5),
                             working_days_between(received, decided))
    found = {row.case_id: (row.target_date, row.implied_refusal_date, row.working_days_used)
             for row in case_deadlines(con, on=date(2027, 1, 15), target_days=3)}
    assert found == expected


def test_innsyn_cases_lists_the_dates_as_json(tmp_path: Path):
    from innsyn import db as innsyn_db

    with innsyn_db.open_db(tmp_path / "innsyn.duckdb") as connection:
        innsyn_db.init_schema(connection)
        insert_case(connection, "2026-0001", "2026-11-18T09:00:00+01:00")
        insert_case(connection, "2026-0002", "2026-11-16T09:00:00+01:00",
                    released_at="2026-11-17T09:00:00+01:00", outcome="innvilget")
    listed = innsyn(tmp_path, NO_PREFECT, "cases", "--open")
    assert listed.returncode == 0, listed.stderr
    result = json.loads(listed.stdout)
    assert result["as_of"] == "2026-11-24" and result["target_working_days"] == 3
    assert result["cases"] == [{
        "case_id": "2026-0001", "request_id": "2026/0001", "status": "awaiting_review", "outcome": None,
        "requester_kind": "journalist", "received_date": "2026-11-18", "target_date": "2026-11-23",
        "implied_refusal_date": "2026-11-25", "decided_date": None, "released_date": None,
        "working_days_used": 4, "is_open": True, "deadline_state": "past_target", "overdue": True,
        "working_days_past_target": 1, "working_days_past_limit": 0,
    }]
    assert "Kari" not in listed.stdout + listed.stderr  # the requester stays in the database

    bad = innsyn(tmp_path, NO_PREFECT, "cases", "--target-days", "9")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--target-days" in bad.stderr


# Days of receipt that request parsing refuses today, but an older version registered: a
# case with one must not fail the list for the whole database, nor take a calendar of
# millions of days to count.
ABSURD_RECEIPTS = {
    "OLD-1": "0001-06-01T12:00:00+01:00",      # year 1
    "OLD-2": "0001-01-01T00:00:00+02:00",      # year 1, but in Oslo time still before it (1 BC)
    "OLD-3": "9999-12-31T12:00:00+00:00",      # the last day Python knows
    "OLD-4": "infinity",                       # DuckDB's own
}


def test_a_case_registered_with_an_absurd_day_of_receipt_has_no_deadlines_and_fails_nothing(tmp_path: Path):
    from innsyn import db as innsyn_db

    with innsyn_db.open_db(tmp_path / "innsyn.duckdb") as connection:
        innsyn_db.init_schema(connection)
        insert_case(connection, "2026-0001", "2026-11-18T09:00:00+01:00")
        for case_id, received_at in ABSURD_RECEIPTS.items():
            insert_case(connection, case_id, received_at)

    listed = innsyn(tmp_path, NO_PREFECT, "cases")

    assert listed.returncode == 0, listed.stderr
    found = {case["case_id"]: case for case in json.loads(listed.stdout)["cases"]}
    assert set(found) == {"2026-0001", *ABSURD_RECEIPTS}
    assert (found["2026-0001"]["target_date"], found["2026-0001"]["deadline_state"]) == ("2026-11-23", "past_target")
    for case_id in ABSURD_RECEIPTS:  # listed, with no dates counted from it, for someone to correct
        case = found[case_id]
        assert (case["target_date"], case["implied_refusal_date"], case["working_days_used"]) == (None, None, None)
        assert (case["deadline_state"], case["is_open"], case["overdue"]) == ("unknown", True, True), case_id
    assert found["OLD-1"]["received_date"] == "0001-06-01"
    assert found["OLD-2"]["received_date"] is None  # no client can show 1 BC
    assert "no deadlines: correct the date of receipt" in listed.stderr
