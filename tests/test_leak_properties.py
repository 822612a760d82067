"""No leak, whatever the class: random classes with a canary in every value, rendered for real.

Hypothesis builds classes with random markers (graded addresses on pupils and guardians,
unlisted phones, institution addresses, special groups) and random ticks. Every value is
unique, so every withheld value is a canary. Each class is screened by the real SQL,
redacted, rendered by WeasyPrint and read back by both extractors: no withheld value may be
found, and every released value must be there.

Profiles: the default (CI) tries a few dozen classes; `HYPOTHESIS_PROFILE=nightly` tries
three thousand (see README, "Hardening").
"""

from __future__ import annotations

import os

import duckdb
import pypdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from innsyn import db as innsyn_db
from innsyn.case_documents import build_answer, public_answer
from innsyn.leak_gate import find_leaks
from innsyn.policy import load_policy
from innsyn.render import render_public_pdf

from conftest import Register, screen

PROTECTION = st.sampled_from(["ugradert"] * 6 + ["fortrolig", "strengt_fortrolig", "strengt_fortrolig_utland"])
GUARDIAN = st.fixed_dictionaries({
    "protection": PROTECTION,
    "phone_unlisted": st.booleans(),
    "at_institution": st.booleans(),
    "names": st.booleans(), "share_email": st.booleans(), "share_phone": st.booleans(),
    "share_address": st.booleans(),
})
PUPIL = st.fixed_dictionaries({"protection": PROTECTION, "guardians": st.lists(GUARDIAN, min_size=1, max_size=2)})
CLASS = st.fixed_dictionaries({"special_group": st.booleans() | st.just(False),
                               "pupils": st.lists(PUPIL, min_size=1, max_size=6)})

LETTERS = "bcdfghjklmnpqrstvwxz"


def token(n: int) -> str:
    """A unique, letters-only token (digits would meet page numbers and dates)."""
    word = ""
    n += 400
    while n:
        n, rest = divmod(n, len(LETTERS))
        word += LETTERS[rest]
    return word.capitalize()


def build(register: Register, klass: dict) -> None:
    register.school()
    register.klass(special_group=klass["special_group"])
    register.institution("Institusjonsveien 1", "0170")
    n = 0
    for pupil in klass["pupils"]:
        n += 1
        guardians = []
        for guardian in pupil["guardians"]:
            n += 1
            at_institution = guardian.pop("at_institution")
            street = "Institusjonsvn. 1" if at_institution else f"{token(n)}veien {n}"
            guardians.append({**guardian, "first": f"Foresatt{token(n)}", "last": token(n + 1000),
                              "email": f"{token(n).lower()}.{token(n + 2000).lower()}@example.no",
                              "phone": f"9{n:02d} {n:02d} 4{n:02d}", "street": street, "postal_code": "0170"})
        register.pupil(f"Elev{token(n)}", token(n + 3000), protection=pupil["protection"], guardians=guardians)


# a few dozen classes in CI; a thousand in the nightly profile (each is a real render)
NIGHTLY = os.environ.get("HYPOTHESIS_PROFILE") == "nightly"
pytestmark = [pytest.mark.timeout(4 * 3600)] if NIGHTLY else []


@settings(max_examples=3000 if NIGHTLY else 25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(klass=CLASS)
def test_no_withheld_value_reaches_the_public_pdf(tmp_path_factory, klass):
    workdir = tmp_path_factory.mktemp("leak")
    con = duckdb.connect()
    innsyn_db.init_schema(con)
    build(Register(con), klass)
    decisions = screen(con)
    policy = load_policy()
    con.execute("INSERT INTO cases (case_id, request_id, received_at, requester_name, requester_kind, "
                "scope_school_id, scope_classes, registered_by, status, registered_at) VALUES "
                "('T-1', 'T/1', TIMESTAMPTZ '2026-11-23 09:00:00+01', 'Kari', 'journalist', 'S001', '[\"5B\"]', "
                "'t', 'screened', now())")
    answer = build_answer(con, "T-1", policy)
    withheld = {c.item_id: c.value for c in answer.cells() if c.withheld}
    released = [c.value for c in answer.cells() if not c.withheld]
    assert set(withheld) == {item for item, d in decisions.items() if d.decision == "withhold"}

    pdf = workdir / "svar.pdf"
    render_public_pdf(public_answer(answer), pdf)

    assert find_leaks(pdf, withheld, released) == []
    text = "".join("".join(page.extract_text() for page in pypdf.PdfReader(pdf).pages).split()).casefold()
    for value in withheld.values():
        assert "".join(value.split()).casefold() not in text
    if answer.outcome != "avslatt":
        for value in released:
            assert "".join(value.split()).casefold() in text
