"""A change after an approval voids it: what is released is always what was approved.

An approval is recorded, then the answer is rendered and released. When the release fails
(here: the public folder cannot be written; in life, a crash or a full disk), the case stays
`approved`, and a reviewer can still change a decision. That change must not be published on
the old approval, credited to the reviewer who never saw it: the approval is void, the case is
back at `awaiting_review` with an event saying so, a re-run of `innsyn process` leaves it
there, and it needs a new approval.

The real `innsyn` command on a real database and output folder; nothing is mocked.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from conftest import canary_case_awaiting_review, copy_of_case_folder, innsyn, pdf_text, squeeze

CASE = "2026-7601"
INSTITUTION_ADDRESS = "E2/F2/address"  # withheld by `institusjonsadresse`, no graded address


def state(workdir: Path) -> tuple[str, list[tuple[str, str]]]:
    with duckdb.connect(str(workdir / "innsyn.duckdb"), read_only=True) as con:
        (status,) = con.execute("SELECT status FROM cases WHERE case_id = ?", [CASE]).fetchone()
        events = con.execute("SELECT event, actor FROM case_events ORDER BY event_id").fetchall()
    return status, events


@pytest.fixture(scope="module")
def case_awaiting_review(tmp_path_factory, prefect_api_url) -> Path:
    """The canary export imported and request 2026/7601 (5B) processed with the real CLI, once:
    it waits for review. Each test changes a copy of it."""
    return canary_case_awaiting_review(tmp_path_factory.mktemp("approval-void"), prefect_api_url, "2026/7601")


def test_a_change_after_approval_needs_a_new_approval(tmp_path, case_awaiting_review, prefect_api_url):
    workdir = copy_of_case_folder(case_awaiting_review, tmp_path / "case")

    # Lise approves; the release fails: the public folder is a file, not a folder
    public = workdir / "out" / "public"
    shutil.rmtree(public, ignore_errors=True)
    public.write_text("not a folder")
    failed = innsyn(workdir, prefect_api_url, "review", "approve", CASE, "--reviewer", "Lise Jurist")
    assert failed.returncode == 1, failed.stderr
    assert state(workdir)[0] == "approved"
    public.unlink()

    # Ola changes a decision after Lise's approval
    changed = innsyn(workdir, prefect_api_url, "review", "release", CASE, INSTITUTION_ADDRESS,
                     "--reviewer", "Ola Jurist", "--reason", "Institusjonen er nedlagt")
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout)["status"] == "awaiting_review"
    status, events = state(workdir)
    assert status == "awaiting_review"
    assert events[-2:] == [("overridden", "Ola Jurist"), ("approval_voided", "Ola Jurist")]

    # re-running the request does not release it on Lise's approval
    rerun = innsyn(workdir, prefect_api_url, "process", "request.json")
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["status"] == "awaiting_review"
    assert not (workdir / "out" / "public" / CASE / "svar.pdf").exists()
    assert "released" not in [event for event, _ in state(workdir)[1]]

    # a new approval releases the changed decisions, credited to who approved them
    approved = innsyn(workdir, prefect_api_url, "review", "approve", CASE, "--reviewer", "Lise Jurist")
    assert approved.returncode == 0, approved.stderr
    answer = json.loads(approved.stdout)
    assert answer["status"] == "released"
    assert squeeze("Thereses gt. 12b") in squeeze(pdf_text(Path(answer["public_pdf"])))
    events = state(workdir)[1]
    assert [e for e in events if e[0] in ("approved", "approval_voided", "released")] == [
        ("approved", "Lise Jurist"), ("approval_voided", "Ola Jurist"),
        ("approved", "Lise Jurist"), ("released", "Lise Jurist")]


def test_voiding_an_approval_is_only_for_approved_cases(tmp_path, case_awaiting_review, prefect_api_url):
    workdir = copy_of_case_folder(case_awaiting_review, tmp_path / "case")
    changed = innsyn(workdir, prefect_api_url, "review", "release", CASE, INSTITUTION_ADDRESS,
                     "--reviewer", "Ola Jurist", "--reason", "Institusjonen er nedlagt")
    assert changed.returncode == 0, changed.stderr
    assert "approval_voided" not in [event for event, _ in state(workdir)[1]]
