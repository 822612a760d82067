"""The review copy is the record, and a reviewer can work from it alone.

A real flow run screens a class with a graded household, an unlisted phone, a consent
conflict and a class thin enough to flag; the copy is read back with poppler:

- every value, released or withheld, carries the item id a reviewer names in
  `innsyn review release|withhold`;
- flags and consent states are explained in bokmål, never shown as codes;
- after a second reviewer confirms and the case is approved, the copy says who approved,
  on which date, and who confirmed;
- no text runs past the page's margin (the rule table's last column once did).
"""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

import pytest

from innsyn import cases, clock
from innsyn.db import open_db
from innsyn.policy import load_policy
from innsyn.process_request import RunConfig, process_request
from innsyn.render_answer import approval_label, render_answer
from innsyn.review import ItemChange, apply_changes, approve, confirm_releases
from innsyn.wording import flag_text

from conftest import FIXED_NOW, write_request

CODES = ("consent_conflicts", "indirect_identification", "consent_not_sufficient", "consent_lifted", "consented)")
MARGIN_MM = 15  # intern.css and svar.css: the left and right page margins


@pytest.fixture
def case(tmp_path: Path, con, register) -> tuple[RunConfig, str]:
    register.pupil("Skjult", "Elevsen", protection="fortrolig", guardians=[{"guardian_id": "F1"}])
    register.pupil("Åse", "Sæther", guardians=[{"guardian_id": "F2", "phone_unlisted": True}])
    register.pupil("Per", "Berg", guardians=[{"guardian_id": "F3"}])
    con.close()
    write_request(tmp_path / "request.json")
    config = RunConfig(db=str(tmp_path / "innsyn.duckdb"), out=str(tmp_path / "out"), actor="saksbehandler")
    result = process_request(str(tmp_path / "request.json"), config)
    assert result.status == "awaiting_review"
    return config, result.case_id


def text_of(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def squeezed(text: str) -> str:
    return "".join(text.split())


def review_copy(config: RunConfig, case_id: str) -> Path:
    return Path(config.out) / "internal" / case_id / "intern.pdf"


def test_every_value_released_or_withheld_carries_its_item_id(prefect_server, case):
    config, case_id = case
    with open_db(config.db, read_only=True) as db:
        items = db.execute("SELECT item_id, decision FROM case_items WHERE case_id = ?", [case_id]).fetchall()
    assert {decision for _, decision in items} == {"release", "withhold"}
    text = squeezed(text_of(review_copy(config, case_id)))
    missing = [item for item, _ in items if item not in text]
    assert not missing


def test_flags_and_consent_states_are_bokmal_not_codes(prefect_server, case):
    config, case_id = case
    text = text_of(review_copy(config, case_id))
    assert not [code for code in CODES if code in text]
    flat = " ".join(text.split())
    assert "Fare for indirekte identifisering i 5B – Sagene skole" in flat
    assert "samtykke ikke tilstrekkelig" in flat


def test_a_flag_we_do_not_know_is_shown_as_it_is():
    assert flag_text("new_kind_of_flag:7") == "new_kind_of_flag:7"
    assert flag_text("consent_conflicts:1").startswith("Samtykkekonflikt: 1 verdi holdes")
    assert flag_text("consent_conflicts:2").startswith("Samtykkekonflikt: 2 verdier holdes")


def test_the_approval_shows_who_when_and_the_second_reviewer(prefect_server, case):
    config, case_id = case
    policy = load_policy()
    with open_db(config.db) as db:
        graded = db.execute(
            "SELECT item_id FROM case_items WHERE case_id = ? AND rule = 'fortrolig_adresse' AND field = 'phone'",
            [case_id]).fetchone()[0]
        row = cases.find_case(db, case_id)
        apply_changes(db, row, [ItemChange(item_id=graded, decision="release")], reviewer="Lise Jurist",
                      reason="Telefonen er skolens sentralbord", policy=policy, now=clock.now())
        confirm_releases(db, cases.find_case(db, case_id), [graded], reviewer="Ola Jurist", reason=None,
                         policy=policy, now=clock.now())
        approve(db, cases.find_case(db, case_id), reviewer="Lise Jurist", reason=None, policy=policy,
                now=clock.now())
    render_answer(case_id, config, approved_by="Lise Jurist")
    flat = " ".join(text_of(review_copy(config, case_id)).split())
    # FIXED_NOW is 10:00 in Oslo on 24 November 2026
    assert FIXED_NOW.startswith("2026-11-24T10:00")
    assert "Godkjent av Lise Jurist 24. november 2026 kl. 10.00; frigivelser bekreftet av Ola Jurist" in flat
    assert approval_label("A", clock.now()) == "Godkjent av A 24. november 2026 kl. 10.00"
    # the redaction log names the second reviewer beside the first
    with open(Path(config.out) / "internal" / case_id / "redaction_log.csv", newline="") as log:
        rows = {(r["student_id"], r["guardian_id"], r["field"]): r for r in csv.DictReader(log)}
    student, guardian, field = graded.split("/")
    confirmed = rows[(student, guardian, field)]
    assert (confirmed["decided_by"], confirmed["confirmed_by"]) == ("reviewer:Lise Jurist", "reviewer:Ola Jurist")
    assert {r["confirmed_by"] for key, r in rows.items() if key != (student, guardian, field)} == {""}


def words_past_the_margin(pdf: Path) -> list[str]:
    """Words whose box reaches into the left or right page margin: text the page clips."""
    boxes = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    margin = MARGIN_MM * 72 / 25.4 - 1  # points, with a point of slack for rounding
    past, width = [], 0.0
    for line in boxes.splitlines():
        if page := re.search(r'<page width="([\d.]+)"', line):
            width = float(page.group(1))
        elif word := re.search(r'xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)".*>(.*)</word>', line):
            if float(word.group(1)) < margin or float(word.group(2)) > width - margin:
                past.append(word.group(3))
    return past


def test_no_column_runs_past_the_page_edge(prefect_server, case):
    config, case_id = case
    pdf = review_copy(config, case_id)
    assert "Sammendrag per regel" in text_of(pdf)  # the rule table is in this copy
    assert words_past_the_margin(pdf) == []
