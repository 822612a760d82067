"""The synthetic demo export: deterministic, valid per the import contract, every marker."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest

from innsyn import db
from innsyn.demo_data import (
    INSTITUTIONS,
    NAME_GROUPS,
    NORWEGIAN,
    SAMI,
    SCHOOL_AREAS,
    ascii_slug,
    address_variant,
    school_name,
    write_demo_export,
)

FILES = ("schools", "classes", "students", "guardians", "institutions", "journal_documents")
PROTECTION = {"ugradert", "fortrolig", "strengt_fortrolig", "strengt_fortrolig_utland"}
GRADED = PROTECTION - {"ugradert"}
IMMIGRANT_NAMES = {
    "Mohammed", "Amina", "Ali", "Fatima", "Zainab", "Noor", "Yusuf", "Ahmed", "Hussain",
    "Khan", "Nguyen", "Kowalski", "Andersson", "Osman", "Abdi", "Warsame",
}
SAMI_NAMES = {"Ánne", "Máret", "Ánte", "Niillas", "Gaup", "Eira", "Somby", "Hætta", "Bongo"}
CONTACT_FIELDS = (
    "first_name", "last_name", "email", "phone", "phone_unlisted", "street_address",
    "postal_code", "postal_city", "address_protection",
)


# --- helpers ------------------------------------------------------------------------------


class Export:
    """An export folder read back with the csv module."""

    def __init__(self, folder: Path, counts: dict[str, int]) -> None:
        self.folder = folder
        self.counts = counts
        self.rows = {}
        for name in FILES:
            with (folder / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
                self.rows[name] = list(csv.DictReader(handle))

    def __getattr__(self, name: str) -> list[dict[str, str]]:
        if name in FILES:
            return self.rows[name]
        raise AttributeError(name)

    def guardians_of(self) -> dict[str, list[dict[str, str]]]:
        by_student = defaultdict(list)
        for row in self.guardians:
            by_student[row["student_id"]].append(row)
        return by_student


def true(value: str) -> bool:
    assert value in ("true", "false"), value
    return value == "true"


def normalise_address(address: str) -> str:
    """The contract's matching rule: case, spacing, gate/gt., vei/vn./veien."""
    text = re.sub(r"\s+", " ", address.casefold()).strip()
    text = re.sub(r"\bgt\.?(?=\s|\d|$)", "gate", text)
    text = re.sub(r"(veien|vn\.?)(?=\s|\d|$)", "vei", text)
    return re.sub(r"(\d+)\s*([a-z])$", r"\1\2", text)


INSTITUTION_KEYS = {
    (normalise_address(i.street_address), i.postal_code): i for i in INSTITUTIONS
}


def at_institution(row: dict[str, str]) -> bool:
    return (normalise_address(row["street_address"]), row["postal_code"]) in INSTITUTION_KEYS


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    made: dict[tuple, Export] = {}

    def make(schools: int, seed: int, **options) -> Export:
        key = (schools, seed, tuple(sorted(options.items())))
        if key not in made:
            folder = tmp_path_factory.mktemp(f"demo-{schools}-{seed}")
            made[key] = Export(folder, write_demo_export(folder, schools=schools, seed=seed,
                                                         **options))
        return made[key]

    return make


# --- determinism --------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path):
    write_demo_export(tmp_path / "a", schools=2, seed=11)
    write_demo_export(tmp_path / "b", schools=2, seed=11)
    for name in FILES:
        assert (tmp_path / "a" / f"{name}.csv").read_bytes() == \
            (tmp_path / "b" / f"{name}.csv").read_bytes(), name


def test_different_seeds_give_different_data(tmp_path):
    write_demo_export(tmp_path / "a", schools=2, seed=1)
    write_demo_export(tmp_path / "b", schools=2, seed=2)
    for name in ("classes", "students", "guardians"):
        assert (tmp_path / "a" / f"{name}.csv").read_bytes() != \
            (tmp_path / "b" / f"{name}.csv").read_bytes(), name


def test_files_are_utf8_with_header_and_plain_newlines(export):
    data = export(1, 1)
    raw = (data.folder / "students.csv").read_bytes()
    assert raw.startswith(b"student_id,class_id,first_name,last_name,address_protection\n")
    assert b"\r" not in raw
    raw.decode("utf-8")  # no BOM, valid UTF-8
    assert not raw.startswith(b"\xef\xbb\xbf")


def test_every_class_list_has_one_journal_reference(export):
    """An eInnsyn order can name any demo class list, by system_id or by saksnr + dokumentnr."""
    data = export(2, 1)
    assert sorted(row["class_id"] for row in data.journal_documents) == sorted(c["class_id"] for c in data.classes)
    assert len({row["system_id"] for row in data.journal_documents}) == len(data.classes)
    assert len({(row["saksnr"], row["dokumentnr"]) for row in data.journal_documents}) == len(data.classes)
    school_of = {c["class_id"]: c["school_id"] for c in data.classes}
    assert all(school_of[row["class_id"]] == row["school_id"] for row in data.journal_documents)


def test_returned_counts_match_the_files(export):
    data = export(3, 1)
    assert data.counts == {name: len(data.rows[name]) for name in FILES}


def test_rejects_fewer_than_one_school(tmp_path):
    with pytest.raises(ValueError):
        write_demo_export(tmp_path, schools=0, seed=1)


# --- validity per the import contract -------------------------------------------------------


@pytest.mark.parametrize("schools,seed", [(1, 1), (3, 5)])
def test_ids_unique_and_references_resolve(export, schools, seed):
    data = export(schools, seed)
    for name, key in (("schools", "school_id"), ("classes", "class_id"),
                      ("students", "student_id"), ("institutions", "institution_id")):
        ids = [row[key] for row in data.rows[name]]
        assert len(ids) == len(set(ids)), name
    pairs = [(r["guardian_id"], r["student_id"]) for r in data.guardians]
    assert len(pairs) == len(set(pairs))
    school_ids = {r["school_id"] for r in data.schools}
    class_ids = {r["class_id"] for r in data.classes}
    student_ids = {r["student_id"] for r in data.students}
    assert {r["school_id"] for r in data.classes} <= school_ids
    assert {r["class_id"] for r in data.students} <= class_ids
    assert {r["student_id"] for r in data.guardians} == student_ids  # every pupil has one
    class_names = [(r["school_id"], r["name"]) for r in data.classes]
    assert len(class_names) == len(set(class_names))


@pytest.mark.parametrize("schools,seed", [(1, 1), (3, 5)])
def test_id_formats(export, schools, seed):
    data = export(schools, seed)
    assert all(re.fullmatch(r"S\d{3}", r["school_id"]) for r in data.schools)
    assert all(re.fullmatch(r"S\d{3}-(\d{1,2}[A-H]|FA)", r["class_id"]) for r in data.classes)
    assert all(re.fullmatch(r"E\d{6}", r["student_id"]) for r in data.students)
    assert all(re.fullmatch(r"F\d{6}", r["guardian_id"]) for r in data.guardians)
    assert all(re.fullmatch(r"I\d{3}", r["institution_id"]) for r in data.institutions)


def test_values_are_valid(export):
    data = export(3, 1)
    for row in data.schools:
        true(row["special_school"])
    for row in data.classes:
        true(row["special_group"])
        assert 1 <= int(row["grade"]) <= 13
    for row in data.students:
        assert row["address_protection"] in PROTECTION
        assert row["first_name"] and row["last_name"]
    for row in data.guardians:
        assert row["address_protection"] in PROTECTION
        for column in ("phone_unlisted", "share_names", "share_email", "share_phone",
                       "share_address"):
            true(row[column])
        assert re.fullmatch(r"[49]\d\d \d\d \d\d\d", row["phone"]), row["phone"]
        assert re.fullmatch(r"[a-z0-9.-]+@example\.(no|com)", row["email"]), row["email"]
        assert row["email"].split("@")[0].startswith(ascii_slug(row["first_name"]) + ".")
        assert re.fullmatch(r"\d{4}", row["postal_code"])
        assert 150 <= int(row["postal_code"]) <= 1295
        assert row["postal_city"] == "OSLO"
        assert re.search(r"\d", row["street_address"])
    for row in data.institutions:
        assert row["kind"] in {"barnevernsinstitusjon", "helseinstitusjon", "omsorgssenter"}


def test_emails_are_unique_per_guardian(export):
    data = export(3, 2)
    email_of = {r["guardian_id"]: r["email"] for r in data.guardians}
    assert len(set(email_of.values())) == len(email_of)


def test_loads_into_the_database_schema(export):
    """The CSVs satisfy the schema's keys, references and checks."""
    data = export(3, 3)
    columns = {
        "schools": "school_id, name, special_school::BOOLEAN",
        "classes": "class_id, school_id, name, grade::INTEGER, special_group::BOOLEAN",
        "students": "student_id, class_id, first_name, last_name, address_protection",
        "guardians": "guardian_id, student_id, first_name, last_name, email, phone, "
                     "phone_unlisted::BOOLEAN, street_address, postal_code, postal_city, "
                     "address_protection, share_names::BOOLEAN, share_email::BOOLEAN, "
                     "share_phone::BOOLEAN, share_address::BOOLEAN",
        "institutions": "institution_id, name, street_address, postal_code, kind",
        "journal_documents": "system_id, saksnr, dokumentnr, school_id, class_id",
    }
    con = duckdb.connect(":memory:")
    try:
        db.init_schema(con)
        for name in FILES:
            path = str(data.folder / f"{name}.csv")
            con.execute(f"INSERT INTO {name} SELECT {columns[name]} FROM "
                        f"read_csv(?, header = true, all_varchar = true)", [path])
            count = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            assert count == data.counts[name]
    finally:
        con.close()


# --- shape --------------------------------------------------------------------------------


@pytest.mark.parametrize("schools", [1, 3])
def test_schools_are_n_ordinary_plus_one_special(export, schools):
    data = export(schools, 1)
    assert len(data.schools) == schools + 1
    assert [true(r["special_school"]) for r in data.schools] == [False] * schools + [True]
    assert data.schools[0]["name"] == "Sagene skole"
    first = [r for r in data.classes if r["school_id"] == "S001"]
    assert "5B" in {r["name"] for r in first}  # the bundled example request's class
    special_groups = [r for r in data.classes if true(r["special_group"])]
    assert [r["class_id"] for r in special_groups] == ["S001-FA"]
    assert special_groups[0]["name"] == "Forsterket avdeling"
    assert 1 <= int(special_groups[0]["grade"]) <= 7


def test_ordinary_schools_are_barneskole_or_ungdomsskole(export):
    data = export(12, 4)
    classes_by_school = defaultdict(list)
    for row in data.classes:
        if not true(row["special_group"]):
            classes_by_school[row["school_id"]].append(int(row["grade"]))
    for school in data.schools[:-1]:
        grades = classes_by_school[school["school_id"]]
        assert set(grades) in ({1, 2, 3, 4, 5, 6, 7}, {8, 9, 10}), school
        per_grade = Counter(grades)
        if min(grades) == 1:
            assert all(2 <= n <= 4 for n in per_grade.values())
        else:
            assert all(4 <= n <= 7 for n in per_grade.values())
        assert 12 <= len(grades) <= 28


def test_class_sizes_and_guardians_per_pupil(export):
    data = export(3, 1)
    special_schools = {r["school_id"] for r in data.schools if true(r["special_school"])}
    small = {r["class_id"] for r in data.classes
             if true(r["special_group"]) or r["school_id"] in special_schools}
    sizes = Counter(r["class_id"] for r in data.students)
    for class_id, size in sizes.items():
        if class_id in small:
            assert 6 <= size <= 10, class_id
        else:
            assert 18 <= size <= 28, class_id
    assert set(sizes) == {r["class_id"] for r in data.classes}  # no empty class
    per_pupil = Counter(r["student_id"] for r in data.guardians)
    assert set(per_pupil.values()) <= {1, 2}
    two = sum(1 for n in per_pupil.values() if n == 2) / len(per_pupil)
    assert 0.7 <= two <= 0.9


def test_a_guardian_has_the_same_contact_data_on_every_row(export):
    data = export(3, 1)
    seen = {}
    for row in data.guardians:
        contact = tuple(row[c] for c in CONTACT_FIELDS)
        assert seen.setdefault(row["guardian_id"], contact) == contact


def test_siblings_share_guardians_at_the_same_school(export):
    data = export(3, 1)
    school_of = {r["class_id"]: r["school_id"] for r in data.classes}
    pupil = {r["student_id"]: r for r in data.students}
    children = defaultdict(list)
    for row in data.guardians:
        children[row["guardian_id"]].append(pupil[row["student_id"]])
    siblings = [kids for kids in children.values() if len(kids) > 1]
    assert 0.02 <= len(siblings) / len(children) <= 0.10
    for kids in siblings:
        assert len(kids) == 2
        assert len({school_of[k["class_id"]] for k in kids}) == 1
        assert kids[0]["class_id"] != kids[1]["class_id"]
        assert kids[0]["first_name"] != kids[1]["first_name"]


def test_surnames_mostly_shared_within_a_household(export):
    data = export(3, 1)
    pupil = {r["student_id"]: r for r in data.students}
    shared = [row["last_name"] == pupil[row["student_id"]]["last_name"]
              for row in data.guardians]
    assert 0.75 <= sum(shared) / len(shared) < 1


def test_consent_rates_vary_by_class_and_names_are_ticked_more_than_addresses(export):
    data = export(3, 1)
    class_of = {r["student_id"]: r["class_id"] for r in data.students}
    by_class = defaultdict(list)
    for row in data.guardians:
        by_class[class_of[row["student_id"]]].append(true(row["share_names"]))
    rates = [sum(v) / len(v) for v in by_class.values() if len(v) >= 30]
    assert max(rates) - min(rates) > 0.2
    total = len(data.guardians)
    share = {f: sum(true(r[f"share_{f}"]) for r in data.guardians) / total
             for f in ("names", "email", "phone", "address")}
    assert share["names"] > share["phone"] > share["address"]
    assert 0.3 < share["address"] < share["names"] < 0.95


def test_names_are_norwegian_sami_and_immigrant(export):
    data = export(3, 1)
    names = {r[c] for r in data.students + data.guardians for c in ("first_name", "last_name")}
    assert any(re.search("[æøåÆØÅ]", n) for n in names)
    assert names & SAMI_NAMES
    assert names & IMMIGRANT_NAMES
    assert any(not n.isascii() and n not in NORWEGIAN.surnames for n in names)


def test_name_tables_hold_the_required_names():
    everything = {n for g in NAME_GROUPS
                  for n in g.girls + g.boys + g.women + g.men + g.surnames}
    assert IMMIGRANT_NAMES <= everything
    assert SAMI_NAMES <= set(SAMI.girls + SAMI.boys + SAMI.surnames)
    assert {"Øystein", "Håkon", "Kåre", "Mæhle", "Sæther", "Løvås", "Bråten"} <= everything


def test_school_names_cycle_with_a_number():
    assert school_name(0) == "Sagene skole"
    assert school_name(len(SCHOOL_AREAS)) == "Sagene skole 2"
    assert school_name(2 * len(SCHOOL_AREAS) + 1) == "Bjølsen skole 3"


def test_ascii_slug():
    assert ascii_slug("Øystein") == "oystein"
    assert ascii_slug("Mæhle") == "maehle"
    assert ascii_slug("Løvås") == "lovas"
    assert ascii_slug("Ánne") == "anne"
    assert ascii_slug("Hans Petter") == "hans-petter"
    assert ascii_slug("Małgorzata") == "malgorzata"
    assert ascii_slug("Yılmaz") == "yilmaz"
    assert ascii_slug("Çelik") == "celik"


# --- markers ------------------------------------------------------------------------------


def assert_every_marker(data: Export) -> None:
    pupils = {r["student_id"]: r for r in data.students}
    guardians_of = data.guardians_of()
    protections = Counter(r["address_protection"] for r in data.students)
    assert GRADED <= set(protections), protections

    # A graded pupil's guardians are mostly graded the same way.
    graded = [s for s in data.students if s["address_protection"] != "ugradert"]
    same = [g["address_protection"] == s["address_protection"]
            for s in graded for g in guardians_of[s["student_id"]]]
    assert sum(same) / len(same) >= 0.5

    # A graded guardian of an ungraded pupil.
    assert any(g["address_protection"] != "ugradert"
               and pupils[g["student_id"]]["address_protection"] == "ugradert"
               for g in data.guardians)

    # A consent conflict: the pupil is graded, yet a guardian ticked names and address.
    assert any(pupils[g["student_id"]]["address_protection"] != "ugradert"
               and true(g["share_names"]) and true(g["share_address"])
               for g in data.guardians)

    # Unlisted phones, shared and not shared.
    unlisted = [g for g in data.guardians if true(g["phone_unlisted"])]
    assert {true(g["share_phone"]) for g in unlisted} == {True, False}

    # Institutions, and guardians at their addresses (spelt differently).
    assert len(data.institutions) == 6
    matched = [g for g in data.guardians if at_institution(g)]
    wanted = max(2, 2 * len(data.students) // 1000)
    assert len({g["guardian_id"] for g in matched}) >= wanted
    assert any(true(g["share_address"]) for g in matched)
    assert any(not true(g["share_address"]) for g in matched)
    registered = {i.street_address for i in INSTITUTIONS}
    assert all(g["street_address"] not in registered for g in matched)

    # Special group and special school.
    assert sum(true(c["special_group"]) for c in data.classes) == 1
    assert any(true(s["special_school"]) for s in data.schools)
    special = {s["school_id"] for s in data.schools if true(s["special_school"])}
    assert any(c["school_id"] in special for c in data.classes)


@pytest.mark.parametrize("schools,seed", [(1, 1), (1, 2), (1, 3), (1, 12345), (3, 1), (3, 7)])
def test_every_marker_is_present(export, schools, seed):
    assert_every_marker(export(schools, seed))


def test_markers_are_planted_in_class_5b_of_the_first_school(export):
    data = export(1, 8)
    in_5b = {r["student_id"] for r in data.students if r["class_id"] == "S001-5B"}
    rows = [g for g in data.guardians if g["student_id"] in in_5b]
    pupils = [r for r in data.students if r["student_id"] in in_5b]
    assert {"fortrolig", "strengt_fortrolig"} <= {p["address_protection"] for p in pupils}
    assert {true(g["share_phone"]) for g in rows if true(g["phone_unlisted"])} == {True, False}
    assert any(at_institution(g) and true(g["share_address"]) for g in rows)


def test_random_grading_rates_are_small(export):
    data = export(12, 2)
    protections = Counter(r["address_protection"] for r in data.students)
    assert protections["fortrolig"] / len(data.students) < 0.01
    assert protections["strengt_fortrolig"] / len(data.students) < 0.005
    unlisted = sum(true(g["phone_unlisted"]) for g in data.guardians) / len(data.guardians)
    assert 0.015 < unlisted < 0.05


def test_no_guardian_lives_at_an_institution_address_by_accident(export):
    data = export(12, 2)
    matched = [g for g in data.guardians if at_institution(g)]
    expected = max(2, -(-2 * len(data.students) // 1000))
    assert len({g["guardian_id"] for g in matched}) == expected


def test_institution_variants_differ_from_the_register_but_match_it(export):
    data = export(12, 2)
    matched = [g for g in data.guardians if at_institution(g)]
    spellings = {g["street_address"] for g in matched}
    registered = {i.street_address for i in INSTITUTIONS}
    assert spellings and not spellings & registered
    assert len(spellings) >= 3


def test_address_variant_is_never_byte_equal():
    import random

    rng = random.Random(0)
    for institution in INSTITUTIONS:
        for _ in range(200):
            variant = address_variant(institution.street_address, rng)
            assert variant != institution.street_address
            assert normalise_address(variant) == normalise_address(institution.street_address)


# --- the optional fødselsnummer column ----------------------------------------------------


def test_no_fodselsnummer_column_by_default(export):
    data = export(1, 1)
    assert "fodselsnummer" not in data.students[0]


def test_optional_fodselsnummer_column_holds_obviously_fake_values(export):
    data = export(1, 1, include_fnr_column=True)
    values = [r["fodselsnummer"] for r in data.students]
    assert all(re.fullmatch(r"00000\d{6}", v) for v in values)  # day 00: no real date
    assert len(set(values)) == len(values)
    plain = export(1, 1)
    strip = [{k: v for k, v in r.items() if k != "fodselsnummer"} for r in data.students]
    assert strip == plain.students


@pytest.mark.parametrize("seed", [1, 8])
def test_5b_holds_a_co_resident_and_a_sibling_of_a_graded_household(export, seed):
    """Registered as real families are: the grade on one member only. Screening protects
    both households whole (tests/test_households.py)."""
    data = export(1, seed)
    pupils = {r["student_id"]: r for r in data.students}
    guardians = data.guardians_of()
    in_5b = [s for s, r in pupils.items() if r["class_id"] == "S001-5B" and r["address_protection"] == "ugradert"]
    co_resident = [s for s in in_5b if len(guardians[s]) == 2
                   and {g["address_protection"] for g in guardians[s]} == {"fortrolig", "ugradert"}
                   and len({(g["street_address"], g["postal_code"]) for g in guardians[s]}) == 1]
    assert co_resident
    sibling = [s for s in in_5b
               if all(g["address_protection"] == "ugradert" for g in guardians[s])
               and any(pupils[other]["class_id"] == "S001-3A" and pupils[other]["address_protection"] == "strengt_fortrolig"
                       for other, rows in guardians.items() if other != s
                       for g in rows if g["guardian_id"] in {h["guardian_id"] for h in guardians[s]})]
    assert sibling
