"""Indirect identification: what is released must not give away what is withheld.

A withheld pupil must not be inferable from the position of the rows, from numbering,
from counts in the letter, or by elimination in a class where almost nobody is left. The
released list is alphabetical by what the public sees, with no numbers, so a removed row
leaves no gap; the letter's wording is the same whether one pupil or several were withheld;
and a class with too few released pupils is flagged for legal review.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from conftest import FIXED_NOW, Register, open_case

from innsyn import db as innsyn_db
from innsyn.case_documents import build_answer, norwegian_key, public_answer
from innsyn.clock import OSLO
from innsyn.policy import load_policy
from innsyn.render import render_public_html
from innsyn.screening import screen_case, summarise

POLICY = load_policy()

# A 5B in alphabetical order by last name, as a reader would expect to see it.
CLASS_5B = [("Ingrid", "Aas"), ("Jonas", "Berg"), ("Nora", "Dahl"), ("Emil", "Haugen"),
            ("Sofie", "Lie"), ("Ali", "Nilsen"), ("Maja", "Strand"), ("Åsmund", "Ødegård")]


def school_with(tmp_path: Path, pupils: list[tuple[str, str]], protected: dict[str, str] | None = None,
                name: str = "skole", guardian: dict[str, dict] | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh register with one class 5B; `protected` grades pupils by last name, and
    `guardian` gives a pupil's guardian (by the pupil's last name) something special."""
    protected, guardian = protected or {}, guardian or {}
    con = innsyn_db.connect(tmp_path / f"{name}.duckdb")
    innsyn_db.init_schema(con)
    register = Register(con)
    register.school()
    register.klass()
    for first, last in pupils:
        register.pupil(first, last, protection=protected.get(last, "ugradert"),
                       guardians=[{"first": "Foresatt", "last": last, "email": f"{last.lower()}@example.no",
                                   "phone": f"91{CLASS_5B.index((first, last)) if (first, last) in CLASS_5B else 9} 00 000",
                                   "street": f"{last}veien 1", **guardian.get(last, {})}])
    return con


def screened(con: duckdb.DuckDBPyConnection, folder: Path, policy=POLICY) -> str:
    case_id = open_case(con, folder)
    screen_case(con, case_id, policy, datetime.fromisoformat(FIXED_NOW).astimezone(OSLO))
    return case_id


def public_html(con: duckdb.DuckDBPyConnection, case_id: str) -> str:
    return render_public_html(public_answer(build_answer(con, case_id, POLICY)))


def letter(page: str) -> str:
    return re.search(r'<article class="brev">.*?</article>', page, flags=re.S).group(0)


def class_list(page: str) -> str:
    return re.search(r'<table class="klasseliste">.*?</table>', page, flags=re.S).group(0)


def grounds(page: str) -> str:
    """The letter's 'Begrunnelse for unntak' section, as text."""
    section = re.search(r"<h2>Begrunnelse for unntak</h2>(.*?)(?=<h2>)", letter(page), flags=re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", section).split())


def public_names(con: duckdb.DuckDBPyConnection, case_id: str) -> list[str]:
    answer = public_answer(build_answer(con, case_id, POLICY))
    return [row.name.value for row in answer.classes[0].rows if row.name is not None]


# ----------------------------------------------------------------------------- order without gaps


def test_the_released_list_is_alphabetical_by_last_name(tmp_path):
    shuffled = [CLASS_5B[i] for i in (5, 2, 7, 0, 3, 6, 1, 4)]
    con = school_with(tmp_path, shuffled)
    names = public_names(con, screened(con, tmp_path))
    assert names == [f"{first} {last}" for first, last in CLASS_5B]
    assert names == sorted(names, key=lambda n: norwegian_key(n.split()[-1]))


@pytest.mark.parametrize("grade", ["fortrolig", "strengt_fortrolig"])
@pytest.mark.parametrize("withheld", ["Aas", "Haugen", "Ødegård"])
def test_a_withheld_pupil_leaves_the_list_as_if_they_were_never_in_the_class(tmp_path, withheld, grade):
    """First, middle or last: the public list is identical to that of the class without them."""
    with_them = school_with(tmp_path, CLASS_5B, {withheld: grade}, name="with")
    without_them = school_with(tmp_path, [p for p in CLASS_5B if p[1] != withheld], name="without")
    shown = class_list(public_html(with_them, screened(with_them, tmp_path)))
    expected = class_list(public_html(without_them, screened(without_them, tmp_path)))
    assert shown == expected
    assert withheld not in shown
    assert not re.search(r"<td>\s*\d+\.?\s*</td>", shown)  # no row numbers that could skip


def test_a_strengt_fortrolig_pupil_changes_nothing_at_all_in_the_public_answer(tmp_path):
    """No trace: not the list, not the letter, not the outcome."""
    with_them = school_with(tmp_path, CLASS_5B, {"Dahl": "strengt_fortrolig"}, name="with")
    without_them = school_with(tmp_path, [p for p in CLASS_5B if p[1] != "Dahl"], name="without")
    assert public_html(with_them, screened(with_them, tmp_path)) == \
        public_html(without_them, screened(without_them, tmp_path))


# ----------------------------------------------------------------------------- the letter never counts


def test_the_grounds_hold_no_number_but_the_legal_references(tmp_path):
    con = school_with(tmp_path, CLASS_5B, {"Berg": "fortrolig", "Lie": "fortrolig"})
    text = grounds(public_html(con, screened(con, tmp_path)))
    assert "forvaltningsloven § 13 første ledd nr. 1" in text
    without_references = re.sub(r"(§ \d+( [a-z]\b)?|nr\. \d+)", "", text)
    assert not re.search(r"\d", without_references), without_references


def test_the_letter_reads_the_same_for_one_withheld_pupil_as_for_three(tmp_path):
    one = school_with(tmp_path, CLASS_5B, {"Berg": "fortrolig"}, name="one")
    three = school_with(tmp_path, CLASS_5B, {"Berg": "fortrolig", "Lie": "fortrolig", "Strand": "fortrolig"},
                        name="three")
    assert letter(public_html(one, screened(one, tmp_path))) == letter(public_html(three, screened(three, tmp_path)))


def test_the_letter_says_it_will_not_say_how_many(tmp_path):
    con = school_with(tmp_path, CLASS_5B, {"Berg": "fortrolig"})
    assert "opplyser vi ikke hvor mange elever" in " ".join(letter(public_html(con, screened(con, tmp_path))).split())


# ----------------------------------------------------------------------------- thin classes


def thin(con: duckdb.DuckDBPyConnection, case_id: str) -> tuple:
    """(the classes flagged, whether the case waits for review); the review copy agrees."""
    summary = summarise(con, case_id, POLICY)
    flags = build_answer(con, case_id, POLICY).flags
    assert ("indirect_identification:S001-5B" in flags) == bool(summary.thin_classes)
    return summary.thin_classes, summary.requires_review


def test_a_class_with_too_few_released_pupils_is_flagged_for_review(tmp_path):
    con = school_with(tmp_path, CLASS_5B[:3], {"Aas": "fortrolig"})  # two released, one withheld
    assert thin(con, screened(con, tmp_path)) == (("S001-5B",), True)


def test_a_class_with_enough_released_pupils_is_not_flagged(tmp_path):
    con = school_with(tmp_path, CLASS_5B[:4], {"Aas": "fortrolig"})  # three released
    assert thin(con, screened(con, tmp_path))[0] == ()


def test_a_small_class_with_nothing_withheld_is_not_flagged(tmp_path):
    con = school_with(tmp_path, CLASS_5B[:2])
    assert thin(con, screened(con, tmp_path)) == ((), False)


def test_a_pupil_whose_only_guardian_is_strengt_fortrolig_leaves_no_trace(tmp_path):
    """The child lives at the secret address: the whole row goes, without a trace. A bare
    name would prove a withheld guardian (a name is only shown when a guardian shared it)."""
    con = school_with(tmp_path, [*CLASS_5B[:2], ("Eva", "Zahl")],
                      guardian={"Zahl": {"protection": "strengt_fortrolig"}})
    without = school_with(tmp_path, CLASS_5B[:2], name="without")
    case_id = screened(con, tmp_path)
    assert public_names(con, case_id) == ["Ingrid Aas", "Jonas Berg"]
    assert public_html(con, case_id) == public_html(without, screened(without, tmp_path))


def test_a_bare_name_is_withheld_with_its_guardians(tmp_path):
    """A pupil whose every guardian line is withheld (here an institution in the only
    guardian's place) is not shown as a bare name: the name goes with them."""
    con = school_with(tmp_path, [*CLASS_5B[:3], ("Eva", "Zahl")],
                      guardian={"Zahl": {"first": "Barneverntjenesten", "last": "Bydel Sagene"}})
    case_id = screened(con, tmp_path)
    assert public_names(con, case_id) == ["Ingrid Aas", "Jonas Berg", "Nora Dahl"]
    assert "Zahl" not in public_html(con, case_id) and "Barnevern" not in public_html(con, case_id)


def test_the_flag_never_reaches_the_public_answer(tmp_path):
    con = school_with(tmp_path, CLASS_5B[:3], {"Aas": "fortrolig"})
    case_id = screened(con, tmp_path)
    page = public_html(con, case_id)
    assert "indirect_identification" not in page and "S001-5B" not in page
