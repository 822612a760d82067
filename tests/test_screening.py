"""Screening: what each marker and each consent rule does to a class list.

Each test builds a tiny class by hand, screens it under the standard policy, and reads the
decision on each value. Item ids are `student/field` for the pupil's name and
`student/guardian/field` for a guardian's values.
"""

from __future__ import annotations

from conftest import screen

from innsyn.policy import load_policy


def withheld(decisions: dict) -> set[str]:
    return {item for item, d in decisions.items() if d.decision == "withhold"}


def released(decisions: dict) -> set[str]:
    return {item for item, d in decisions.items() if d.decision == "release"}


# ----------------------------------------------------------------------------- consent


def test_a_plain_pupil_is_released_with_everything_the_guardian_ticked(con, register):
    pupil = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1"}])
    assert released(screen(con)) == {
        f"{pupil}/pupil_name", f"{pupil}/F1/guardian_name", f"{pupil}/F1/email", f"{pupil}/F1/phone",
        f"{pupil}/F1/address",
    }


def test_a_field_not_ticked_is_not_in_the_list_at_all(con, register):
    pupil = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "share_phone": False, "share_address": False}])
    decisions = screen(con)
    assert f"{pupil}/F1/phone" not in decisions and f"{pupil}/F1/address" not in decisions
    assert withheld(decisions) == set()


def test_the_pupils_name_is_shown_when_at_least_one_guardian_ticks_names(con, register):
    one = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "names": False}, {"guardian_id": "F2"}])
    none = register.pupil("Per", "Hansen", guardians=[{"guardian_id": "F3", "names": False}])
    decisions = screen(con)
    assert decisions[f"{one}/pupil_name"].decision == "release"
    assert f"{one}/F1/guardian_name" not in decisions  # F1's own name follows F1's own tick
    assert f"{none}/pupil_name" not in decisions


def test_two_guardians_who_disagree_each_keep_their_own_ticks(con, register):
    pupil = register.pupil("Ola", "Hansen", guardians=[
        {"guardian_id": "F1", "share_email": False},
        {"guardian_id": "F2", "share_phone": False},
    ])
    decisions = screen(con)
    assert f"{pupil}/F1/email" not in decisions and f"{pupil}/F1/phone" in decisions
    assert f"{pupil}/F2/phone" not in decisions and f"{pupil}/F2/email" in decisions


# ----------------------------------------------------------------------------- markers


def test_fortrolig_pupil_withholds_the_whole_household_row(con, register):
    pupil = register.pupil("Ola", "Hansen", protection="fortrolig", guardians=[{"guardian_id": "F1"}, {"guardian_id": "F2"}])
    decisions = screen(con)
    row = {item for item in decisions if item.startswith(pupil)}
    assert len(row) == 9 and row == withheld(decisions)
    assert {decisions[item].rule for item in row} == {"fortrolig_adresse"}
    assert not any(decisions[item].no_trace for item in row)  # counted, but the row is gone


def test_strengt_fortrolig_pupil_leaves_no_trace_and_no_count(con, register):
    pupil = register.pupil("Ola", "Hansen", protection="strengt_fortrolig", guardians=[{"guardian_id": "F1"}])
    decisions = screen(con)
    assert all(d.decision == "withhold" and d.no_trace and d.rule == "strengt_fortrolig_adresse"
               for item, d in decisions.items() if item.startswith(pupil))


def test_strengt_fortrolig_utland_is_treated_like_strengt_fortrolig(con, register):
    pupil = register.pupil("Ola", "Hansen", protection="strengt_fortrolig_utland")
    decision = screen(con)[f"{pupil}/pupil_name"]
    assert (decision.decision, decision.rule, decision.no_trace) == ("withhold", "strengt_fortrolig_adresse", True)


def test_a_guardian_with_a_graded_address_withholds_the_pupils_whole_row(con, register):
    # the child lives at the secret address: where the address is blocked, the name is too
    pupil = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "protection": "fortrolig"}, {"guardian_id": "F2"}])
    decisions = screen(con)
    assert withheld(decisions) == set(decisions) and len(decisions) == 9
    assert {d.rule for d in decisions.values()} == {"fortrolig_adresse"}


def test_a_graded_sibling_in_another_class_protects_the_shared_guardian_and_the_pupil_here(con, register):
    register.klass("3A", grade=3)
    register.pupil("Lise", "Hansen", class_id="S001-3A", protection="fortrolig", guardians=[{"guardian_id": "F1"}])
    here = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1"}])
    decisions = screen(con, ["S001-5B"])
    assert withheld(decisions) == {f"{here}/pupil_name"} | {f"{here}/F1/{f}" for f in ("guardian_name", "email", "phone", "address")}


def test_a_guardian_registered_at_an_institution_on_a_siblings_row_is_protected_here(con, register):
    # the sibling's row is outside the case: screening still reads every row of the guardian
    register.institution("Kirkeveien 5", "0364")
    register.klass("3A", grade=3)
    register.pupil("Lise", "Hansen", class_id="S001-3A",
                   guardians=[{"guardian_id": "F1", "street": "Kirkevn. 5", "postal_code": "0364"}])
    here = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "street": "Storgata 1", "postal_code": "0155"}])
    decisions = screen(con, ["S001-5B"])
    # the whole entry in the parent's place, and the pupil, whose row is bare without it
    assert withheld(decisions) == set(decisions)
    assert decisions[f"{here}/F1/address"].rule == "institusjonsadresse"


def test_a_case_over_every_class_protects_a_shared_guardian_in_both_rows(con, register):
    # every row of the register is in this case: the look-up of rows elsewhere is skipped
    register.klass("3A", grade=3)
    sister = register.pupil("Lise", "Hansen", class_id="S001-3A", protection="fortrolig", guardians=[{"guardian_id": "F1"}])
    here = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1"}])
    decisions = screen(con, ["S001-5B", "S001-3A"])
    fields = ("guardian_name", "email", "phone", "address")
    assert withheld(decisions) == ({f"{sister}/pupil_name"} | {f"{sister}/F1/{f}" for f in fields}
                                   | {f"{here}/pupil_name"} | {f"{here}/F1/{f}" for f in fields})


def test_an_unlisted_phone_the_guardian_ticked_is_released_by_consent(con, register):
    pupil = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "phone_unlisted": True}])
    decision = screen(con)[f"{pupil}/F1/phone"]
    assert (decision.decision, decision.rule, decision.consent_state) == ("release", "hemmelig_telefonnummer", "consent_lifted")


def test_an_unlisted_phone_is_withheld_when_the_policy_says_consent_does_not_lift_it(con, register, tmp_path):
    from innsyn.policy import DEFAULT_POLICY

    strict = tmp_path / "strict.toml"
    strict.write_text(DEFAULT_POLICY.read_text(encoding="utf-8").replace(
        'withholds = ["phone"]\nconsent_lifts = true', 'withholds = ["phone"]\nconsent_lifts = false'), encoding="utf-8")
    pupil = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "phone_unlisted": True}])
    decision = screen(con, policy=load_policy(strict))[f"{pupil}/F1/phone"]
    assert (decision.decision, decision.consent_state) == ("withhold", "consent_not_sufficient")


def test_an_institution_in_a_parents_place_withholds_the_whole_entry_and_the_pupils_name(con, register):
    register.institution("Thereses gate 12 B", "0168")
    pupil = register.pupil("Ola", "Hansen", guardians=[
        {"guardian_id": "F1", "street": "THERESES GT. 12b", "postal_code": "0168"},
        {"guardian_id": "F2", "street": "Thereses gate 12 B", "postal_code": "0169"},  # other postal code
    ])
    decisions = screen(con)
    assert withheld(decisions) == {f"{pupil}/F1/{f}" for f in ("guardian_name", "email", "phone", "address")} | {
        f"{pupil}/pupil_name"}
    assert {decisions[f"{pupil}/F1/{f}"].rule for f in ("guardian_name", "email", "phone", "address")} == {"institusjonsadresse"}
    # the name goes to review: a reviewer may release it beside the other parent
    assert decisions[f"{pupil}/pupil_name"].rule == "institusjon_elevnavn"
    assert released(decisions) == {f"{pupil}/F2/{f}" for f in ("guardian_name", "email", "phone", "address")}


def test_consent_does_not_lift_an_institution_address(con, register):
    register.institution("Kirkeveien 5", "0364")
    pupil = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "street": "Kirkevn. 5", "postal_code": "0364",
                                                        "share_address": True}])
    assert screen(con)[f"{pupil}/F1/address"].consent_state == "consent_not_sufficient"


def test_a_special_group_withholds_every_row(con, register):
    register.klass("Forsterket", grade=5, special_group=True)
    register.pupil("Ola", "Hansen", class_id="S001-Forsterket")
    decisions = screen(con, ["S001-Forsterket"])
    assert decisions and released(decisions) == set()
    assert {d.rule for d in decisions.values()} == {"spesialundervisning"}


def test_a_special_school_withholds_every_row(con, register):
    register.school("S900", "Skøyen spesialskole", special_school=True)
    register.klass("6A", school_id="S900", grade=6)
    register.pupil("Ola", "Hansen", class_id="S900-6A")
    decisions = screen(con, ["S900-6A"])
    assert decisions and released(decisions) == set()


def test_the_strongest_rule_wins_when_several_touch_one_value(con, register):
    register.institution("Kirkeveien 5", "0364")
    pupil = register.pupil("Ola", "Hansen", protection="strengt_fortrolig",
                           guardians=[{"guardian_id": "F1", "street": "Kirkeveien 5", "postal_code": "0364"}])
    assert screen(con)[f"{pupil}/F1/address"].rule == "strengt_fortrolig_adresse"


def test_the_same_input_gives_the_same_decisions(con, register):
    register.institution("Kirkeveien 5", "0364")
    for n in range(6):
        register.pupil(f"Elev{n}", "Hansen", protection=("fortrolig" if n == 2 else "ugradert"),
                       guardians=[{"phone_unlisted": n % 2 == 0, "street": "Kirkevn 5", "postal_code": "0364"}])
    assert screen(con, case_id="A") == screen(con, case_id="B")


# ----------------------------------------------------------------------------- what one decision implies for others


def test_a_phone_withheld_for_one_guardian_is_withheld_where_another_lists_it(con, register, tmp_path):
    """An unlisted number F1 did not consent to share, listed again by F2 (a shared landline,
    spelled with the country code): the same secret, withheld in both places."""
    from innsyn.policy import DEFAULT_POLICY

    strict = tmp_path / "strict.toml"
    strict.write_text(DEFAULT_POLICY.read_text(encoding="utf-8").replace(
        'withholds = ["phone"]\nconsent_lifts = true', 'withholds = ["phone"]\nconsent_lifts = false'), encoding="utf-8")
    pupil = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "phone": "22 33 44 55", "phone_unlisted": True}])
    other = register.pupil("Per", "Berg", guardians=[{"guardian_id": "F2", "phone": "+47 22334455"}])
    decisions = screen(con, policy=load_policy(strict))
    assert withheld(decisions) == {f"{pupil}/F1/phone", f"{other}/F2/phone"}
    assert decisions[f"{other}/F2/phone"].rule == "hemmelig_telefonnummer"


def test_a_namesake_of_a_withheld_pupil_is_released(con, register):
    """A name may be another person's: Ola Hansen in 5B is not the graded Ola Hansen."""
    register.pupil("Ola", "Hansen", protection="strengt_fortrolig")
    namesake = register.pupil("Ola", "Hansen", guardians=[{"first": "Per"}])
    assert screen(con)[f"{namesake}/pupil_name"].decision == "release"


def test_a_value_that_leaves_no_trace_takes_its_guardians_whole_line(con, register):
    register.klass("3A", grade=3)
    register.pupil("Lise", "Berg", class_id="S001-3A", guardians=[
        {"guardian_id": "F9", "protection": "strengt_fortrolig", "phone": "900 11 222"}])
    # a guardian here shares the graded household's phone: a co-resident, whole line and row
    here = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "phone": "90011222"}])
    decisions = screen(con)
    assert all(d.decision == "withhold" and d.no_trace for item, d in decisions.items() if item.startswith(here))
