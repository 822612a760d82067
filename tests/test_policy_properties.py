"""Screening's promises, checked on random classes under random policies (hypothesis).

Hypothesis builds small registers: a 5B of 1–8 pupils with 1–2 guardians each (sometimes a
guardian shared between siblings, sometimes a sibling in another class), random ticks,
random address grades on pupils and guardians, unlisted phones, guardians living at an
institution (spelled in the ways people spell it), households that share an address or a
phone, namesakes, and special groups or schools. Each one is screened in a fresh in-memory
DuckDB, under the default policy or a random variant of it, and checked against an oracle
written here in plain Python from what was ticked, which markers apply (a graded household
reaches everyone domain.md says it does), which rules consent cannot lift, and what one
decision implies for the others (no trace takes the line, no released value equals a
withheld e-mail, phone or address, no bare names):

- a field not ticked is never released (it is not in the list at all);
- a value under a marker whose rule consent cannot lift is never released;
- every withheld value names a rule of the policy in force that consent cannot lift;
- the same input gives the same decisions, whatever order the register's rows are in.

Fast by default (60 examples); `HYPOTHESIS_PROFILE=nightly` runs 1000 (see README).
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
import tomllib
from dataclasses import dataclass

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Decision, screen

from innsyn import db as innsyn_db
from innsyn.policy import DEFAULT_POLICY, FIELDS, Policy, Rule, load_policy

# The nightly profile runs for many minutes: lift the suite's per-test timeout for it.
pytestmark = [pytest.mark.timeout(4 * 3600)] if os.environ.get("HYPOTHESIS_PROFILE") == "nightly" else []

DEFAULT = load_policy()
CLASS = "S001-5B"
OTHER_CLASS = "S001-3A"
INSTITUTION = ("Thereses gate 12 B", "0168")

# ----------------------------------------------------------------------------- the register, as data


@dataclass(frozen=True)
class Guardian:
    """A guardian's own record: the same on every row they appear in."""

    guardian_id: str
    protection: str
    phone_unlisted: bool
    at_institution: bool
    street: str
    postal_code: str
    email: str
    phone: str


@dataclass(frozen=True)
class Ticks:
    names: bool
    email: bool
    phone: bool
    address: bool


@dataclass(frozen=True)
class Pupil:
    student_id: str
    class_id: str
    first: str
    last: str
    protection: str
    guardians: tuple[tuple[Guardian, Ticks], ...]


@dataclass(frozen=True)
class School:
    special_school: bool
    special_group: bool
    pupils: tuple[Pupil, ...]


GRADES = ["ugradert"] * 6 + ["fortrolig", "strengt_fortrolig", "strengt_fortrolig_utland"]
AT_INSTITUTION = [("Thereses gate 12 B", "0168"), ("THERESES GT. 12b", "0168"), ("Theresesgate 12 b", "168"),
                  ("Thereses gata 12-B", "0168")]
ELSEWHERE = [("Sandakerveien 1", "0477"), ("Thereses gate 12", "0168"), ("Thereses gate 13 B", "0168"),
             ("Thereses gate 12 B", "0169"), ("Kirkeveien 5", "0364"), ("", "")]
# the keys screening compares addresses by (sql/normalize_address.sql; its own table of
# spellings is tests/test_institution_matching.py)
ADDRESS_KEYS = {("Thereses gate 12 B", "0168"): "theresesgate12b|0168", ("THERESES GT. 12b", "0168"): "theresesgate12b|0168",
                ("Theresesgate 12 b", "168"): "theresesgate12b|0168", ("Thereses gata 12-B", "0168"): "theresesgate12b|0168",
                ("Sandakerveien 1", "0477"): "sandakerveien1|0477", ("Thereses gate 12", "0168"): "theresesgate12|0168",
                ("Thereses gate 13 B", "0168"): "theresesgate13b|0168", ("Thereses gate 12 B", "0169"): "theresesgate12b|0169",
                ("Kirkeveien 5", "0364"): "kirkevei5|0364", ("", ""): None}
PHONE_KEYS = {"412 34 567": "41234567", "+47 900 00 000": "90000000", "": None}
FIRST = ["Ola", "Kari", "Åse", "Ánte", "Mohammed", "Liv", "Per"]
LAST = ["Hansen", "Ødegård", "Berg", "Ali", "Somby", "Aas"]

grades = st.sampled_from(GRADES)
ticks = st.builds(Ticks, st.booleans(), st.booleans(), st.booleans(), st.booleans())


@st.composite
def guardians(draw, guardian_id: str) -> Guardian:
    at_institution = draw(st.sampled_from([False, False, True]))
    street, postal_code = draw(st.sampled_from(AT_INSTITUTION if at_institution else ELSEWHERE))
    return Guardian(
        guardian_id=guardian_id,
        protection=draw(grades),
        phone_unlisted=draw(st.booleans()),
        at_institution=at_institution,
        street=street,
        postal_code=postal_code,
        email=draw(st.sampled_from([f"{guardian_id.lower()}@example.no", ""])),
        phone=draw(st.sampled_from(["412 34 567", "+47 900 00 000", ""])),
    )


@st.composite
def schools(draw) -> School:
    known: list[Guardian] = []

    def guardian_line(taken: set[str], sibling: bool = False) -> tuple[Guardian, Ticks]:
        siblings = [g for g in known if g.guardian_id not in taken]
        if siblings and (sibling or draw(st.integers(0, 3)) == 0):
            guardian = draw(st.sampled_from(siblings))  # a parent of an earlier pupil too
        else:
            guardian = draw(guardians(f"F{len(known) + 1:02d}"))
            known.append(guardian)
        return guardian, draw(ticks)

    def pupil(student_id: str, class_id: str, how_many: int, sibling: bool = False) -> Pupil:
        lines: list[tuple[Guardian, Ticks]] = []
        for _ in range(how_many):
            lines.append(guardian_line({g.guardian_id for g, _ in lines}, sibling))
        return Pupil(student_id, class_id, draw(st.sampled_from(FIRST)), draw(st.sampled_from(LAST)),
                     draw(grades), tuple(lines))

    pupils = [pupil(f"E{n:02d}", CLASS, draw(st.integers(1, 2))) for n in range(1, draw(st.integers(1, 8)) + 1)]
    if draw(st.booleans()):
        pupils.append(pupil("E99", OTHER_CLASS, 1, sibling=True))  # shares a parent with a pupil of 5B
    return School(special_school=draw(st.sampled_from([False, False, False, True])),
                  special_group=draw(st.sampled_from([False, False, False, True])),
                  pupils=tuple(pupils))


@st.composite
def policies(draw) -> Policy:
    """The default policy, or a variant: every rule's consent, trace and fields redrawn, and
    how far a household reaches."""
    if draw(st.booleans()):
        return DEFAULT
    data = tomllib.loads(DEFAULT_POLICY.read_text(encoding="utf-8"))
    data["household"] = {"co_residents": draw(st.booleans()), "whole_family": draw(st.booleans())}
    rules = draw(st.permutations(data["rules"]))
    data["rules"] = [
        {**rule,
         "consent_lifts": draw(st.booleans()),
         "no_trace": draw(st.booleans()),
         "withholds": draw(st.one_of(st.just(["whole_row"]),
                                     st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)))}
        for rule in rules
    ]
    return Policy.model_validate({**data, "sha256": hashlib.sha256(repr(data).encode()).hexdigest()})


def build(school: School, *, reverse: bool = False) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory database holding the register; `reverse` stores its rows backwards."""
    con = duckdb.connect()
    innsyn_db.init_schema(con)
    con.execute("INSERT INTO schools VALUES ('S001', 'Sagene skole', ?)", [school.special_school])
    con.executemany("INSERT INTO classes VALUES (?, 'S001', ?, ?, ?)",
                    [(CLASS, "5B", 5, school.special_group), (OTHER_CLASS, "3A", 3, False)])
    con.execute("INSERT INTO institutions VALUES ('I001', 'Bjølsen ungdomshjem', ?, ?, 'barnevernsinstitusjon')",
                list(INSTITUTION))
    pupils = school.pupils[::-1] if reverse else school.pupils
    con.executemany("INSERT INTO students VALUES (?, ?, ?, ?, ?)",
                    [(p.student_id, p.class_id, p.first, p.last, p.protection) for p in pupils])
    rows = [(g.guardian_id, p.student_id, "Foresatt", g.guardian_id, g.email, g.phone, g.phone_unlisted, g.street,
             g.postal_code, "OSLO", g.protection, t.names, t.email, t.phone, t.address)
            for p in pupils for g, t in p.guardians]
    con.executemany("INSERT INTO guardians VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows[::-1] if reverse else rows)
    return con


# ----------------------------------------------------------------------------- the oracle, in plain Python


def ticked(school: School) -> dict[str, str]:
    """Every value a guardian chose to show in 5B: item id -> field."""
    items = {}
    for pupil in school.pupils:
        if pupil.class_id != CLASS:
            continue
        if any(t.names for _, t in pupil.guardians):
            items[f"{pupil.student_id}/pupil_name"] = "pupil_name"
        for g, t in pupil.guardians:
            prefix = f"{pupil.student_id}/{g.guardian_id}/"
            for field, shown in (("guardian_name", t.names), ("email", t.email and g.email),
                                 ("phone", t.phone and g.phone), ("address", t.address and g.street)):
                if shown:
                    items[prefix + field] = field
    return items


def guardian_of(school: School, guardian_id: str) -> Guardian:
    return next(g for p in school.pupils for g, _ in p.guardians if g.guardian_id == guardian_id)


def households(school: School, policy: Policy) -> dict[tuple[str, str], set[str]]:
    """(kind, id) -> the graded markers that reach that pupil or guardian (domain.md,
    "Households"), followed person by person from every graded one."""
    everyone = {g.guardian_id: g for p in school.pupils for g, _ in p.guardians}
    reached: dict[tuple[str, str], set[str]] = {}
    home: list[tuple[str, str, str]] = []  # lives at the secret address: their pupils belong
    for pupil in school.pupils:
        if pupil.protection != "ugradert":
            home.append(("pupil", pupil.student_id, f"pupil_address_{pupil.protection}"))
            home += [("guardian", g.guardian_id, f"pupil_address_{pupil.protection}") for g, _ in pupil.guardians]
    home += [("guardian", g.guardian_id, f"guardian_address_{g.protection}") for g in everyone.values()
             if g.protection != "ugradert"]
    if policy.household.co_residents:
        secrets = [(m, everyone[i]) for kind, i, m in home if kind == "guardian"]
        for g in everyone.values():
            for marker, anchor in secrets:
                if ((ADDRESS_KEYS[(g.street, g.postal_code)] or "-") == ADDRESS_KEYS[(anchor.street, anchor.postal_code)]
                        or (g.email and g.email == anchor.email)
                        or (PHONE_KEYS[g.phone] or "-") == PHONE_KEYS[anchor.phone]):
                    home.append(("guardian", g.guardian_id, marker))
    todo = [(kind, i, m, True) for kind, i, m in home]
    seen = set()
    while todo:
        kind, i, marker, at_home = todo.pop()
        if (kind, i, marker, at_home) in seen:
            continue
        seen.add((kind, i, marker, at_home))
        reached.setdefault((kind, i), set()).add(marker)
        if kind == "guardian" and (at_home or policy.household.whole_family):
            todo += [("pupil", p.student_id, marker, False) for p in school.pupils
                     if any(g.guardian_id == i for g, _ in p.guardians)]
        if kind == "pupil" and policy.household.whole_family:
            pupil = next(p for p in school.pupils if p.student_id == i)
            todo += [("guardian", g.guardian_id, marker, False) for g, _ in pupil.guardians]
    return reached


def markers(school: School, item: str, policy: Policy = DEFAULT) -> set[str]:
    """The confidentiality markers on one value, from domain.md's tables."""
    student_id, *rest = item.split("/")
    pupil = next(p for p in school.pupils if p.student_id == student_id)
    reached = households(school, policy)
    found = set(reached.get(("pupil", student_id), set()))  # the pupil's row: their household
    if school.special_group:
        found.add("special_group")
    if school.special_school:
        found.add("special_school")
    if any(g.at_institution for g, _ in pupil.guardians):
        found.add("pupil_at_institution")
    if len(rest) == 2:  # a guardian's value: that guardian's own markers, from every row they are on
        guardian = guardian_of(school, rest[0])
        found |= reached.get(("guardian", guardian.guardian_id), set())
        if guardian.phone_unlisted:
            found.add("unlisted_phone")
        if guardian.at_institution:
            found.add("institution_address")
    return found


def rules_on(policy: Policy, found: set[str], field: str) -> list[Rule]:
    return [rule for rule in policy.rules if found & set(rule.markers) and field in rule.fields]


def value_of(school: School, item: str) -> str:
    student_id, *rest = item.split("/")
    pupil = next(p for p in school.pupils if p.student_id == student_id)
    if not rest or rest[-1] == "pupil_name":
        return f"{pupil.first} {pupil.last}"
    guardian = guardian_of(school, rest[0])
    return {"guardian_name": f"Foresatt {guardian.guardian_id}", "email": guardian.email, "phone": guardian.phone,
            "address": f"{guardian.street}, {guardian.postal_code} OSLO".replace(",  OSLO", ", OSLO")}[rest[1]]


def precedence(policy: Policy, rule_id: str) -> tuple:
    """Where several rules reach a value, the lowest wins (sql/screening_touches.sql)."""
    order = [rule.id for rule in policy.rules].index(rule_id)
    rule = policy.rule(rule_id)
    return (rule.consent_lifts, not rule.no_trace, order)


def oracle(school: School, policy: Policy) -> dict[str, Decision]:
    """What screening must decide. Of the rules on a value, one consent cannot lift comes
    first, then one that leaves no trace, then the policy's order; if consent cannot lift
    that rule the value is withheld, otherwise the guardian's tick releases it. Then, until
    nothing changes: a no-trace value takes its guardian's line (a pupil's name, the row); a
    released value equal to a withheld one, and a name whose guardian lines are all
    withheld, are withheld by the strongest rule that reaches them."""
    decisions = {}
    for item, field in ticked(school).items():
        ranked = sorted(rules_on(policy, markers(school, item, policy), field),
                        key=lambda rule: (rule.consent_lifts, not rule.no_trace))  # stable: policy order last
        if not ranked:
            decisions[item] = Decision("release", None, "consented", False)
        elif ranked[0].consent_lifts:
            decisions[item] = Decision("release", ranked[0].id, "consent_lifted", False)
        else:
            decisions[item] = Decision("withhold", ranked[0].id, "consent_not_sufficient", ranked[0].no_trace)

    def key(item: str) -> str:
        """An e-mail, phone or address as screening compares them; names never (namesakes)."""
        field = item.rsplit("/", 1)[1]
        if field not in ("email", "phone", "address"):
            return ""
        value = value_of(school, item)
        return field + ":" + (PHONE_KEYS[value] if field == "phone" else
                              "".join(unicodedata.normalize("NFC", value).lower().split()))

    while True:
        withheld = {item: d for item, d in decisions.items() if d.decision == "withhold"}
        reach: dict[str, list[str]] = {}
        for item, d in decisions.items():
            row, *line = item.split("/")[:-1]
            for other, w in withheld.items():
                other_row, *other_line = other.split("/")[:-1]
                if w.no_trace and not d.no_trace and other_row == row and (other_line == line or not other_line):
                    reach.setdefault(item, []).append(w.rule)  # no trace takes the line, or the row
                if d.decision == "release" and key(other) and key(other) == key(item):
                    reach.setdefault(item, []).append(w.rule)  # the same value, withheld elsewhere
            if item.endswith("/pupil_name") and d.decision == "release":
                lines = [(i, x) for i, x in decisions.items() if i.startswith(f"{row}/") and i.count("/") == 2]
                if lines and all(x.decision == "withhold" for _, x in lines):
                    reach.setdefault(item, []).extend(x.rule for _, x in lines)  # no bare names
        if not reach:
            return decisions
        for item, rules in reach.items():
            rule = policy.rule(min(rules, key=lambda r: precedence(policy, r)))
            decisions[item] = Decision("withhold", rule.id, "consent_not_sufficient", rule.no_trace)


# ----------------------------------------------------------------------------- the properties


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(school=schools(), policy=policies())
def test_screening_keeps_its_promises_on_any_class(school: School, policy: Policy):
    con = build(school)
    decisions = screen(con, [CLASS], policy=policy)
    shown = ticked(school)

    # a field not ticked is never released: it is not in the list at all
    assert set(decisions) == set(shown)
    assert {item for item, d in decisions.items() if d.decision == "release"} <= set(shown)

    # a value under a marker whose rule consent cannot lift is never released
    for item, field in shown.items():
        if any(not rule.consent_lifts for rule in rules_on(policy, markers(school, item, policy), field)):
            assert decisions[item].decision == "withhold", item

    # every withheld value names a rule of the policy in force that consent cannot lift
    for item, d in decisions.items():
        if d.decision == "withhold":
            rule = policy.rule(d.rule)
            assert not rule.consent_lifts and d.consent_state == "consent_not_sufficient" and d.no_trace == rule.no_trace
    assert con.execute("SELECT DISTINCT decided_by FROM case_items").fetchall() in ([], [(policy.decided_by,)])

    # and, all in all, exactly what the oracle decides
    assert decisions == oracle(school, policy)

    # the same input gives the same decisions, whatever order the rows were stored in
    assert screen(build(school, reverse=True), [CLASS], policy=policy) == decisions


@settings(max_examples=max(10, settings.default.max_examples // 2),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(school=schools())
def test_under_the_default_policy_graded_and_institution_values_never_go_out(school: School):
    """The default's promises in domain.md's words, whatever the guardians ticked."""
    decisions = screen(build(school), [CLASS], policy=DEFAULT)
    for item, d in decisions.items():
        found = markers(school, item)
        field = item.rsplit("/", 1)[1]
        graded = {m for m in found if "address_" in m}
        if graded or found & {"special_group", "special_school"} or "institution_address" in found:
            assert d.decision == "withhold", item
        if any("strengt_fortrolig" in m for m in found):
            assert d.no_trace, item
        if found <= {"unlisted_phone"} and not withheld_elsewhere(school, decisions, item):
            assert d.decision == "release", item  # consent lifts an unlisted phone, and nothing else touches it


def withheld_elsewhere(school: School, decisions: dict[str, Decision], item: str) -> bool:
    """The same e-mail, phone or address is withheld in another row (a household member's
    line): screening withholds it here too (sql/case_decisions_consistent.sql)."""
    field = item.rsplit("/", 1)[1]
    if field not in ("email", "phone", "address"):
        return False
    def key(one: str) -> str:
        value = value_of(school, one)
        return PHONE_KEYS[value] if field == "phone" else "".join(value.lower().split())

    return any(decisions[other].decision == "withhold" for other in decisions
               if other != item and other.endswith(f"/{field}") and key(other) == key(item))
