"""A lawyer changes the policy file; the decisions follow, with no code change.

Each test copies the bundled `policies/standard.toml`, edits it as text the way a lawyer
would in an editor (one line of one rule, or one setting), and screens the same class under
both files. What changes is exactly what the edit says, and every decision names the file
it came from.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from conftest import FIXED_NOW, open_case, screen, write_request

from innsyn.case_documents import build_answer
from innsyn.clock import OSLO
from innsyn.policy import DEFAULT_POLICY, Policy, load_policy
from innsyn.screening import screen_case, summarise

DEFAULT = load_policy()


def lawyer_edits(tmp_path: Path, *edits: tuple[str | None, str, str]) -> Policy:
    """The default policy with each (rule id or None for the whole file, old, new) edit made."""
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    for rule_id, old, new in edits:
        start, end = 0, len(text)
        if rule_id:
            start = text.index(f'id = "{rule_id}"')
            following = text.find("[[rules]]", start)
            end = following if following != -1 else len(text)
        block = text[start:end]
        assert block.count(old) == 1, f"expected {old!r} once in {rule_id or 'the policy'}"
        text = text[:start] + block.replace(old, new) + text[end:]
    path = tmp_path / "var-skole.toml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


def decision(decisions: dict, item: str) -> tuple:
    d = decisions[item]
    return (d.decision, d.rule, d.consent_state)


def test_letting_consent_lift_institution_entries_releases_the_ticked_ones(con, register, tmp_path):
    lifted = lawyer_edits(tmp_path, ("institusjonsadresse", "consent_lifts = false", "consent_lifts = true"),
                          ("institusjon_elevnavn", "consent_lifts = false", "consent_lifts = true"))
    register.institution("Thereses gate 12 B", "0168")
    ticked = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "street": "Thereses gt. 12b", "postal_code": "0168"}])
    unticked = register.pupil("Per", "Berg", guardians=[{"guardian_id": "F2", "street": "Thereses gate 12 B",
                                                         "postal_code": "0168", "share_address": False}])

    before = screen(con, policy=DEFAULT, case_id="before")
    assert decision(before, f"{ticked}/F1/address") == ("withhold", "institusjonsadresse", "consent_not_sufficient")
    assert decision(before, f"{ticked}/pupil_name") == ("withhold", "institusjon_elevnavn", "consent_not_sufficient")
    assert summarise(con, "before", DEFAULT).requires_review

    after = screen(con, policy=lifted, case_id="after")
    assert decision(after, f"{ticked}/F1/address") == ("release", "institusjonsadresse", "consent_lifted")
    assert decision(after, f"{ticked}/pupil_name") == ("release", "institusjon_elevnavn", "consent_lifted")
    assert f"{unticked}/F2/address" not in after  # consent is the tick: no tick, nothing to lift
    assert summarise(con, "after", lifted).requires_review is False
    assert {item for item in before if before[item] != after[item]} == {
        item for item, d in before.items() if d.decision == "withhold"}
    assert all(d.decision == "release" for d in after.values())


def test_special_education_that_withholds_only_the_pupils_names(con, register, tmp_path):
    names_only = lawyer_edits(tmp_path, ("spesialundervisning", 'withholds = ["whole_row"]', 'withholds = ["pupil_name"]'))
    register.klass("Forsterket", special_group=True)
    pupil = register.pupil("Ola", "Hansen", class_id="S001-Forsterket", guardians=[{"guardian_id": "F1"}])

    before = screen(con, ["S001-Forsterket"], policy=DEFAULT, case_id="before")
    assert {d.decision for d in before.values()} == {"withhold"}

    after = screen(con, ["S001-Forsterket"], policy=names_only, case_id="after")
    assert decision(after, f"{pupil}/pupil_name") == ("withhold", "spesialundervisning", "consent_not_sufficient")
    assert {item: d.decision for item, d in after.items() if "/F1/" in item} == {
        f"{pupil}/F1/{field}": "release" for field in ("guardian_name", "email", "phone", "address")
    }


def test_an_institution_rule_narrowed_to_the_address_releases_the_rest_of_the_entry(con, register, tmp_path):
    narrow = lawyer_edits(tmp_path, ("institusjonsadresse", 'withholds = ["guardian_name", "email", "phone", "address"]',
                                     'withholds = ["address"]'))
    register.institution("Kirkeveien 5", "0364")
    pupil = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "street": "Kirkevn. 5", "postal_code": "0364"}])

    before, after = screen(con, policy=DEFAULT, case_id="before"), screen(con, policy=narrow, case_id="after")
    assert decision(before, f"{pupil}/F1/email") == ("withhold", "institusjonsadresse", "consent_not_sufficient")
    assert after[f"{pupil}/F1/email"].decision == "release"
    assert decision(after, f"{pupil}/F1/address") == ("withhold", "institusjonsadresse", "consent_not_sufficient")


def test_strengt_fortrolig_without_no_trace_is_withheld_and_counted(con, register, tmp_path):
    traced = lawyer_edits(tmp_path, ("strengt_fortrolig_adresse", "no_trace = true", "no_trace = false"))
    pupil = register.pupil("Ola", "Hansen", protection="strengt_fortrolig", guardians=[{"guardian_id": "F1"}])
    register.pupil("Per", "Berg")

    screen(con, policy=DEFAULT, case_id="before")
    screen(con, policy=traced, case_id="after")
    before, after = summarise(con, "before", DEFAULT), summarise(con, "after", traced)
    assert (before.withheld_items, before.no_trace_items) == (0, 5)
    assert (after.withheld_items, after.no_trace_items) == (5, 0)
    assert con.execute("SELECT DISTINCT no_trace FROM case_items WHERE case_id = 'after' AND student_id = ?",
                       [pupil]).fetchall() == [(False,)]


@pytest.mark.parametrize("threshold, flagged", [("3", ()), ("5", ("S001-5B",)), ("0", ())])
def test_the_thin_class_threshold_is_a_setting(con, register, tmp_path, threshold, flagged):
    policy = lawyer_edits(tmp_path, (None, "min_released_pupils = 3", f"min_released_pupils = {threshold}"))
    register.pupil("Ola", "Hansen", protection="fortrolig")
    for first in ("Per", "Kari", "Liv", "Ask"):
        register.pupil(first, "Berg")  # four released: enough for 3, too few for 5
    screen(con, policy=policy)
    assert summarise(con, "T-1", policy).thin_classes == flagged


def test_a_new_basis_reaches_the_decisions_and_the_letter(con, register, tmp_path):
    personvern = "offentleglova § 13 første ledd, jf. forvaltningsloven § 13 første ledd nr. 1 og § 13 a nr. 1"
    policy = lawyer_edits(
        tmp_path,
        (None, "[bases]\n", f'[bases]\npersonvern = "{personvern}"\n'),
        ("hemmelig_telefonnummer", 'basis = "taushetsplikt"', 'basis = "personvern"'),
        ("hemmelig_telefonnummer", "consent_lifts = true", "consent_lifts = false"),
        ("hemmelig_telefonnummer", 'letter_text = "Opplysninger som er underlagt taushetsplikt om personlige forhold."',
         'letter_text = "Hemmelige telefonnumre."'),
    )
    pupil = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "phone_unlisted": True}])
    register.pupil("Per", "Berg")
    case_id = open_case(con, tmp_path)
    screen_case(con, case_id, policy, datetime.fromisoformat(FIXED_NOW).astimezone(OSLO))

    assert con.execute("SELECT decision, rule, legal_basis FROM case_items WHERE item_id = ?",
                       [f"{pupil}/F1/phone"]).fetchone() == ("withhold", "hemmelig_telefonnummer", personvern)
    grounds = build_answer(con, case_id, policy).grounds
    assert [(g.letter_text, g.legal_basis) for g in grounds] == [("Hemmelige telefonnumre.", personvern)]


def test_every_edit_is_another_policy_on_the_decisions(con, register, tmp_path):
    edited = lawyer_edits(tmp_path, (None, "min_released_pupils = 3", "min_released_pupils = 4"))
    register.pupil("Ola", "Hansen")
    screen(con, policy=edited)
    assert edited.sha256 != DEFAULT.sha256
    assert con.execute("SELECT DISTINCT decided_by FROM case_items").fetchall() == [
        (f"policy:innsyn-standard@2026.1#{edited.sha256[:12]}",)
    ]


# ----------------------------------------------------------------------------- the flow, under a school's own file


def test_a_school_policy_file_runs_the_whole_flow(prefect_server, con, register, tmp_path):
    """`innsyn process --policy PATH` hands the path to the flow; the case records that file.

    Under the default policy this class waits for review (an institution address is
    withheld: see the first test); under the school's file the tick lifts it and the answer
    goes out at once.
    """
    from innsyn.process_request import RunConfig, process_request

    school = lawyer_edits(tmp_path, ("institusjonsadresse", "consent_lifts = false", "consent_lifts = true"),
                          ("institusjon_elevnavn", "consent_lifts = false", "consent_lifts = true"))
    register.institution("Kirkeveien 5", "0364")
    register.pupil("Ola", "Hansen", guardians=[{"street": "Kirkevn. 5", "postal_code": "0364"}])
    for first in ("Per", "Kari", "Liv"):
        register.pupil(first, "Berg")
    con.close()  # the flow opens the file itself
    config = RunConfig(db=str(tmp_path / "innsyn.duckdb"), out=str(tmp_path / "out"), actor="saksbehandler",
                       policy=str(tmp_path / "var-skole.toml"))

    result = process_request(str(write_request(tmp_path / "request.json")), config)

    assert (result.status, result.outcome, result.withheld_items) == ("released", "innvilget", 0)
    with duckdb.connect(config.db, read_only=True) as db:
        assert db.execute("SELECT policy_name, policy_version, policy_hash FROM cases").fetchone() == (
            "innsyn-standard", "2026.1", school.sha256)
        assert db.execute("SELECT DISTINCT decided_by FROM case_items").fetchall() == [(school.decided_by,)]
        assert db.execute("SELECT DISTINCT consent_state FROM case_items WHERE rule = 'institusjonsadresse'").fetchall() == [
            ("consent_lifted",)]
