"""The requester is not an oracle.

Anyone may ask, under any name: a requester who types a withheld pupil's name (or a withheld
guardian's e-mail) as their own must not find their answer blocked for good, or they could
test guesses that way ("blocked" = "that name is on the list, hidden"). The letter prints what
the requester typed in its recipient block, and the leak gate excuses it there and only
there: the same value anywhere else in the answer still fails the case.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from innsyn import case_documents
from innsyn.case_documents import CasePaths, build_answer, publish
from innsyn.cases import register_case
from innsyn.leak_gate import LeakFound, normalise
from innsyn.policy import load_policy
from innsyn.request import parse_request
from innsyn.screening import screen_case

from conftest import CANARIES, FIXED_NOW, canary_export, innsyn, write_request

WITHHELD_PUPIL = f"Kari {CANARIES['fortrolig pupil']}"     # E4, fortrolig
WITHHELD_GUARDIAN = f"Liv {CANARIES['fortrolig pupil']}"   # F4, fortrolig
WITHHELD_EMAIL = CANARIES["fortrolig guardian email"]       # F4's e-mail
REQUESTER = {"name": WITHHELD_PUPIL, "email": WITHHELD_EMAIL, "kind": "private",
             "organisation": WITHHELD_GUARDIAN, "reference": f"Per {CANARIES['strengt fortrolig pupil']}"}


def page_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-q", "-raw", "-enc", "UTF-8", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def test_a_requester_named_as_a_withheld_pupil_gets_their_answer(tmp_path, prefect_api_url):
    assert innsyn(tmp_path, prefect_api_url, "db", "import", str(canary_export(tmp_path / "export"))).returncode == 0
    request = write_request(tmp_path / "request.json", request_id="2026/5", requester=REQUESTER)

    processed = innsyn(tmp_path, prefect_api_url, "process", str(request))
    assert processed.returncode == 0, processed.stderr
    assert json.loads(processed.stdout)["status"] == "awaiting_review"
    approved = innsyn(tmp_path, prefect_api_url, "review", "approve", "2026-5", "--reviewer", "Lise Jurist")
    assert approved.returncode == 0, approved.stderr
    result = json.loads(approved.stdout)
    assert result["status"] == "released"

    text = normalise(page_text(tmp_path / result["public_pdf"]))
    # the letter is addressed as the requester wrote: each value once, in the recipient block
    block = normalise(f"{WITHHELD_PUPIL} {WITHHELD_GUARDIAN} {WITHHELD_EMAIL}")
    assert text.count(block) == 1
    assert text.index(normalise("Dato:")) < text.index(block) < text.index(normalise("Svar på innsynskrav"))
    for value in (WITHHELD_PUPIL, WITHHELD_GUARDIAN, WITHHELD_EMAIL, REQUESTER["reference"]):
        assert text.count(normalise(value)) == 1, value
    # and the list still withholds them: the class list does not show E4's household
    assert text.count(normalise(CANARIES["fortrolig pupil"])) == 2  # the requester's name and organisation


@pytest.fixture
def case(tmp_path, con, register):
    """5B with a fortrolig pupil, requested by someone who gives her name, her guardian's
    name as organisation and her guardian's e-mail as theirs; screened, not yet released."""
    register.pupil("Åse", "Sæther")
    register.pupil("Ánte", "Somby")
    register.pupil("Mohammed", "Ali")
    register.pupil("Kari", CANARIES["fortrolig pupil"], protection="fortrolig",
                   guardians=[{"first": "Liv", "last": CANARIES["fortrolig pupil"], "email": WITHHELD_EMAIL}])
    path = write_request(tmp_path / "request.json", request_id="2026/6", requester=REQUESTER)
    case_id, _ = register_case(con, parse_request(path), path.read_bytes(), registered_by="saksbehandler",
                               now=datetime.fromisoformat(FIXED_NOW))
    policy = load_policy()
    screen_case(con, case_id, policy, datetime.fromisoformat(FIXED_NOW))
    answer = build_answer(con, case_id, policy)
    withheld = {cell.value: cell.item_id for cell in answer.cells() if cell.withheld}
    assert {WITHHELD_PUPIL, WITHHELD_GUARDIAN, WITHHELD_EMAIL} <= set(withheld)
    return answer, CasePaths.under(tmp_path / "out", case_id), withheld


def test_publish_excuses_the_recipient_block(case):
    answer, paths, _ = case
    publish(answer, paths)
    assert normalise(WITHHELD_PUPIL) in normalise(page_text(paths.public_pdf))


def _planted_in_a_released_cell(value):
    right = case_documents.public_answer

    def planted(answer):
        public = right(answer)
        first = public.classes[0]
        row = next(row for row in first.rows if row.name is not None)
        row = replace(row, name=replace(row.name, value=value))
        rows = tuple(row if r.student_id == row.student_id else r for r in first.rows)
        return replace(public, classes=(replace(first, rows=rows), *public.classes[1:]))
    return planted


def _planted_in_the_title(value):
    right = case_documents.public_answer

    def planted(answer):
        public = right(answer)
        return replace(public, scope_text=f"{public.scope_text} ({value})")
    return planted


@pytest.mark.parametrize("value", [WITHHELD_PUPIL, WITHHELD_GUARDIAN, WITHHELD_EMAIL])
@pytest.mark.parametrize("plant", [_planted_in_a_released_cell, _planted_in_the_title], ids=["cell", "title"])
def test_the_same_value_anywhere_else_is_still_a_leak(case, monkeypatch, value, plant):
    answer, paths, withheld = case
    monkeypatch.setattr(case_documents, "public_answer", plant(value))
    with pytest.raises(LeakFound) as caught:
        publish(answer, paths)
    assert withheld[value] in caught.value.item_ids
    assert value not in str(caught.value)
    assert not paths.public_pdf.exists()
