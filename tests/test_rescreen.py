"""Stale decisions: a case is never released from a snapshot of a register that has changed.

A case waits for review with the decisions screening made from the register as it was. While
it waits, the school system's next export grades a pupil's address strengt fortrolig. An
approval now screens the case again first; the decisions differ, so the approval is refused
(exit 2, one line), the case is screened again and back at review with the difference (item
ids and counts) in a `rescreened` event, and only a new approval releases it: without the
pupil. `innsyn review rescreen CASE` does the same by hand, and leaves a case whose register
has not changed exactly as it was, the reviewer's overrides included.

The real `innsyn` command, a real database re-imported from a real export, real PDFs.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from conftest import canary_case_awaiting_review, copy_of_case_folder, innsyn, pdf_text, squeeze

CASE = "2026-7801"
ASE = sorted(["E1/pupil_name", "E1/F1/guardian_name", "E1/F1/email", "E1/F1/phone", "E1/F1/address"])
INSTITUTION_ADDRESS = "E2/F2/address"


@pytest.fixture(scope="module")
def case_awaiting_review(tmp_path_factory, prefect_api_url) -> Path:
    """Built once with the real CLI; each test changes a copy of it."""
    return canary_case_awaiting_review(tmp_path_factory.mktemp("rescreen"), prefect_api_url, "2026/7801")


@pytest.fixture
def case(tmp_path, case_awaiting_review) -> Path:
    return copy_of_case_folder(case_awaiting_review, tmp_path / "case")


def grade_ase_strengt_fortrolig(workdir: Path, prefect_api_url: str) -> None:
    """The school system's next export: Åse Sæther (E1) now has a strengt fortrolig address."""
    students = workdir / "export" / "students.csv"
    rows = list(csv.reader(students.open(encoding="utf-8")))
    for row in rows:
        if row[0] == "E1":
            row[4] = "strengt_fortrolig"
    with students.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    imported = innsyn(workdir, prefect_api_url, "db", "import", str(workdir / "export"))
    assert imported.returncode == 0, imported.stderr


def status(workdir: Path) -> str:
    with duckdb.connect(str(workdir / "innsyn.duckdb"), read_only=True) as con:
        return con.execute("SELECT status FROM cases WHERE case_id = ?", [CASE]).fetchone()[0]


def events(workdir: Path) -> list[tuple[str, str, dict]]:
    with duckdb.connect(str(workdir / "innsyn.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT event, actor, detail FROM case_events ORDER BY event_id").fetchall()
    return [(event, actor, json.loads(detail) if detail else {}) for event, actor, detail in rows]


def overridden(workdir: Path) -> list[str]:
    with duckdb.connect(str(workdir / "innsyn.duckdb"), read_only=True) as con:
        return [item for (item,) in con.execute(
            "SELECT item_id FROM case_items WHERE case_id = ? AND consent_state = 'overridden'", [CASE]).fetchall()]


def test_an_approval_after_the_register_changed_is_refused_and_the_case_screened_again(case, prefect_api_url):
    review_copy = case / "out" / "internal" / CASE / "intern.pdf"
    before = review_copy.stat().st_mtime_ns
    grade_ase_strengt_fortrolig(case, prefect_api_url)

    refused = innsyn(case, prefect_api_url, "review", "approve", CASE, "--reviewer", "Lise Jurist")

    assert refused.returncode == 2, refused.stdout
    (line,) = refused.stderr.strip().splitlines()
    assert "register changed" in line and "screened again" in line
    # Åse's household now leaves no trace: the line counts nothing of it (the event does, below)
    assert "the decisions changed" in line and "items changed" not in line
    assert "Sæther" not in line
    assert status(case) == "awaiting_review"
    assert "approved" not in [event for event, _, _ in events(case)]
    rescreened = [(actor, detail) for event, actor, detail in events(case) if event == "rescreened"]
    assert len(rescreened) == 1
    actor, detail = rescreened[0]
    assert actor == "Lise Jurist"
    assert detail["changed_items"] == ASE and detail["counts"]["changed"] == 5
    assert review_copy.stat().st_mtime_ns > before  # the reviewer has the new decisions to read

    approved = innsyn(case, prefect_api_url, "review", "approve", CASE, "--reviewer", "Lise Jurist")
    assert approved.returncode == 0, approved.stderr
    text = squeeze(pdf_text(Path(json.loads(approved.stdout)["public_pdf"])))
    assert squeeze("Åse Sæther") not in text and squeeze("solveig.haugen@example.no") not in text
    assert squeeze("Mohammed Ali") in text


def test_rescreen_by_hand_keeps_an_unchanged_case_and_replaces_a_stale_one(case, prefect_api_url):
    release = innsyn(case, prefect_api_url, "review", "release", CASE, INSTITUTION_ADDRESS,
                     "--reviewer", "Lise Jurist", "--reason", "Institusjonen er nedlagt")
    assert release.returncode == 0, release.stderr

    same = innsyn(case, prefect_api_url, "review", "rescreen", CASE)
    assert same.returncode == 0, same.stderr
    result = json.loads(same.stdout)
    assert (result["status"], result["unchanged"], result["rescreen"]["changed"]) == ("awaiting_review", True, False)
    assert overridden(case) == [INSTITUTION_ADDRESS]  # the reviewer's work stays
    assert "rescreened" not in [event for event, _, _ in events(case)]

    grade_ase_strengt_fortrolig(case, prefect_api_url)
    stale = innsyn(case, prefect_api_url, "review", "rescreen", CASE)
    assert stale.returncode == 0, stale.stderr
    result = json.loads(stale.stdout)
    assert result["status"] == "awaiting_review" and result["rescreen"]["changed"] is True
    assert result["rescreen"]["changed_items"] == [*ASE, INSTITUTION_ADDRESS]  # the override is gone too
    assert result["rescreen"]["overrides_dropped"] == [INSTITUTION_ADDRESS]
    assert result["rescreen"]["counts"] == {"changed": 6, "added": 0, "removed": 0, "overrides_dropped": 1}
    assert overridden(case) == []
    assert [(event, actor) for event, actor, _ in events(case)][-2:] == [
        ("rescreened", "saksbehandler"), ("awaiting_review", "saksbehandler")]


def test_a_release_resumed_after_approval_screens_again_first(case, prefect_api_url):
    public = case / "out" / "public"
    shutil.rmtree(public, ignore_errors=True)
    public.write_text("not a folder")  # the release after the approval fails
    assert innsyn(case, prefect_api_url, "review", "approve", CASE, "--reviewer", "Lise Jurist").returncode == 1
    assert status(case) == "approved"
    public.unlink()
    grade_ase_strengt_fortrolig(case, prefect_api_url)

    rerun = innsyn(case, prefect_api_url, "process", "request.json")

    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["status"] == "awaiting_review"
    assert not (case / "out" / "public" / CASE).exists()
    assert [event for event, _, _ in events(case)][-2:] == ["rescreened", "awaiting_review"]


def test_a_released_case_is_not_screened_again(case, prefect_api_url):
    assert innsyn(case, prefect_api_url, "review", "approve", CASE, "--reviewer", "Lise Jurist").returncode == 0
    result = innsyn(case, prefect_api_url, "review", "rescreen", CASE)
    assert result.returncode == 2 and "released, not awaiting review" in result.stderr
