"""Consent conflicts: a guardian ticked a field, and a marker withholds it all the same.

The school follows these up (the guardian may not know their tick cannot be honoured), so
`sql/consent_conflicts.sql` lists them, in ids only: case, school, class, pupil, guardian,
field and the rule that withheld it. A consent that lifted a marker is no conflict.
"""

from __future__ import annotations

from conftest import screen

from innsyn.policy import load_policy
from innsyn.resources import sql
from innsyn.screening import summarise

COLUMNS = ["case_id", "school_id", "class_id", "student_id", "guardian_id", "field", "rule"]


def conflicts(con, case_id: str | None = None) -> list[tuple]:
    query = sql("consent_conflicts")
    if case_id is None:
        return con.execute(query).fetchall()
    return con.execute(f"SELECT * FROM ({query}) WHERE case_id = ?", [case_id]).fetchall()


def test_every_withheld_ticked_value_is_a_conflict_and_nothing_else_is(con, register):
    register.institution("Kirkeveien 5", "0364")
    graded = register.pupil("Ola", "Hansen", protection="fortrolig", guardians=[{"guardian_id": "F1"}])
    institution = register.pupil("Liv", "Berg", guardians=[
        {"guardian_id": "F2", "street": "Kirkevn. 5", "postal_code": "0364", "share_email": False}])
    unlisted = register.pupil("Per", "Dahl", guardians=[{"guardian_id": "F3", "phone_unlisted": True}])
    hidden = register.pupil("Ask", "Lie", guardians=[{"guardian_id": "F4", "protection": "strengt_fortrolig",
                                                      "names": False}, {"guardian_id": "F5"}])
    screen(con, case_id="2026-1234")

    listed = conflicts(con)
    fields = ("address", "email", "guardian_name", "phone")
    case = ("2026-1234", "S001", "S001-5B")
    assert listed == [
        (*case, graded, None, "pupil_name", "fortrolig_adresse"),
        *[(*case, graded, "F1", field, "fortrolig_adresse") for field in fields],
        # an institution in the only guardian's place: the entry, and the name with it
        (*case, institution, None, "pupil_name", "institusjon_elevnavn"),
        *[(*case, institution, "F2", field, "institusjonsadresse") for field in fields if field != "email"],
        # a strengt fortrolig guardian: the child's whole row, the other guardian's line too
        (*case, hidden, None, "pupil_name", "strengt_fortrolig_adresse"),
        *[(*case, hidden, "F4", field, "strengt_fortrolig_adresse") for field in fields if field != "guardian_name"],
        *[(*case, hidden, "F5", field, "strengt_fortrolig_adresse") for field in fields],
    ]
    assert all(row[3] != unlisted for row in listed)  # consent lifted the unlisted phone: no conflict
    assert len(listed) == summarise(con, "2026-1234", load_policy()).consent_conflicts


def test_the_list_holds_ids_only(con, register):
    register.pupil("Ola", "Hansen", protection="fortrolig")
    screen(con)
    cursor = con.execute(sql("consent_conflicts"))
    assert [column[0] for column in cursor.description] == COLUMNS
    assert "Hansen" not in repr(cursor.fetchall())


def test_it_can_be_narrowed_to_one_case(con, register):
    register.pupil("Ola", "Hansen", protection="fortrolig")
    screen(con, case_id="A")
    screen(con, case_id="B")
    assert {row[0] for row in conflicts(con)} == {"A", "B"}
    assert {row[0] for row in conflicts(con, "B")} == {"B"} and len(conflicts(con, "B")) == 5
