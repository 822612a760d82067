"""The screening policy: the one file a lawyer reads, changes and trusts.

`policies/standard.toml` is loaded and validated before anything is screened: a marker, a
field or a legal basis the product does not know, a rule id used twice or a file that is
not TOML is one clear line, never a half-applied policy. The default policy says what
`domain.md` says, rule by rule, and every decision records which policy took it (name,
version and the hash of the file).
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from conftest import FIXED_NOW, Register, open_case, screen, write_request

from innsyn.case_documents import build_answer
from innsyn.clock import OSLO
from innsyn.policy import DEFAULT_POLICY, FIELDS, MARKERS, PolicyError, load_policy
from innsyn.render import render_review_html
from innsyn.screening import screen_case

TAUSHETSPLIKT = "offentleglova § 13 første ledd, jf. forvaltningsloven § 13 første ledd nr. 1"


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def edited(tmp_path: Path, old: str, new: str, *, count: int = 1) -> Path:
    """The default policy with one passage rewritten, as a lawyer would in an editor."""
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"the default policy no longer says {old!r}"
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- loading


def test_the_default_policy_ships_with_the_package_and_loads(policy):
    assert DEFAULT_POLICY.name == "standard.toml" and DEFAULT_POLICY.is_file()
    assert (policy.name, policy.version) == ("innsyn-standard", "2026.1")
    assert policy.sha256 == hashlib.sha256(DEFAULT_POLICY.read_bytes()).hexdigest()


def test_the_policy_in_force_is_named_by_name_version_and_hash(policy):
    assert policy.decided_by == f"policy:innsyn-standard@2026.1#{policy.sha256[:12]}"
    assert re.fullmatch(r"policy:innsyn-standard@2026\.1#[0-9a-f]{12}", policy.decided_by)
    assert policy.label == f"innsyn-standard 2026.1 (sha256 {policy.sha256[:12]})"


def test_every_decision_records_the_policy_in_force(con, register, policy):
    register.pupil("Ola", "Hansen", guardians=[{"phone_unlisted": True}])
    register.pupil("Kari", "Berg", protection="fortrolig")
    screen(con, policy=policy)
    recorded = con.execute("SELECT DISTINCT decided_by FROM case_items").fetchall()
    assert recorded == [(policy.decided_by,)]


def test_a_changed_file_is_another_policy_even_under_the_same_version(con, register, tmp_path, policy):
    reworded = load_policy(edited(tmp_path, "# The screening policy", "# The screening policy (reworded)"))
    assert (reworded.name, reworded.version) == (policy.name, policy.version)
    assert reworded.sha256 != policy.sha256 and reworded.decided_by != policy.decided_by
    register.pupil("Ola", "Hansen")
    screen(con, policy=reworded)
    assert con.execute("SELECT DISTINCT decided_by FROM case_items").fetchall() == [(reworded.decided_by,)]


BROKEN = {
    "unknown marker": (
        '"special_group", "special_school"]', '"special_group", "spesialskole"]',
        "rule 'spesialundervisning' (rules[4]).markers: unknown marker 'spesialskole'"),
    "unknown field": (
        'withholds = ["phone"]', 'withholds = ["telefon"]',
        "rule 'hemmelig_telefonnummer' (rules[5]).withholds: unknown field 'telefon'"),
    "unknown basis": (
        'requires_review = false\nbasis = "taushetsplikt"', 'requires_review = false\nbasis = "personvern"',
        "rule 'hemmelig_telefonnummer': unknown basis 'personvern'"),
    "duplicate rule id": (
        'id = "fortrolig_adresse"', 'id = "institusjonsadresse"',
        "rule id 'institusjonsadresse' is used twice"),
    "not TOML": (
        'consent_lifts = true', 'consent_lifts = ja',
        "not valid TOML (Invalid value (at line"),
    "no version": (
        'version = "2026.1"\n', '',
        "version: Field required"),
    "a version that is not text": (
        'version = "2026.1"', 'version = 2026.1',
        "version: Input should be a valid string"),
    "a yes/no that is not one": (
        'no_trace = true', 'no_trace = "kanskje"',
        "rule 'strengt_fortrolig_adresse' (rules[0]).no_trace: Input should be a valid boolean"),
    "an empty legal basis text": (
        f'taushetsplikt = "{TAUSHETSPLIKT}"', 'taushetsplikt = ""',
        "bases: 'taushetsplikt' is empty: write the provision out, as the letter words it"),
    "a misspelt setting": (
        'min_released_pupils = 3', 'min_released_pupil = 3',
        "settings.min_released_pupil: unknown key"),
    "a rule without markers": (
        'markers = ["unlisted_phone"]', 'markers = []',
        "rule 'hemmelig_telefonnummer' (rules[5]).markers: Tuple should have at least 1 item"),
    "a hash written in the file": (
        'version = "2026.1"', 'version = "2026.1"\nsha256 = "e35b4b9148ba"',
        "sha256: is computed from the file, it cannot be written in it"),
}


@pytest.mark.parametrize("old, new, message", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_policy_is_one_clear_line_naming_what_and_where(tmp_path, old, new, message):
    path = edited(tmp_path, old, new)
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    text = str(raised.value)
    assert text.startswith(f"policy {path}: ") and message in text
    assert "\n" not in text and "Value error" not in text


def test_a_missing_policy_file_is_a_clear_error(tmp_path):
    with pytest.raises(PolicyError, match=r"^policy .*nowhere\.toml: cannot read \(No such file or directory\)$"):
        load_policy(tmp_path / "nowhere.toml")


def test_the_command_refuses_a_broken_policy_with_exit_2_and_writes_nothing(tmp_path):
    """`innsyn process --policy PATH`: a bad policy is bad input, found before any case exists."""
    broken = edited(tmp_path, 'withholds = ["guardian_name", "email", "phone", "address"]',
                    'withholds = ["guardian_name", "email", "phone", "adresse"]')
    request = write_request(tmp_path / "request.json")
    db = tmp_path / "innsyn.duckdb"
    run = subprocess.run(
        [str(Path(sys.executable).with_name("innsyn")), "process", str(request), "--policy", str(broken),
         "--db", str(db), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "INNSYN_NOW": FIXED_NOW, "PREFECT_HOME": str(tmp_path / "prefect")},
    )
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == [
        f"innsyn: error: policy {broken}: rule 'institusjonsadresse' (rules[2]).withholds: unknown field 'adresse' "
        "(known: pupil_name, guardian_name, email, phone, address, whole_row)"
    ]
    assert not db.exists() and not (tmp_path / "out").exists()


def test_a_grade_in_the_register_that_no_policy_can_name_stops_screening(con, register):
    """Data the importer should have refused: better no decision than one that ignores a grade."""
    register.pupil("Ola", "Hansen", protection="kode7")
    with pytest.raises(ValueError, match=r"^screening found marker 'pupil_address_kode7', which no policy can name"):
        screen(con)
    assert con.execute("SELECT count(*) FROM case_items").fetchone() == (0,)


# ----------------------------------------------------------------------------- the default policy says what domain.md says


@dataclass(frozen=True)
class Expected:
    markers: set[str]
    withholds: set[str]
    consent_lifts: bool
    no_trace: bool
    requires_review: bool


ALL_FIELDS = set(FIELDS)

DOMAIN = {
    # graded address, strengt fortrolig (6/19): address, phone, the pupil's name and the
    # household's details; the row leaves no trace; no source lets consent lift it
    "strengt_fortrolig_adresse": Expected(
        {"pupil_address_strengt_fortrolig", "pupil_address_strengt_fortrolig_utland",
         "guardian_address_strengt_fortrolig", "guardian_address_strengt_fortrolig_utland"},
        ALL_FIELDS, consent_lifts=False, no_trace=True, requires_review=True),
    # graded address, fortrolig (7): as above, but the row is counted
    "fortrolig_adresse": Expected(
        {"pupil_address_fortrolig", "guardian_address_fortrolig"},
        ALL_FIELDS, consent_lifts=False, no_trace=False, requires_review=True),
    # an institution in a guardian's place reveals a placement: the whole entry (name, e-mail,
    # phone, address); consent does not lift it
    "institusjonsadresse": Expected(
        {"institution_address"}, ALL_FIELDS - {"pupil_name"}, consent_lifts=False, no_trace=False,
        requires_review=True),
    # ... and the pupil's name goes to review
    "institusjon_elevnavn": Expected(
        {"pupil_at_institution"}, {"pupil_name"}, consent_lifts=False, no_trace=False, requires_review=True),
    # special education: membership is the secret, so the names go (and what identifies them)
    "spesialundervisning": Expected(
        {"special_group", "special_school"}, ALL_FIELDS, consent_lifts=False, no_trace=False, requires_review=True),
    # unlisted phone: consent lifts it (forvaltningsloven § 13 a nr. 1)
    "hemmelig_telefonnummer": Expected(
        {"unlisted_phone"}, {"phone"}, consent_lifts=True, no_trace=False, requires_review=False),
}


@pytest.mark.parametrize("rule_id", DOMAIN)
def test_the_default_rule_says_what_domain_md_says(policy, rule_id):
    rule, expected = policy.rule(rule_id), DOMAIN[rule_id]
    assert Expected(set(rule.markers), set(rule.fields), rule.consent_lifts, rule.no_trace,
                    rule.requires_review) == expected
    assert policy.legal_basis(rule) == TAUSHETSPLIKT  # exactly as the letter words it
    assert rule.letter_text.strip() and rule.explanation.strip()


def test_the_default_policy_has_exactly_these_rules_and_covers_every_marker(policy):
    assert [rule.id for rule in policy.rules] == list(DOMAIN)
    assert {marker for rule in policy.rules for marker in rule.markers} == set(MARKERS)


def test_the_default_settings_flag_thin_classes_and_review_conflicts_and_refusals(policy):
    assert policy.settings.min_released_pupils == 3
    assert policy.settings.review_consent_conflicts and policy.settings.review_refusals


# ----------------------------------------------------------------------------- one table per rule: what it does to a class


def released(rule: str | None = None) -> tuple:
    return ("release", rule, "consent_lifted" if rule else "consented", False)


def withheld(rule: str, *, no_trace: bool = False) -> tuple:
    return ("withhold", rule, "consent_not_sufficient", no_trace)


GUARDIAN_FIELDS = ("guardian_name", "email", "phone", "address")


def row(pupil_name: tuple | None, **guardians: tuple | dict[str, tuple]) -> dict[str, tuple]:
    """The decisions on one pupil's row: `F1=withheld(...)` for all of F1's fields, or a dict."""
    expected = {"pupil_name": pupil_name} if pupil_name else {}
    for guardian_id, decisions in guardians.items():
        per_field = decisions if isinstance(decisions, dict) else dict.fromkeys(GUARDIAN_FIELDS, decisions)
        expected.update({f"{guardian_id}/{f}": d for f, d in per_field.items() if d is not None})
    return expected


@dataclass(frozen=True)
class Scenario:
    """A pupil of 5B with guardians F1 (and F2), plus whatever else the register holds."""

    title: str
    expected: dict[str, tuple]
    pupil: dict = field(default_factory=dict)
    guardians: tuple[dict, ...] = ({"guardian_id": "F1"},)
    register: tuple = ()  # extra register calls: (method, args, kwargs)
    class_id: str = "S001-5B"


SF, F, INST, INST_NAME, SPES, TLF = ("strengt_fortrolig_adresse", "fortrolig_adresse", "institusjonsadresse",
                                     "institusjon_elevnavn", "spesialundervisning", "hemmelig_telefonnummer")

RULE_TABLES: dict[str, list[Scenario]] = {
    SF: [
        Scenario("a strengt fortrolig pupil: the whole household row, without a trace",
                 row(withheld(SF, no_trace=True), F1=withheld(SF, no_trace=True), F2=withheld(SF, no_trace=True)),
                 pupil={"protection": "strengt_fortrolig"}, guardians=({"guardian_id": "F1"}, {"guardian_id": "F2"})),
        Scenario("strengt fortrolig utland (code 19) is the same rule",
                 row(withheld(SF, no_trace=True), F1=withheld(SF, no_trace=True)),
                 pupil={"protection": "strengt_fortrolig_utland"}),
        Scenario("a strengt fortrolig guardian of an ugradert pupil: the child lives there, the whole row goes",
                 row(withheld(SF, no_trace=True), F1=withheld(SF, no_trace=True), F2=withheld(SF, no_trace=True)),
                 guardians=({"guardian_id": "F1", "protection": "strengt_fortrolig"}, {"guardian_id": "F2"})),
        Scenario("the sibling of a strengt fortrolig pupil, in another class: the whole row, without a trace",
                 row(withheld(SF, no_trace=True), F1=withheld(SF, no_trace=True)),
                 register=(("klass", ("3A",), {"grade": 3}),
                           ("pupil", ("Lise", "Hansen"), {"class_id": "S001-3A", "protection": "strengt_fortrolig",
                                                          "guardians": [{"guardian_id": "F1"}]}))),
        Scenario("a co-resident: an ungraded guardian at a strengt fortrolig guardian's address",
                 row(withheld(SF, no_trace=True), F1=withheld(SF, no_trace=True)),
                 guardians=({"guardian_id": "F1", "street": "Skjulte vei 3 H0201", "postal_code": "0170"},),
                 register=(("klass", ("3A",), {"grade": 3}),
                           ("pupil", ("Lise", "Berg"), {"class_id": "S001-3A", "guardians": [
                               {"guardian_id": "F9", "protection": "strengt_fortrolig", "street": "Skjulte vn. 3",
                                "postal_code": "0170"}]}))),
        Scenario("consent does not lift it: the guardian ticked everything",
                 row(withheld(SF, no_trace=True), F1=withheld(SF, no_trace=True)),
                 pupil={"protection": "strengt_fortrolig"},
                 guardians=({"guardian_id": "F1", "phone_unlisted": True},)),
    ],
    F: [
        Scenario("a fortrolig pupil: the name and the household, counted",
                 row(withheld(F), F1=withheld(F), F2=withheld(F)),
                 pupil={"protection": "fortrolig"}, guardians=({"guardian_id": "F1"}, {"guardian_id": "F2"})),
        Scenario("a fortrolig guardian of an ugradert pupil: the pupil's row, counted",
                 row(withheld(F), F1=withheld(F), F2=withheld(F)),
                 guardians=({"guardian_id": "F1", "protection": "fortrolig"}, {"guardian_id": "F2"})),
        Scenario("a guardian whose other child is fortrolig, in another class: the sibling's row too",
                 row(withheld(F), F1=withheld(F)),
                 register=(("klass", ("3A",), {"grade": 3}),
                           ("pupil", ("Lise", "Hansen"), {"class_id": "S001-3A", "protection": "fortrolig",
                                                          "guardians": [{"guardian_id": "F1"}]}))),
        Scenario("what the guardian did not tick is not there to withhold",
                 row(withheld(F), F1={"guardian_name": withheld(F), "address": withheld(F)}),
                 pupil={"protection": "fortrolig"},
                 guardians=({"guardian_id": "F1", "share_email": False, "share_phone": False},)),
    ],
    INST: [
        Scenario("an institution in the only guardian's place: the whole entry, and the name with it",
                 row(withheld(INST_NAME), F1=withheld(INST)),
                 guardians=({"guardian_id": "F1", "street": "Thereses gt. 12b", "postal_code": "0168"},),
                 register=(("institution", ("Thereses gate 12 B", "0168"), {}),)),
        Scenario("an institution by its name alone, wherever its address",
                 row(withheld(INST_NAME), F1=withheld(INST)),
                 guardians=({"guardian_id": "F1", "first": "Barneverntjenesten", "last": "i Bydel Sagene"},)),
    ],
    INST_NAME: [
        Scenario("the other guardian, at home, is released; the pupil's name waits for review",
                 row(withheld(INST_NAME), F1=withheld(INST), F2=released()),
                 guardians=({"guardian_id": "F1", "street": "Kirkevn. 5", "postal_code": "0364"},
                            {"guardian_id": "F2", "first": "Per", "street": "Kirkegata 5", "postal_code": "0364"}),
                 register=(("institution", ("Kirkeveien 5", "0364"), {}),)),
    ],
    SPES: [
        Scenario("a special group: every name and every guardian's details",
                 row(withheld(SPES), F1=withheld(SPES)), class_id="S001-Forsterket",
                 register=(("klass", ("Forsterket",), {"special_group": True}),)),
        Scenario("a special school: the same, in every class",
                 row(withheld(SPES), F1=withheld(SPES)), class_id="S900-6A",
                 register=(("school", ("S900", "Skøyen spesialskole"), {"special_school": True}),
                           ("klass", ("6A",), {"school_id": "S900", "grade": 6}))),
    ],
    TLF: [
        Scenario("an unlisted phone the guardian ticked: released, by consent",
                 row(released(), F1={"guardian_name": released(), "email": released(),
                                     "phone": released(TLF), "address": released()}),
                 guardians=({"guardian_id": "F1", "phone_unlisted": True},)),
        Scenario("an unlisted phone the guardian did not tick: not in the list at all",
                 row(released(), F1={"guardian_name": released(), "email": released(), "address": released()}),
                 guardians=({"guardian_id": "F1", "phone_unlisted": True, "share_phone": False},)),
        Scenario("a stronger rule wins over consent: unlisted phone of a fortrolig guardian",
                 row(withheld(F), F1=withheld(F)),
                 guardians=({"guardian_id": "F1", "phone_unlisted": True, "protection": "fortrolig"},)),
    ],
}


def test_every_rule_of_the_default_policy_has_its_table(policy):
    assert set(RULE_TABLES) == {rule.id for rule in policy.rules}


@pytest.mark.parametrize(
    "scenario",
    [scenario for table in RULE_TABLES.values() for scenario in table],
    ids=[f"{rule}: {scenario.title}" for rule, table in RULE_TABLES.items() for scenario in table],
)
def test_the_rule_does_what_its_table_says(con, register: Register, policy, scenario: Scenario):
    for method, args, kwargs in scenario.register:
        getattr(register, method)(*args, **kwargs)
    pupil = register.pupil("Ola", "Hansen", class_id=scenario.class_id, guardians=[dict(g) for g in scenario.guardians],
                           **scenario.pupil)
    decisions = screen(con, [scenario.class_id], policy=policy)
    actual = {item.removeprefix(f"{pupil}/"): (d.decision, d.rule, d.consent_state, d.no_trace)
              for item, d in decisions.items() if item.startswith(f"{pupil}/")}
    assert actual == scenario.expected


# ----------------------------------------------------------------------------- the review copy explains every withholding


def test_the_review_copy_names_the_rule_and_explains_it_for_every_withheld_value(con, register, tmp_path, policy):
    """A lawyer with the policy file and one review copy can tell why each value was withheld."""
    register.institution("Kirkeveien 5", "0364")
    register.pupil("Ola", "Hansen", protection="fortrolig", guardians=[{"first": "Per", "last": "Skjult"}])
    register.pupil("Liv", "Berg", guardians=[{"street": "Kirkevn. 5", "postal_code": "0364", "phone_unlisted": True}])
    register.pupil("Ask", "Dahl", protection="strengt_fortrolig", guardians=[{"first": "Siri", "last": "Dahl"}])
    register.pupil("Per", "Lie", guardians=[{"phone_unlisted": True}])
    for n in range(3):
        register.pupil(f"Elev{n}", "Nilsen")
    case_id = open_case(con, tmp_path)
    screen_case(con, case_id, policy, datetime.fromisoformat(FIXED_NOW).astimezone(OSLO))
    page = html.unescape(render_review_html(build_answer(con, case_id, policy, status_label="Til juridisk vurdering")))

    assert policy.label in page
    rules_used = {rule for (rule,) in con.execute(
        "SELECT DISTINCT rule FROM case_items WHERE case_id = ? AND rule IS NOT NULL", [case_id]).fetchall()}
    assert rules_used == {F, INST, INST_NAME, SF, TLF}
    for rule_id in rules_used:
        assert " ".join(policy.rule(rule_id).explanation.split()) in " ".join(page.split())
    cells = re.findall(r'<td class="unntatt">\s*<span class="verdi">(.*?)</span>\s*<span class="merknad">(.*?)</span>',
                       page, flags=re.S)
    withheld_items = con.execute(
        "SELECT value, rule, legal_basis FROM case_items WHERE case_id = ? AND decision = 'withhold'", [case_id]
    ).fetchall()
    assert len(cells) == len(withheld_items) > 0
    shown = {(re.sub(r"<[^>]*>", "", value), note) for value, note in cells}  # e-mails carry <wbr> hints
    for value, rule, basis in withheld_items:
        assert any(v == value and f" · {rule} · " in note and "offl. § 13 første ledd" in note for v, note in shown), value
