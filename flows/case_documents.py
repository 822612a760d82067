"""From a decided case in the database to its documents on disk.

`build_answer` reads the case's decisions into the document model; `publish` renders the
public answer from the redacted view, reads it back through the leak gate, and only then
moves it into the public folder. The review copy and redaction log go to the internal
folder, readable by the owner only. Every file is written under a temporary name and
renamed, so a crash never leaves a half-written PDF where a reader would take it for one.
"""

from __future__ import annotations

import contextlib
import json
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import duckdb

from innsyn import leak_gate, render
from innsyn.answer import (
    Answer, Cell, ClassList, Ground, GuardianLine, PupilRow, Requester, RuleSummary, public_view,
)
from innsyn.policy import Policy
from innsyn.files import atomic_target, move_into_place
from innsyn.redaction_log import write_case_log
from innsyn.resources import sql
from innsyn.screening import thin_classes

MUNICIPAL_AGENCY = "Utdanningsetaten i Oslo kommune"


@dataclass(frozen=True)
class CasePaths:
    """Where a case's files live: public answers apart from internal documents."""

    public_dir: Path
    internal_dir: Path
    staging_dir: Path  # private work folder beside public/: same file system, so renames are atomic

    @classmethod
    def under(cls, out: Path, case_id: str) -> CasePaths:
        return cls(out / "public" / case_id, out / "internal" / case_id, out / ".staging" / case_id)

    @property
    def public_pdf(self) -> Path:
        return self.public_dir / "svar.pdf"

    @property
    def review_pdf(self) -> Path:
        return self.internal_dir / "intern.pdf"

    @property
    def redaction_log(self) -> Path:
        return self.internal_dir / "redaction_log.csv"


# ----------------------------------------------------------------------------- ordering

_NORWEGIAN_LAST = str.maketrans({"æ": "\U0010fff0", "ä": "\U0010fff0", "ø": "\U0010fff1",
                                 "ö": "\U0010fff1", "å": "\U0010fff2"})


def norwegian_key(text: str) -> str:
    """Sort key in Norwegian alphabetical order: a–z, then æ, ø, å; other accents ignored."""
    folded = unicodedata.normalize("NFC", text.casefold()).translate(_NORWEGIAN_LAST)
    return "".join(ch for ch in unicodedata.normalize("NFD", folded) if not unicodedata.combining(ch))


def _visible(cell: Cell | None, public: bool) -> bool:
    return cell is not None and not (public and cell.withheld)


def _row_key(row: PupilRow, sort_keys: dict[str, str], public: bool) -> tuple:
    """Alphabetical by what the reader sees, so a withheld value decides no position."""
    if _visible(row.name, public):
        return (0, norwegian_key(sort_keys[row.name.item_id]), row.student_id)
    shown = [cell.value for cell in row.cells() if _visible(cell, public)]
    return (1, norwegian_key(" ".join(shown)), row.student_id)


# ----------------------------------------------------------------------------- building


def _cell(item: dict) -> Cell:
    return Cell(
        item_id=item["item_id"],
        value=item["value"],
        withheld=item["decision"] == "withhold",
        rule=item["rule"],
        legal_basis=item["legal_basis"],
        consent_state=item["consent_state"],
        no_trace=item["no_trace"],
    )


def _rows(items: list[dict], households: dict[tuple[str, str], str] | None = None,
          ) -> tuple[list[PupilRow], dict[str, str]]:
    by_student: dict[str, dict] = defaultdict(lambda: {"name": None, "guardians": defaultdict(dict)})
    sort_keys = {}
    for item in items:
        sort_keys[item["item_id"]] = item["sort_key"]
        pupil = by_student[item["student_id"]]
        if item["guardian_id"] is None:
            pupil["name"] = _cell(item)
        else:
            pupil["guardians"][item["guardian_id"]][item["field"]] = (_cell(item), item["sort_key"])
    rows = []
    for student_id, pupil in by_student.items():
        guardians = []
        for guardian_id, fields in sorted(
            pupil["guardians"].items(),
            key=lambda kv: norwegian_key(next(iter(kv[1].values()))[1]),
        ):
            cell = {field: value[0] for field, value in fields.items()}
            guardians.append(GuardianLine(
                guardian_id=guardian_id, name=cell.get("guardian_name"), email=cell.get("email"),
                phone=cell.get("phone"), address=cell.get("address"),
            ))
        notes = [(households or {}).get(("pupil", student_id))]
        notes += [(households or {}).get(("guardian", g.guardian_id)) for g in guardians]
        note = "; ".join(dict.fromkeys(n for n in notes if n)) or None
        rows.append(PupilRow(student_id=student_id, name=pupil["name"], guardians=tuple(guardians),
                             household=f"Husstand: {note}" if note else None))
    return rows, sort_keys


def outcome_of(released: int, withheld: int) -> str:
    """innvilget, delvis_innvilget or avslatt. Given every withheld value, the case's exact
    outcome; given only those that leave a trace, what the letter may say."""
    if withheld == 0:
        return "innvilget"
    return "delvis_innvilget" if released else "avslatt"


def scope_text(classes: list[tuple], all_classes: bool, all_schools: bool) -> str:
    if all_schools:
        return "klasselistene for alle klasser ved alle skoler i Oslo kommune"
    school = classes[0][2]
    if all_classes:
        return f"klasselistene for alle klasser ved {school}"
    names = [row[3] for row in classes]
    if len(names) == 1:
        return f"klasselisten for {names[0]} ved {school}"
    return f"klasselistene for {', '.join(names[:-1])} og {names[-1]} ved {school}"


@dataclass(frozen=True)
class CaseWide:
    """What `build_answer` reads over the whole case whichever school it answers: the classes,
    what each rule did, the lists withheld in full, the reviewer's flags, the household notes.

    A bulk case's parts read these for each of its hundreds of schools, ≈ 0.12 CPU s a school
    on 200 schools: a pool worker reads them once per case (innsyn.render_answer) and hands
    them in. The case's own row (requester, dates) is read every time: it is one row, and a
    decision date set on approval must reach the document."""

    every_class: tuple[tuple, ...]
    counts: dict
    refused: dict[str, Ground]
    flags: tuple[str, ...]
    households: dict[tuple[str, str], str]


def read_case_wide(con: duckdb.DuckDBPyConnection, case_id: str, policy: Policy) -> CaseWide:
    """The case-wide parts of the answer (`CaseWide`), read from `con`."""
    every_class = con.execute(sql("case_classes_answered"), {"case_id": case_id, "school_id": None}).fetchall()
    counts = {row[0]: row[1:] for row in con.execute(sql("case_rule_counts"), {"case_id": case_id}).fetchall()}
    conflicts = sum(row[3] for row in counts.values())
    return CaseWide(tuple(every_class), counts, refused_lists(con, case_id, policy),
                    _flags(con, case_id, policy, conflicts), household_notes(con, case_id))


def build_answer(
    con: duckdb.DuckDBPyConnection, case_id: str, policy: Policy, *, status_label: str = "",
    school_id: str | None = None, rows: bool = True, case_wide: CaseWide | None = None,
) -> Answer:
    """The full answer (every value, withheld ones marked), ready for the review copy.

    With `school_id`, only that school's classes are in it (a bulk case renders one school
    per task); with `rows=False`, the classes are there without their rows (the letter of a
    bulk case names what is attached). Outcome, grounds, flags and rule summaries always
    cover the whole case: `case_wide` is what `read_case_wide` read of it, when the caller
    has it already (read from `con` if not).
    """
    (request_id, received_at, decided_at, name, email, kind, org, reference, scope_school,
     scope_classes) = con.execute(
        """SELECT request_id, received_at, decided_at, requester_name, requester_email,
                  requester_kind, requester_org, requester_reference, scope_school_id, scope_classes
           FROM cases WHERE case_id = ?""",
        [case_id],
    ).fetchone()
    wide = case_wide or read_case_wide(con, case_id, policy)
    every_class, counts, refused = wide.every_class, wide.counts, wide.refused
    released = sum(row[0] for row in counts.values())
    withheld = sum(row[1] for row in counts.values() if row[1])
    counted = sum(row[2] for row in counts.values())
    decided = (decided_at or received_at).astimezone(received_at.tzinfo).date()
    agency = MUNICIPAL_AGENCY if scope_school == "all" else every_class[0][2]
    return Answer(
        case_id=case_id,
        request_id=request_id,
        received_date=received_at.date(),
        decided_date=decided,
        requester=Requester(name=name, email=email, kind=kind, organisation=org, reference=reference),
        agency_name=agency,
        scope_text=scope_text(every_class, json.loads(scope_classes) == "all", scope_school == "all"),
        outcome=outcome_of(released, withheld),
        letter_outcome=outcome_of(released, counted),
        standing_basis=policy.standing_basis,
        appeal_body=policy.letter.appeal_body,
        contact=agency if scope_school == "all" else f"{agency}, {policy.letter.contact}",
        grounds=_grounds(policy, counts),
        classes=_class_lists(con, case_id, school_id, refused, wide.households) if rows else tuple(
            ClassList(class_id, school, name, grade, (), refused=refused.get(class_id))
            for class_id, _, school, name, grade in every_class),
        policy_label=policy.label,
        flags=wide.flags,
        rule_summaries=tuple(
            RuleSummary(rule.id, policy.legal_basis(rule), rule.explanation, counts[rule.id][1], rule.no_trace)
            for rule in policy.rules if rule.id in counts
        ),
        status_label=status_label,
    )


def _grounds(policy: Policy, counts: dict) -> tuple[Ground, ...]:
    """One ground per distinct wording, in policy order; no-trace rules are never named."""
    grounds: list[Ground] = []
    for rule in policy.rules:
        if rule.id in counts and counts[rule.id][2]:
            ground = Ground(rule.letter_text, policy.legal_basis(rule))
            if ground not in grounds:
                grounds.append(ground)
    return tuple(grounds)


def refused_lists(con: duckdb.DuckDBPyConnection, case_id: str, policy: Policy) -> dict[str, Ground]:
    """class id -> the ground of each class list withheld in full (the first rule, in the
    policy's order, that withheld something there)."""
    rules: dict[str, list[str]] = defaultdict(list)
    for class_id, rule in con.execute(sql("case_refused_lists"), {"case_id": case_id}).fetchall():
        rules[class_id].append(rule)
    order = {rule.id: n for n, rule in enumerate(policy.rules)}
    refused = {}
    for class_id, ids in rules.items():
        known = sorted((rule_id for rule_id in ids if rule_id in order), key=order.__getitem__)
        rule = policy.rule(known[0]) if known else None
        refused[class_id] = (Ground(rule.letter_text, policy.legal_basis(rule)) if rule
                             else Ground("Opplysninger som er underlagt taushetsplikt.", policy.standing_basis))
    return refused


def _class_lists(con: duckdb.DuckDBPyConnection, case_id: str, school_id: str | None,
                 refused: dict[str, Ground], households: dict[tuple[str, str], str]) -> tuple[ClassList, ...]:
    classes = con.execute(sql("case_classes_answered"), {"case_id": case_id, "school_id": school_id}).fetchall()
    cursor = con.execute(sql("case_answer_items"), {"case_id": case_id, "school_id": school_id})
    columns = [d[0] for d in cursor.description]
    items_by_class = defaultdict(list)
    for row in cursor.fetchall():
        item = dict(zip(columns, row))
        items_by_class[item["class_id"]].append(item)
    class_lists = []
    for class_id, _school_id, school_name, class_name, grade in classes:
        rows, sort_keys = _rows(items_by_class[class_id], households)
        rows.sort(key=lambda row: _row_key(row, sort_keys, public=False))
        class_lists.append(ClassList(class_id, school_name, class_name, grade, tuple(rows),
                                     refused=refused.get(class_id)))
    return tuple(class_lists)


_GRADES = {"fortrolig": "fortrolig adresse", "strengt_fortrolig": "strengt fortrolig adresse",
           "strengt_fortrolig_utland": "strengt fortrolig adresse (utland)"}
_HOW_REACHED = {
    "child": "{who} bor hos en foresatt i en husstand med {grade}",
    "family": "{who} er knyttet gjennom foreldreansvar til en husstand med {grade}",
    "guardian_of_graded": "{who} er foresatt for en elev med {grade}",
    "co_resident": "{who} har samme adresse, e-post eller telefon som en husstand med {grade}",
}


def household_notes(con: duckdb.DuckDBPyConnection, case_id: str) -> dict[tuple[str, str], str]:
    """(kind, id) -> why a graded household reaches that pupil or guardian, in Norwegian, for
    the review copy (a member by their own grade needs no note: the rule says it)."""
    notes: dict[tuple[str, str], list[str]] = defaultdict(list)
    for kind, member, marker, via in con.execute(
            """SELECT kind, id, marker, via FROM case_household_members
               WHERE case_id = ? AND via <> 'own' ORDER BY kind, id, marker""", [case_id]).fetchall():
        grade = _GRADES.get(marker.split("_address_", 1)[-1], marker)
        who = f"foresatt {member}" if kind == "guardian" else "eleven"
        text = _HOW_REACHED.get(via, "{who} er knyttet til en husstand med {grade}").format(who=who, grade=grade)
        if text not in notes[(kind, member)]:
            notes[(kind, member)].append(text)
    return {key: "; ".join(texts) for key, texts in notes.items()}


def _flags(con: duckdb.DuckDBPyConnection, case_id: str, policy: Policy, conflicts: int) -> tuple[str, ...]:
    """What the reviewer must look at, in ids and counts."""
    flags = [f"indirect_identification:{class_id}"
             for class_id in thin_classes(con, case_id, policy.settings.min_released_pupils)]
    if conflicts:
        flags.append(f"consent_conflicts:{conflicts}")
    return tuple(flags)


def classes_with_remarks(con: duckdb.DuckDBPyConnection, case_id: str) -> dict[str, str]:
    """class id -> school id of the classes a bulk review copy shows in full."""
    return dict(con.execute(sql("case_classes_with_remarks"), {"case_id": case_id}).fetchall())


def public_answer(answer: Answer) -> Answer:
    """The public view, re-sorted by what the public sees."""
    public = public_view(answer)
    classes = []
    for class_list in public.classes:
        sort_keys = {cell.item_id: cell.value for row in class_list.rows for cell in row.cells()}
        for row in class_list.rows:
            if row.name is not None:
                # the pupil's sort key is "last first": keep that order for released names
                sort_keys[row.name.item_id] = _last_first(row.name.value)
        rows = sorted(class_list.rows, key=lambda row: _row_key(row, sort_keys, public=True))
        classes.append(replace(class_list, rows=tuple(rows)))
    return replace(public, classes=tuple(classes))


def _last_first(full_name: str) -> str:
    first, _, last = full_name.rpartition(" ")
    return f"{last} {first}" if first else full_name


# ----------------------------------------------------------------------------- writing


def write_redaction_log(con: duckdb.DuckDBPyConnection, case_id: str, paths: CasePaths) -> None:
    write_case_log(con, case_id, paths.redaction_log)


def released_values(answer: Answer) -> tuple[list[str], list[str]]:
    """What the leak gate is told was released: every released value, and the names among
    them (a withheld name may be another person's too; an address, e-mail or phone may not)."""
    released, names = [], []
    for cell in answer.cells():
        if not cell.withheld:
            released.append(cell.value)
            if cell.item_id.endswith("_name"):
                names.append(cell.value)
    return released, names


def publish(answer: Answer, paths: CasePaths) -> int:
    """Render the public answer, pass it through the leak gate, then release it.

    Returns the number of withheld values the gate checked. Raises leak_gate.LeakFound
    (naming item ids only) and writes nothing public when any withheld value is found.
    """
    withheld = {cell.item_id: cell.value for cell in answer.cells() if cell.withheld}
    released, namesakes = released_values(answer)
    public = public_answer(answer)
    # rendered and gated in the private staging folder, then renamed in: a crash at any moment
    # leaves no file at all in the public folder, not even a part-file of an unchecked answer
    staged = paths.staging_dir / paths.public_pdf.name
    with atomic_target(staged, private=True) as tmp:
        render.render_public_pdf(public, tmp)
        # the requester's own name, e-mail, organisation and reference may be withheld values
        # (anyone may type a guess): excused in the letter's recipient block, nowhere else
        leak_gate.check_pdf(tmp, withheld, released, namesakes=namesakes,
                            excused_runs=(render.recipient_block(public),))
    move_into_place(staged, paths.public_pdf, private=False)
    with contextlib.suppress(OSError):  # leave it if a bulk run keeps parts there
        paths.staging_dir.rmdir()
    return len(withheld)
