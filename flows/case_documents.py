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


def _rows(items: list[dict]) -> tuple[list[PupilRow], dict[str, str]]:
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
        rows.append(PupilRow(student_id=student_id, name=pupil["name"], guardians=tuple(guardians)))
    return rows, sort_keys


def outcome_of(released: int, withheld_counted: int) -> str:
    if withheld_counted == 0:
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


def build_answer(
    con: duckdb.DuckDBPyConnection, case_id: str, policy: Policy, *, status_label: str = "",
    school_id: str | None = None, rows: bool = True,
) -> Answer:
    """The full answer (every value, withheld ones marked), ready for the review copy.

    With `school_id`, only that school's classes are in it (a bulk case renders one school
    per task); with `rows=False`, the classes are there without their rows (the letter of a
    bulk case names what is attached). Outcome, grounds, flags and rule summaries always
    cover the whole case.
    """
    (request_id, received_at, decided_at, name, email, kind, org, scope_school, scope_classes) = con.execute(
        """SELECT request_id, received_at, decided_at, requester_name, requester_email,
                  requester_kind, requester_org, scope_school_id, scope_classes
           FROM cases WHERE case_id = ?""",
        [case_id],
    ).fetchone()
    every_class = con.execute(sql("case_classes_answered"), {"case_id": case_id, "school_id": None}).fetchall()
    counts = {row[0]: row[1:] for row in con.execute(sql("case_rule_counts"), {"case_id": case_id}).fetchall()}
    released = sum(row[0] for row in counts.values())
    counted = sum(row[2] for row in counts.values())
    conflicts = sum(row[3] for row in counts.values())
    decided = (decided_at or received_at).astimezone(received_at.tzinfo).date()
    return Answer(
        case_id=case_id,
        request_id=request_id,
        received_date=received_at.date(),
        decided_date=decided,
        requester=Requester(name=name, email=email, kind=kind, organisation=org),
        agency_name=MUNICIPAL_AGENCY if scope_school == "all" else every_class[0][2],
        scope_text=scope_text(every_class, json.loads(scope_classes) == "all", scope_school == "all"),
        outcome=outcome_of(released, counted),
        grounds=_grounds(policy, counts),
        classes=_class_lists(con, case_id, school_id) if rows else tuple(
            ClassList(class_id, school, name, grade, ()) for class_id, _, school, name, grade in every_class),
        policy_label=policy.label,
        flags=_flags(con, case_id, policy, conflicts),
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


def _class_lists(con: duckdb.DuckDBPyConnection, case_id: str, school_id: str | None) -> tuple[ClassList, ...]:
    classes = con.execute(sql("case_classes_answered"), {"case_id": case_id, "school_id": school_id}).fetchall()
    cursor = con.execute(sql("case_answer_items"), {"case_id": case_id, "school_id": school_id})
    columns = [d[0] for d in cursor.description]
    items_by_class = defaultdict(list)
    for row in cursor.fetchall():
        item = dict(zip(columns, row))
        items_by_class[item["class_id"]].append(item)
    class_lists = []
    for class_id, _school_id, school_name, class_name, grade in classes:
        rows, sort_keys = _rows(items_by_class[class_id])
        rows.sort(key=lambda row: _row_key(row, sort_keys, public=False))
        class_lists.append(ClassList(class_id, school_name, class_name, grade, tuple(rows)))
    return tuple(class_lists)


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


def write_review_copy(answer: Answer, paths: CasePaths) -> None:
    with atomic_target(paths.review_pdf, private=True) as tmp:
        render.render_review_pdf(answer, tmp)


def write_redaction_log(con: duckdb.DuckDBPyConnection, case_id: str, paths: CasePaths) -> None:
    write_case_log(con, case_id, paths.redaction_log)


def publish(answer: Answer, paths: CasePaths) -> int:
    """Render the public answer, pass it through the leak gate, then release it.

    Returns the number of withheld values the gate checked. Raises leak_gate.LeakFound
    (naming item ids only) and writes nothing public when any withheld value is found.
    """
    withheld = {cell.item_id: cell.value for cell in answer.cells() if cell.withheld}
    released = [cell.value for cell in answer.cells() if not cell.withheld]
    public = public_answer(answer)
    # rendered and gated in the private staging folder, then renamed in: a crash at any moment
    # leaves no file at all in the public folder, not even a part-file of an unchecked answer
    staged = paths.staging_dir / paths.public_pdf.name
    with atomic_target(staged, private=True) as tmp:
        render.render_public_pdf(public, tmp)
        leak_gate.check_pdf(tmp, withheld, released)
    move_into_place(staged, paths.public_pdf, private=False)
    with contextlib.suppress(OSError):  # leave it if a bulk run keeps parts there
        paths.staging_dir.rmdir()
    return len(withheld)
