"""Institution addresses: a guardian's address is matched to the register of institutions.

The register spells an address one way ("Thereses gate 12 B", "0168"); guardians and school
systems spell it many ways. `normalize_address` (sql/normalize_address.sql) gives every
spelling of one address the same key, and keeps every *other* address apart: a different
house number or letter, another postal code, another street. These tables run the macro in
DuckDB exactly as screening does; the last tests run it through screening itself.
"""

from __future__ import annotations

import duckdb
import pytest

from conftest import canary_export, screen

from innsyn.importer import import_export
from innsyn.resources import sql
from innsyn.screening import address_rules


@pytest.fixture(scope="module")
def duck():
    connection = duckdb.connect()
    connection.execute(sql("normalize_address"))
    yield connection
    connection.close()


def key(duck, street: str | None, postal_code: str | None) -> str | None:
    return duck.execute("SELECT normalize_address(?, ?)", [street, postal_code]).fetchone()[0]


# (as the institution register writes it) -> (as a guardian's record writes it)
SAME_ADDRESS = [
    # case, spacing and punctuation; gate / gt. / gata / gaten; house letters
    (("Thereses gate 12 B", "0168"), ("THERESES GT. 12b", "0168")),
    (("Thereses gate 12 B", "0168"), ("Thereses gt 12B", "0168")),
    (("Thereses gate 12 B", "0168"), ("Theresesgate 12 b", "0168")),
    (("Thereses gate 12 B", "0168"), ("  thereses   gate 12-B ", "0168")),
    (("Thereses gate 12 B", "0168"), ("Thereses gata 12 B", "0168")),
    (("Thereses gate 12 B", "0168"), ("Thereses gate 12 B", "168")),       # leading zero lost in a spreadsheet
    (("Thereses gate 12 B", "0168"), ("Thereses gate 12 B", " 0168 ")),
    (("Storgata 10", "0155"), ("Storgt. 10", "0155")),
    (("Storgata 10", "0155"), ("Stor gate 10", "0155")),
    (("Storgata 10", "0155"), ("Storgaten 10", "0155")),
    (("Storgata 10", "0155"), ("STORGATA 10", "0155")),
    # vei / vn. / veien / v.
    (("Kirkeveien 5", "0364"), ("Kirkevn. 5", "0364")),
    (("Kirkeveien 5", "0364"), ("Kirkevn 5", "0364")),
    (("Kirkeveien 5", "0364"), ("Kirkevei 5", "0364")),
    (("Kirkeveien 5", "0364"), ("Kirkev. 5", "0364")),
    (("Kirkeveien 5", "0364"), ("Kirke vei 5", "0364")),
    (("Trondheimsveien 2", "0560"), ("Trondheimsvn. 2", "0560")),
    (("Ole Vigs gate 8", "0366"), ("Ole Vigs gt. 8", "0366")),
    # allé / alle, accents, æ ø å and their ASCII spellings
    (("Bygdøy allé 23", "0262"), ("Bygdøy alle 23", "0262")),
    (("Bygdøy allé 23", "0262"), ("Bygdoy Alle 23", "0262")),
    (("Bygdøy allé 23", "0262"), ("BYGDØY ALLÈ 23", "0262")),
    (("Fagerheimgata 10", "0567"), ("Fagerheimgt. 10", "0567")),
    (("Schweigaards gate 15", "0191"), ("Schweigaards gt. 15", "0191")),
    (("Haakon VIIs gate 1", "0161"), ("Håkon VII's gt. 1", "0161")),
    (("Sæterveien 3", "0671"), ("Saeterveien 3", "0671")),
    (("Åsengata 4", "0480"), ("Asengata 4", "0480")),
    # St. / Sankt; a flat number (bruksenhetsnummer) names the same building
    (("Sankt Olavs gate 4", "0165"), ("St. Olavs gt. 4", "0165")),
    (("Sankt Olavs gate 4", "0165"), ("St Olavs gate 4 H0201", "0165")),
    # where in the building is not which building: floors and flats, however written
    (("Thereses gate 12 B", "0168"), ("Thereses gate 12 B, 2. etasje", "0168")),
    (("Thereses gate 12 B", "0168"), ("Thereses gt. 12b 3. etg.", "0168")),
    (("Thereses gate 12 B", "0168"), ("Thereses gate 12 B H 0101", "0168")),
    (("Thereses gate 12 B", "0168"), ("Thereses gate 12 B, leil. 301", "0168")),
    (("Thereses gate 12 B", "0168"), ("Thereses gate 12B leilighet 4", "0168")),
    (("Kirkeveien 5", "0364"), ("Kirkeveien 5 U0101", "0364")),
    # "nr." before the number; a c/o in front of the address
    (("Storgata 10", "0155"), ("Storgata nr. 10", "0155")),
    (("Storgata 10", "0155"), ("Storgt. nr 10", "0155")),
    (("Kirkeveien 5", "0364"), ("c/o Hansen, Kirkeveien 5", "0364")),
    (("Kirkeveien 5", "0364"), ("C/O Kari Nordmann, Kirkevn. 5", "0364")),
    # nynorsk -veg / -vegen
    (("Kirkeveien 5", "0364"), ("Kirkevegen 5", "0364")),
    (("Kirkeveien 5", "0364"), ("Kirkeveg 5", "0364")),
    (("Trondheimsveien 2", "0560"), ("Trondheimsvegen 2", "0560")),
]

DIFFERENT_ADDRESS = [
    # another house number or letter
    (("Thereses gate 12 B", "0168"), ("Thereses gate 12", "0168")),
    (("Thereses gate 12 B", "0168"), ("Thereses gate 12 C", "0168")),
    (("Thereses gate 12 B", "0168"), ("Thereses gate 13 B", "0168")),
    (("Thereses gate 12 B", "0168"), ("Thereses gate 2 B", "0168")),
    (("Kirkeveien 5", "0364"), ("Kirkeveien 15", "0364")),
    (("Kirkeveien 5", "0364"), ("Kirkeveien 50", "0364")),
    (("Kirkeveien 5", "0364"), ("Kirkeveien 5 B", "0364")),
    # another postal code
    (("Thereses gate 12 B", "0168"), ("Thereses gate 12 B", "0169")),
    (("Kirkeveien 5", "0364"), ("Kirkeveien 5", "0365")),
    # another street, however alike
    (("Kirkeveien 5", "0364"), ("Kirkegata 5", "0364")),
    (("Storgata 10", "0155"), ("Storveien 10", "0155")),
    (("Storgata 10", "0155"), ("Lille Storgate 10", "0155")),
    (("Bygdøy allé 23", "0262"), ("Bygdøynesveien 23", "0262")),
    (("Sankt Olavs gate 4", "0165"), ("Sankt Olavs plass 4", "0165")),
    (("Trondheimsveien 2", "0560"), ("Trondheimsgata 2", "0560")),
    # a flat or floor number is dropped, never taken for the house number
    (("Storgata 301", "0155"), ("Storgata 10, leil. 301", "0155")),
    (("Storgata 2", "0155"), ("Storgata 10, 2. etasje", "0155")),
    (("Storgata 10", "0155"), ("Storgata nr. 100", "0155")),
    # c/o is dropped only in front, up to its comma
    (("Kirkeveien 5", "0364"), ("Kirkeveien 15, c/o Hansen", "0364")),
]


def _label(case) -> str:
    (institution, _), (guardian, code) = case
    return f"{institution} ~ {guardian.strip()} {code.strip()}"


@pytest.mark.parametrize("institution, guardian", SAME_ADDRESS, ids=[_label(c) for c in SAME_ADDRESS])
def test_spellings_of_one_address_share_a_key(duck, institution, guardian):
    assert key(duck, *guardian) == key(duck, *institution) is not None


@pytest.mark.parametrize("institution, guardian", DIFFERENT_ADDRESS, ids=[_label(c) for c in DIFFERENT_ADDRESS])
def test_a_near_miss_is_another_address(duck, institution, guardian):
    assert key(duck, *guardian) != key(duck, *institution)


@pytest.mark.parametrize("street", [None, "", "   ", " - "])
def test_an_empty_street_has_no_key_and_matches_nothing(duck, street):
    assert key(duck, street, "0168") is None


def test_the_macros_live_in_the_connection_not_in_the_database_file(tmp_path):
    path = tmp_path / "macros.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(sql("normalize_address"))
    with duckdb.connect(str(path)) as connection:
        with pytest.raises(duckdb.CatalogException):
            connection.execute("SELECT normalize_address('Kirkeveien 5', '0364')")


# ----------------------------------------------------------------------------- through screening


THROUGH_SCREENING = [case for case in SAME_ADDRESS if case[0] in (("Thereses gate 12 B", "0168"), ("Kirkeveien 5", "0364"))]
NEAR_KIRKEVEIEN_5 = [guardian for institution, guardian in DIFFERENT_ADDRESS if institution == ("Kirkeveien 5", "0364")]


@pytest.mark.parametrize("institution, guardian", THROUGH_SCREENING, ids=[_label(c) for c in THROUGH_SCREENING])
def test_screening_withholds_every_spelling_of_an_institution_address(con, register, institution, guardian):
    register.institution(*institution)
    pupil = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "street": guardian[0], "postal_code": guardian[1]}])
    decision = screen(con)[f"{pupil}/F1/address"]
    assert (decision.decision, decision.rule) == ("withhold", "institusjonsadresse")


@pytest.mark.parametrize("street, postal_code", NEAR_KIRKEVEIEN_5)
def test_screening_releases_a_near_miss(con, register, street, postal_code):
    register.institution("Kirkeveien 5", "0364")
    pupil = register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "street": street, "postal_code": postal_code}])
    decision = screen(con)[f"{pupil}/F1/address"]
    assert (decision.decision, decision.rule) == ("release", None)


def test_a_missing_postal_code_matches_on_the_street_alone(con, register):
    # Without a postal code we cannot tell an institution's address from the same street
    # elsewhere: withholding a harmless address is the safe mistake, releasing the other is not.
    register.institution("Kirkeveien 5", "0364")
    pupil = register.pupil("Ola", "Hansen", guardians=[
        {"guardian_id": "F1", "street": "Kirkevn. 5", "postal_code": ""},
        {"guardian_id": "F2", "street": "Kirkevn. 5", "postal_code": "0365"},
    ])
    decisions = screen(con)
    assert decisions[f"{pupil}/F1/address"].decision == "withhold"
    assert decisions[f"{pupil}/F2/address"].decision == "release"


def test_a_guardian_without_a_street_never_matches_an_institution(con, register):
    register.institution("Kirkeveien 5", "0364")
    register.pupil("Ola", "Hansen", guardians=[{"guardian_id": "F1", "street": "", "postal_code": "0364"}])
    screen(con)
    assert con.execute("SELECT count(*) FROM findings WHERE marker = 'institution_address'").fetchone() == (0,)


# ----------------------------------------------------------------------------- keys made at import
# The import normalises every street spelling once (sql/street_keys.sql); screening compares
# those keys and normalises only the spellings without one made under the current rules.


def test_the_import_keys_every_street_spelling_once(con, tmp_path):
    import_export(con, canary_export(tmp_path / "export"))
    import_export(con, canary_export(tmp_path / "export"))  # again: still one key per spelling
    (spellings,) = con.execute("SELECT count(DISTINCT street_address) FROM guardians").fetchone()
    keys = con.execute("SELECT street_address, street_key, rules FROM street_keys").fetchall()
    assert len(keys) == spellings == 7
    for street, street_key, rules in keys:
        assert street_key == con.execute("SELECT normalize_street(?)", [street]).fetchone()[0]
        assert rules == address_rules()


def test_screening_compares_the_keys_the_import_made(con, tmp_path):
    import_export(con, canary_export(tmp_path / "export"))
    assert screen(con)["E2/F2/address"].rule == "institusjonsadresse"  # "Thereses gt. 12b"
    # the stored key is what counts: a key saying another street releases the address
    con.execute("UPDATE street_keys SET street_key = 'annengate1' WHERE street_address = 'Thereses gt. 12b'")
    assert screen(con)["E2/F2/address"].decision == "release"


def test_a_key_made_under_other_rules_is_not_trusted(con, tmp_path):
    import_export(con, canary_export(tmp_path / "export"))
    con.execute("UPDATE street_keys SET street_key = 'annengate1', rules = 'older-rules' "
                "WHERE street_address = 'Thereses gt. 12b'")
    assert screen(con)["E2/F2/address"].rule == "institusjonsadresse"
