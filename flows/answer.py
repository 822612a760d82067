"""The document model of an answer to an innsynskrav, and its public view.

The lead fills an `Answer` from the database: every value of every class list, each one
marked whether it is withheld and by which policy rule. Two documents are rendered from it:

- the internal review copy, from the full `Answer` (every value, withheld ones highlighted);
- the public answer, from `public_view(answer)` only.

`public_view` redacts *in the data*: a withheld value is removed before any template sees
it, so no styling, hidden text or metadata can carry it into the public PDF. A withheld value
and a field the guardian never shared look the same in the public list: an empty cell.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Iterator

OUTCOMES = ("innvilget", "delvis_innvilget", "avslatt")
CONSENT_STATES = ("consented", "consent_lifted", "consent_not_sufficient", "overridden")


@dataclass(frozen=True)
class Ground:
    """One group of withheld information, as worded in the letter."""

    letter_text: str
    legal_basis: str  # exactly as the policy words it


@dataclass(frozen=True)
class Cell:
    """One value in the list (a name, an e-mail, a phone number or an address)."""

    item_id: str
    value: str
    withheld: bool = False
    rule: str | None = None  # policy rule id that withheld (or flagged) it
    legal_basis: str | None = None
    consent_state: str = "consented"  # consented | consent_lifted | consent_not_sufficient | overridden
    no_trace: bool = False


@dataclass(frozen=True)
class GuardianLine:
    guardian_id: str
    name: Cell | None
    email: Cell | None
    phone: Cell | None
    address: Cell | None

    def cells(self) -> tuple[Cell | None, ...]:
        return (self.name, self.email, self.phone, self.address)


@dataclass(frozen=True)
class PupilRow:
    student_id: str
    name: Cell | None
    guardians: tuple[GuardianLine, ...]
    household: str | None = None  # review copy only: why a graded household reaches this row

    def cells(self) -> Iterator[Cell]:
        """Every cell of the row (pupil name first), skipping fields that are absent."""
        if self.name is not None:
            yield self.name
        for guardian in self.guardians:
            for cell in guardian.cells():
                if cell is not None:
                    yield cell


@dataclass(frozen=True)
class ClassList:
    class_id: str
    school_name: str
    class_name: str
    grade: int
    rows: tuple[PupilRow, ...]
    flags: tuple[str, ...] = ()  # review copy only
    refused: Ground | None = None  # the list is withheld in full, on this ground (the letter names it)




@dataclass(frozen=True)
class Requester:
    name: str
    email: str | None
    kind: str
    organisation: str | None
    reference: str | None = None  # the requester's own reference ("Deres referanse"), if they gave one

    def address_lines(self) -> tuple[tuple[str, str], ...]:
        """The letter's recipient block, line by line, as (kind, text): `name`, `organisation`,
        `email` (what the requester typed) or `anonymous` (our own words). The template prints
        exactly these, and the leak gate excuses exactly these, there and nowhere else."""
        lines: list[tuple[str, str]] = []
        if self.name and self.name.strip():
            lines.append(("name", self.name))
            if self.organisation:
                lines.append(("organisation", self.organisation))
        else:
            lines.append(("anonymous", "Anonym innsynsbegjærer"))
        if self.email:
            lines.append(("email", self.email))
        return tuple(lines)


@dataclass(frozen=True)
class RuleSummary:
    """Review copy only: what one rule did in this case."""

    rule: str
    legal_basis: str
    explanation: str
    withheld_items: int
    no_trace: bool


@dataclass(frozen=True)
class Answer:
    case_id: str
    request_id: str
    received_date: date
    decided_date: date
    requester: Requester
    agency_name: str  # the school answering, or "Utdanningsetaten i Oslo kommune"
    scope_text: str  # e.g. "klasselisten for 5B ved Sagene skole"
    outcome: str  # innvilget | delvis_innvilget | avslatt: exact, for the case record and review
    grounds: tuple[Ground, ...]
    classes: tuple[ClassList, ...]
    policy_label: str  # e.g. "innsyn-standard 2026.1 (sha256 3f2a…)"
    # What the letter says: the outcome without the rows that leave no trace, so a letter reads
    # the same with or without them; its standing paragraph cites `standing_basis` either way.
    letter_outcome: str = ""  # empty: the same as `outcome`
    standing_basis: str = "offentleglova § 13 første ledd, jf. forvaltningsloven § 13 første ledd nr. 1"
    appeal_body: str = "Statsforvalteren i Oslo og Akershus"
    contact: str = ""
    flags: tuple[str, ...] = ()  # review copy only
    rule_summaries: tuple[RuleSummary, ...] = ()  # review copy only
    status_label: str = ""  # review copy only

    def __post_init__(self) -> None:
        if not self.letter_outcome:
            object.__setattr__(self, "letter_outcome", self.outcome)

    def cells(self) -> Iterator[Cell]:
        for class_list in self.classes:
            for row in class_list.rows:
                yield from row.cells()


# --------------------------------------------------------------------------- public view


def _is_released(cell: Cell | None) -> bool:
    """A cell the public may see: present, not withheld, and not empty."""
    return cell is not None and not cell.withheld and not cell.no_trace and cell.value.strip() != ""


def _public_cell(cell: Cell | None) -> Cell | None:
    return cell if _is_released(cell) else None


def row_leaves_no_trace(row: PupilRow) -> bool:
    """True when the pupil's own name must leave no trace: the whole row goes."""
    return row.name is not None and row.name.no_trace


def public_row(row: PupilRow) -> PupilRow | None:
    """The row as the public sees it, or None when nothing of it is released.

    No trace means no trace: a pupil whose name must leave none goes with the whole row, a
    guardian who must leave none goes with their whole line, even if some of their cells
    were, by mistake, left unwithheld.
    """
    if row.name is not None and row.name.no_trace:
        return None
    guardians = []
    for guardian in row.guardians:
        if any(cell is not None and cell.no_trace for cell in guardian.cells()):
            continue
        line = GuardianLine(
            guardian_id=guardian.guardian_id,
            name=_public_cell(guardian.name),
            email=_public_cell(guardian.email),
            phone=_public_cell(guardian.phone),
            address=_public_cell(guardian.address),
        )
        if any(cell is not None for cell in line.cells()):
            guardians.append(line)
    name = _public_cell(row.name)
    if name is None and not guardians:
        return None
    return PupilRow(student_id=row.student_id, name=name, guardians=tuple(guardians))


def public_view(answer: Answer) -> Answer:
    """The answer with every withheld value removed from the data, order kept.

    - a withheld (or empty) cell becomes None: it looks like a field never shared;
    - a guardian line with no cell left is removed;
    - a pupil row with no cell left, or whose pupil must leave no trace, is removed (no blank
      row); a guardian who must leave no trace goes with their whole line;
    - review-only data (flags, rule summaries, status label, class flags) is cleared.
    Classes are kept even when no row is left; the templates print no list for them.
    """
    classes = []
    for class_list in answer.classes:
        rows = tuple(r for r in (public_row(row) for row in class_list.rows) if r is not None)
        classes.append(replace(class_list, rows=rows, flags=()))
    return replace(
        answer,
        classes=tuple(classes),
        flags=(),
        rule_summaries=(),
        status_label="",
    )


def assert_public(answer: Answer) -> None:
    """Raise ValueError when the answer still holds anything that must not be published."""
    bad = [cell.item_id for cell in answer.cells() if cell.withheld or cell.no_trace]
    if bad:
        shown = ", ".join(sorted(bad)[:10])
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        raise ValueError(
            "the public answer must be built from public_view(answer): "
            f"withheld cells present: {shown}{more}"
        )
    if answer.flags or answer.rule_summaries or answer.status_label or any(
        c.flags for c in answer.classes
    ):
        raise ValueError(
            "the public answer must be built from public_view(answer): review-only data present"
        )
    if answer.outcome not in OUTCOMES or answer.letter_outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {answer.outcome!r}/{answer.letter_outcome!r}; expected one of {OUTCOMES}")
