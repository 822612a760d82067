"""The review copy is the record, and a reviewer can work from it alone.

A real flow run screens a class with a graded household, an unlisted phone, a consent
conflict and a class thin enough to flag; the copy is read back with poppler:

- every value, released or withheld, carries the item id a reviewer names in
  `innsyn review release|withhold`;
- flags and consent states are explained in bokmål, never shown as codes;
- after a second reviewer confirms and the case is approved, the copy says who approved,
  on which date, and who confirmed;
- no text runs past the page's margin (the rule table's last column once did);
- the copy is its front (case, flags, rules, letter) and its lists, rendered apart: approval
  merges the lists laid out when the case was screened with a new front, a changed decision
  lays them out again, and a case released without review names its lists instead of
  repeating what the public answer shows.
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
    config, result = processed(tmp_path)
    assert result.status == "awaiting_review"
    return config, result.case_id


def processed(folder: Path):
    """The register in `folder` asked for 5B and processed by a real flow run: (config, result)."""
    write_request(folder / "request.json")
    config = RunConfig(db=str(folder / "innsyn.duckdb"), out=str(folder / "out"), actor="saksbehandler")
    return config, process_request(str(folder / "request.json"), config)


def text_of(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def squeezed(text: str) -> str:
    return "".join(text.split())


def review_copy(config: RunConfig, case_id: str) -> Path:
    return Path(config.out) / "internal" / case_id / "intern.pdf"


def waiting_lists(config: RunConfig, case_id: str) -> list[Path]:
    """The review copy's lists kept between runs of the case (private staging folder)."""
    return sorted((Path(config.out) / ".staging" / case_id).glob("*/internal/_lists-*.pdf"))


def plant(part: Path, marker: str) -> None:
    """Replace a kept part with a stand-in that says `marker`: a copy shows it only if it
    merged the part instead of laying the lists out again."""
    import weasyprint

    part.write_bytes(weasyprint.HTML(string=f"<p>{marker}</p>").write_pdf())


def approve_as(config: RunConfig, case_id: str, reviewer: str = "Lise Jurist", changes=()) -> None:
    policy = load_policy()
    with open_db(config.db) as db:
        if changes:
            apply_changes(db, cases.find_case(db, case_id), list(changes), reviewer=reviewer,
                          reason="Vurdert", policy=policy, now=clock.now())
        approve(db, cases.find_case(db, case_id), reviewer=reviewer, reason=None, policy=policy, now=clock.now())
    render_answer(case_id, config, approved_by=reviewer)


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


def test_the_front_counts_its_own_pages_and_each_list_page_names_its_class(prefect_server, case):
    config, case_id = case
    pages = text_of(review_copy(config, case_id)).split("\f")[:-1]
    front = [page for page in pages if "Sammendrag, side" in page]
    assert 0 < len(front) < len(pages)
    for number, page in enumerate(front, start=1):
        assert f"Sammendrag, side {number} av {len(front)}" in " ".join(page.split())
    for page in pages[len(front):]:
        assert "Klasseliste 5B – Sagene skole" in " ".join(page.split())


def test_approval_merges_the_lists_laid_out_when_the_case_was_screened(prefect_server, case):
    config, case_id = case
    [part] = waiting_lists(config, case_id)
    plant(part, "LISTENE-FRA-SCREENINGEN")
    approve_as(config, case_id)
    text = text_of(review_copy(config, case_id))
    assert "LISTENE-FRA-SCREENINGEN" in text
    assert "Godkjent av Lise Jurist" in text
    assert not (Path(config.out) / ".staging" / case_id).exists()  # released: nothing is kept


def test_a_changed_decision_lays_the_lists_out_again(prefect_server, case):
    config, case_id = case
    withheld_before = squeezed(text_of(review_copy(config, case_id))).count("Unntatt·")
    [part] = waiting_lists(config, case_id)
    plant(part, "LISTENE-FOR-GAMLE-VEDTAK")
    with open_db(config.db, read_only=True) as db:
        (released,) = db.execute("SELECT item_id FROM case_items WHERE case_id = ? AND decision = 'release' "
                                 "AND field = 'email' ORDER BY item_id LIMIT 1", [case_id]).fetchone()
    approve_as(config, case_id, changes=[ItemChange(item_id=released, decision="withhold", rule="fortrolig_adresse")])
    text = squeezed(text_of(review_copy(config, case_id)))
    assert "LISTENE-FOR-GAMLE-VEDTAK" not in text
    assert released in text and text.count("Unntatt·") == withheld_before + 1


def test_a_case_released_without_review_names_its_lists_and_does_not_repeat_them(prefect_server, tmp_path, con,
                                                                                  register):
    register.pupil("Åse", "Sæther", guardians=[{"guardian_id": "F1"}])
    register.pupil("Per", "Berg", guardians=[{"guardian_id": "F2"}])
    con.close()
    config, result = processed(tmp_path)
    assert result.status == "released"
    public = " ".join(text_of(Path(config.out) / "public" / result.case_id / "svar.pdf").split())
    copy = " ".join(text_of(review_copy(config, result.case_id)).split())
    assert "Frigitt uten juridisk vurdering" in copy
    assert "Klasselisten har ingen unntak eller merknader til juridisk vurdering" in copy
    assert "Sagene skole: 5B" in copy
    assert "Åse Sæther" in public and "Sæther" not in copy and "Berg" not in copy
    pages = text_of(review_copy(config, result.case_id)).split("\f")[:-1]
    assert f"Side {len(pages)} av {len(pages)}" in " ".join(pages[-1].split())  # a whole document
    assert waiting_lists(config, result.case_id) == []
