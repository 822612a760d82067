"""Households: a graded address protects everyone it can identify, in every public PDF.

Hypothesis builds registers the way families live: households of one or two guardians with
one to three children spread over 5B and 3A of Sagene skole and 7A of another school, who
share a home written in the ways people write it ("Kanarixyzveien 5", "Kanarixyzvn. 5 H0201",
"c/o Berg, Kanarixyzveien 5, 2. etasje", nynorsk "-vegen"), sometimes a phone or an e-mail,
and a surname. A grade sits on one member only, as registers often have it: a pupil, or one
guardian; and now and then an institution stands in a parent's place. Every household has
its own tokens in its surname, street, phones and e-mails, so a value found in a PDF names
the household it came from.

Each register is screened and rendered through the real renderer for class 5B and for the
whole school, and every public PDF is read back with both extractors (poppler's pdftotext
and pypdf). Promises:

- nothing of a household with a graded member (names, street, e-mail, phone) is in any
  public PDF, whichever member carries the grade and whoever the values are listed under;
- nothing of an institution's entry is, nor the name of the pupil in its care;
- the letter for 5B reads the same, word for word, with and without a strengt fortrolig
  household in the class.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import duckdb
import pypdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXED_NOW, open_case

from innsyn import db as innsyn_db
from innsyn.case_documents import build_answer, public_answer
from innsyn.clock import OSLO
from innsyn.leak_gate import pdf_texts
from innsyn.policy import load_policy
from innsyn.render import render_public_html, render_public_pdf
from innsyn.screening import screen_case

pytestmark = [pytest.mark.timeout(4 * 3600)] if os.environ.get("HYPOTHESIS_PROFILE") == "nightly" else []

POLICY = load_policy()
CLASSES = (("S001", "S001-5B", "5B", 5), ("S001", "S001-3A", "3A", 3), ("S002", "S002-7A", "7A", 7))
GRADES = ("fortrolig", "strengt_fortrolig", "strengt_fortrolig_utland")
INSTITUTION_STREET = ("Thereses gate 12 B", "0168")
# the same home, written as guardians and school systems write it
SPELLINGS = ("{street}veien {n}", "{street}vn. {n}", "{street}vegen {n}", "{street}veien {n} H0201",
             "{street}veien {n}, 2. etasje", "c/o Berg, {street}veien {n}", "{street}veien nr. {n}",
             "{street}veien {n}, leil. 301", "{STREET}VEIEN {n}")
FIRST = ("Ola", "Kari", "Åse", "Ánte", "Mohammed", "Liv", "Per", "Nils", "Fatima", "Siri")


@dataclass(frozen=True)
class Person:
    first: str
    protection: str = "ugradert"


@dataclass(frozen=True)
class Guardian(Person):
    street: str = ""
    postal_code: str = "0477"
    phone: str = ""
    email: str = ""
    institution: str = ""  # "name": an institution by its name; "address": at an institution's address


@dataclass(frozen=True)
class Child(Person):
    class_id: str = "S001-5B"
    ticks: tuple[bool, bool, bool, bool] = (True, True, True, True)


@dataclass(frozen=True)
class Household:
    token: str  # three letters, in the surname, the street, the e-mails
    guardians: tuple[Guardian, ...]
    children: tuple[Child, ...]
    moved_in: str = ""  # the token of the household whose home the first guardian lives in now

    @property
    def surname(self) -> str:
        return f"Kanari{self.token}sen"

    def forbidden(self, graded: str | None) -> set[str]:
        """What of this household must not be read in a public PDF, squeezed: all of it when a
        member of its home is graded; with an institution in a parent's place, its entry and
        the children's names (the other parent may be released)."""
        if graded:
            values = {squeeze(self.surname), squeeze(f"Kanari{self.token}v"), squeeze(f"Bydel {self.token}")}
            for g in self.guardians:
                values |= {squeeze(g.phone), squeeze(g.email)} - {""}
            return values
        values = {squeeze(f"{c.first} {self.surname}") for c in self.children}
        for g in self.guardians:
            if g.institution:
                values |= {squeeze(g.phone), squeeze(g.email), squeeze(f"Bydel {self.token}"),
                           squeeze(f"{g.first} {self.surname}")} - {""}
        return values

    @property
    def graded(self) -> str | None:
        grades = [p.protection for p in (*self.guardians, *self.children) if p.protection != "ugradert"]
        return max(grades, key=GRADES.index) if grades else None

    @property
    def at_institution(self) -> bool:
        return any(g.institution for g in self.guardians)


def squeeze(text: str) -> str:
    return "".join(text.split()).casefold()


@st.composite
def households(draw, token: str) -> Household:
    n = draw(st.integers(1, 60))
    home = [SPELLINGS[draw(st.integers(0, len(SPELLINGS) - 1))].format(
        street=f"Kanari{token}", STREET=f"KANARI{token.upper()}", n=n) for _ in range(2)]
    shared_phone = draw(st.booleans())
    guardians = []
    token_number = sum((ord(ch) - 97) * 26 ** i for i, ch in enumerate(token))  # unique per token
    for number in range(draw(st.integers(1, 2))):
        phone = f"4{token_number:05d}{number}9"
        guardians.append(Guardian(
            first=draw(st.sampled_from(FIRST)) + "xy"[number],  # two guardians are not namesakes
            street=home[number],
            postal_code=draw(st.sampled_from(["0477", "0477", "477", ""])),
            phone=guardians[0].phone if guardians and shared_phone else phone,
            email=f"{token}{number}@example.no",
        ))
    children = tuple(Child(first=f"{draw(st.sampled_from(FIRST))}{chr(97 + i)}",
                           class_id=draw(st.sampled_from([c[1] for c in CLASSES])),
                           ticks=tuple(draw(st.booleans()) or i == 0 for i in range(4)))
                     for i in range(draw(st.integers(1, 3))))
    household = Household(token, tuple(guardians), children)
    what = draw(st.sampled_from(["none", "none", "pupil", "guardian", "institution"]))
    if what == "pupil":
        which = draw(st.integers(0, len(children) - 1))
        graded = replace(children[which], protection=draw(st.sampled_from(GRADES)))
        household = replace(household, children=(*children[:which], graded, *children[which + 1:]))
    elif what == "guardian":
        household = replace(household, guardians=(
            replace(guardians[0], protection=draw(st.sampled_from(GRADES))), *guardians[1:]))
    elif what == "institution":
        if draw(st.booleans()):
            entry = replace(guardians[0], first="Barneverntjenesten", institution="name")
        else:
            entry = replace(guardians[0], street="Thereses gt. 12b", postal_code="0168", institution="address")
        household = replace(household, guardians=(entry, *guardians[1:]))
    return household


@st.composite
def registers(draw) -> tuple[Household, ...]:
    """Households, and now and then a guardian who has moved in with another household (a
    new partner with children of their own), writing its address their own way and sometimes
    sharing its phone."""
    tokens = draw(st.lists(st.text("bcdfghjklmnpqrstvwxz", min_size=3, max_size=3), min_size=3, max_size=7,
                           unique=True))
    register = [draw(households(token)) for token in tokens]
    hosts = [h for h in register[: len(register) // 2] if not h.guardians[0].institution]
    for n in range(len(register) // 2, len(register)):
        mover = register[n]
        if hosts and not mover.guardians[0].institution and draw(st.integers(0, 2)) == 0:
            host = draw(st.sampled_from(hosts))
            spelling = SPELLINGS[draw(st.integers(0, len(SPELLINGS) - 1))]
            number = re.search(r"\d+", host.guardians[0].street).group(0)
            moved = replace(mover.guardians[0], street=spelling.format(
                street=f"Kanari{host.token}", STREET=f"KANARI{host.token.upper()}", n=number),
                postal_code=host.guardians[0].postal_code,
                phone=host.guardians[0].phone if draw(st.booleans()) else mover.guardians[0].phone)
            register[n] = replace(mover, guardians=(moved, *mover.guardians[1:]), moved_in=host.token)
    return tuple(register)


def homes(register: tuple[Household, ...]) -> dict[str, str | None]:
    """token -> the strongest grade in the home it shares (its own, the one a guardian moved
    into, or that of a guardian who moved into it): a fortrolig partner who moved in with a
    strengt fortrolig household leaves no trace either."""
    home_of = {h.token: h.moved_in or h.token for h in register}
    grade: dict[str, str | None] = {}
    for h in register:
        for key in {h.token, home_of[h.token]}:
            if h.graded:
                grade[key] = max(filter(None, (grade.get(key), h.graded)), key=GRADES.index)
    strongest = {token: max(filter(None, (grade.get(token), grade.get(home_of[token]))), key=GRADES.index, default=None)
                 for token in home_of}
    return strongest


def build(register: tuple[Household, ...], folder: Path, name: str) -> duckdb.DuckDBPyConnection:
    con = innsyn_db.connect(folder / f"{name}.duckdb")
    innsyn_db.init_schema(con)
    con.executemany("INSERT INTO schools VALUES (?, ?, false)", [("S001", "Sagene skole"), ("S002", "Bjølsen skole")])
    con.executemany("INSERT INTO classes VALUES (?, ?, ?, ?, false)",
                    [(class_id, school, name_, grade) for school, class_id, name_, grade in CLASSES])
    con.execute("INSERT INTO institutions VALUES ('I001', 'Bjølsen ungdomshjem', ?, ?, 'barnevernsinstitusjon')",
                list(INSTITUTION_STREET))
    for h in register:
        for c_no, child in enumerate(h.children):
            student_id = f"E-{h.token}-{c_no}"
            con.execute("INSERT INTO students VALUES (?, ?, ?, ?, ?)",
                        [student_id, child.class_id, child.first, h.surname, child.protection])
            for g_no, g in enumerate(h.guardians):
                last = f"Bydel {h.token}" if g.institution == "name" else h.surname
                con.execute("INSERT INTO guardians VALUES (?, ?, ?, ?, ?, ?, false, ?, ?, 'OSLO', ?, ?, ?, ?, ?)",
                            [f"F-{h.token}-{g_no}", student_id, g.first, last, g.email, g.phone, g.street,
                             g.postal_code, g.protection, *child.ticks])
    return con


def public_pdf(con: duckdb.DuckDBPyConnection, folder: Path, classes, pdf: Path,
               request_id: str | None = None) -> tuple[str, str]:
    """Screen and render a case; the PDF's text by both extractors, squeezed, and its letter's HTML."""
    case_id = open_case(con, folder, classes=classes, request_id=request_id or f"2026/{pdf.stem}")
    screen_case(con, case_id, POLICY, datetime.fromisoformat(FIXED_NOW).astimezone(OSLO))
    answer = public_answer(build_answer(con, case_id, POLICY))
    render_public_pdf(answer, pdf)
    poppler = "\n".join(pdf_texts(pdf))
    extracted = "\n".join(page.extract_text() for page in pypdf.PdfReader(pdf).pages)
    letter = re.search(r'<article class="brev">.*?</article>', render_public_html(answer), flags=re.S).group(0)
    return squeeze(poppler + "\n" + extracted), letter


@settings(max_examples=max(10, settings.default.max_examples // 3), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(register=registers())
def test_no_household_member_of_a_graded_person_reaches_a_public_pdf(tmp_path_factory, register):
    folder = tmp_path_factory.mktemp("households")
    con = build(register, folder, "register")
    texts = [public_pdf(con, folder, ["5B"], folder / "5b.pdf")[0],
             public_pdf(con, folder, "all", folder / "school.pdf")[0]]
    graded = homes(register)
    for household in register:
        if graded[household.token] or household.at_institution:
            for text in texts:
                found = [value for value in household.forbidden(graded[household.token]) if value in text]
                assert not found, (household.token, graded[household.token], found)

    # the letter for 5B is the same, word for word, without the strengt fortrolig households
    without = tuple(h for h in register if not (graded[h.token] or "").startswith("strengt"))
    if len(without) < len(register):
        with_them = public_pdf(con, folder, ["5B"], folder / "5b-again.pdf", request_id="2026/9")[1]
        other = build(without, folder, "without")
        assert public_pdf(other, folder, ["5B"], folder / "5b-without.pdf", request_id="2026/9")[1] == with_them
        other.close()
    con.close()
