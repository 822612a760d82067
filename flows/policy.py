"""The screening policy: rules a lawyer reads and changes, loaded and validated.

The policy is data (`policies/standard.toml`). Code knows how to *find* markers; the policy
says what each marker withholds, whether consent lifts it, and the legal basis. Every
decision records the policy's name, version and the hash of the file it came from.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from innsyn.resources import POLICIES_DIR

DEFAULT_POLICY = POLICIES_DIR / "standard.toml"

MARKERS = (
    "pupil_address_fortrolig",
    "pupil_address_strengt_fortrolig",
    "pupil_address_strengt_fortrolig_utland",
    "guardian_address_fortrolig",
    "guardian_address_strengt_fortrolig",
    "guardian_address_strengt_fortrolig_utland",
    "unlisted_phone",
    "institution_address",
    "pupil_at_institution",
    "special_group",
    "special_school",
)
FIELDS = ("pupil_name", "guardian_name", "email", "phone", "address")
WHOLE_ROW = "whole_row"


class PolicyError(ValueError):
    """The policy file is unreadable or breaks a rule of its own format."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    markers: tuple[str, ...] = Field(min_length=1)
    withholds: tuple[str, ...] = Field(min_length=1)
    consent_lifts: bool
    no_trace: bool
    requires_review: bool
    basis: str
    letter_text: str = Field(min_length=1)
    explanation: str = Field(min_length=1)

    @field_validator("markers")
    @classmethod
    def _known_markers(cls, markers: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in markers if m not in MARKERS]
        if unknown:
            raise ValueError(f"unknown marker {unknown[0]!r} (known: {', '.join(MARKERS)})")
        return markers

    @field_validator("withholds")
    @classmethod
    def _known_fields(cls, fields: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [f for f in fields if f not in (*FIELDS, WHOLE_ROW)]
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r} (known: {', '.join((*FIELDS, WHOLE_ROW))})")
        return fields

    @property
    def fields(self) -> tuple[str, ...]:
        return FIELDS if WHOLE_ROW in self.withholds else self.withholds


class Settings(_Strict):
    min_released_pupils: int = Field(default=3, ge=0)
    review_consent_conflicts: bool = True
    review_refusals: bool = True


class Household(_Strict):
    """Who a graded address protects besides the graded person (sql/screening_households.sql).

    Always: the guardians of a graded pupil and the pupils of a graded guardian.
    `co_residents`: every guardian whose address (normalised), e-mail or phone equals a graded
    household's, and their pupils. `whole_family`: everyone linked to those by guardianship in
    turn (a co-guardian who lives elsewhere, their other children).
    """

    co_residents: bool = True
    whole_family: bool = True


class Letter(_Strict):
    """What the decision letter says that is not a rule: the standing paragraph's provision,
    the appeal body, and who the requester may contact."""

    standing_basis: str = "taushetsplikt"   # a key of [bases]: the provision every letter cites
    appeal_body: str = Field(default="Statsforvalteren i Oslo og Akershus", min_length=1)
    contact: str = Field(default="skolens kontor", min_length=1)


class Policy(_Strict):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    settings: Settings = Settings()
    household: Household = Household()
    letter: Letter = Letter()
    bases: dict[str, str]
    rules: tuple[Rule, ...] = Field(min_length=1)
    sha256: str = ""

    @field_validator("bases")
    @classmethod
    def _bases_written_out(cls, bases: dict[str, str]) -> dict[str, str]:
        blank = [key for key, text in bases.items() if not text.strip()]
        if blank:
            raise ValueError(f"{blank[0]!r} is empty: write the provision out, as the letter words it")
        return bases

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        ids = [rule.id for rule in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rule id {duplicates[0]!r} is used twice")
        if self.letter.standing_basis not in self.bases:
            raise ValueError(f"letter.standing_basis: unknown basis {self.letter.standing_basis!r} "
                             f"(known: {', '.join(self.bases)})")
        for rule in self.rules:
            if rule.basis not in self.bases:
                raise ValueError(f"rule {rule.id!r}: unknown basis {rule.basis!r} (known: {', '.join(self.bases)})")
        return self

    @property
    def short_hash(self) -> str:
        """The first 12 hex digits of the file's sha256: enough to tell two files apart."""
        return self.sha256[:12]

    @property
    def label(self) -> str:
        return f"{self.name} {self.version} (sha256 {self.short_hash})"

    @property
    def decided_by(self) -> str:
        """Recorded on every decision: `policy:innsyn-standard@2026.1#e35b4b9148ba`."""
        return f"policy:{self.name}@{self.version}#{self.short_hash}"

    def legal_basis(self, rule: Rule) -> str:
        return self.bases[rule.basis]

    @property
    def standing_basis(self) -> str:
        """The provision the letter's standing paragraph cites, written out."""
        return self.bases[self.letter.standing_basis]

    def rule(self, rule_id: str) -> Rule:
        return next(rule for rule in self.rules if rule.id == rule_id)

    def rule_rows(self) -> list[tuple]:
        """One row per (rule, marker, field): the table screening joins against."""
        return [
            (rule.id, order, marker, field, rule.consent_lifts, rule.no_trace,
             rule.requires_review, self.bases[rule.basis], rule.letter_text)
            for order, rule in enumerate(self.rules)
            for marker in rule.markers
            for field in rule.fields
        ]


def load_policy(path: Path | str | None = None) -> Policy:
    """Read and validate a policy file; raise PolicyError with one clear line."""
    path = Path(path) if path else DEFAULT_POLICY
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as error:
        raise PolicyError(f"policy {path}: cannot read ({error.strerror})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise PolicyError(f"policy {path}: not valid TOML ({_one_line(str(error))})") from None
    if "sha256" in data:
        raise PolicyError(f"policy {path}: sha256: is computed from the file, it cannot be written in it")
    try:
        return Policy.model_validate({**data, "sha256": hashlib.sha256(raw).hexdigest()})
    except ValidationError as error:
        raise PolicyError(f"policy {path}: {_describe(error.errors()[0], data)}") from None


def _describe(error: dict, data: dict) -> str:
    """`rule 'institusjonsadresse' (rules[2]).markers: unknown marker 'foo' (known: ...)`."""
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    parts = list(error["loc"])
    where = ""
    if len(parts) >= 2 and parts[0] == "rules" and isinstance(parts[1], int):
        rules = data.get("rules")
        rule = rules[parts[1]] if isinstance(rules, list) and parts[1] < len(rules) else None
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        where = f"rule {rule_id!r} (rules[{parts[1]}])" if isinstance(rule_id, str) else f"rules[{parts[1]}]"
        parts = parts[2:]
    where = ".".join([where, *map(str, parts)] if where else map(str, parts))
    return _one_line(f"{where}: {message}" if where else message)


def _one_line(text: str) -> str:
    return " ".join(text.split())


# ----------------------------------------------------------------------------- weakening
# A policy can be valid and still weaker than the law the product encodes: a marker no rule
# names is found and then released, and a graded address released without a lawyer's eyes.
# These are computed from MARKERS, so a marker added to the code is covered the day it is.

#: A graded address (fortrolig, strengt fortrolig, strengt fortrolig utland): a police or tax
#: office security grading, never one person's own choice.
GRADED_MARKER_PART = "_fortrolig"


def is_graded_marker(marker: str) -> bool:
    return GRADED_MARKER_PART in marker


def graded_rules(policy: Policy) -> frozenset[str]:
    """Rules a value withheld under needs two reviewers to release: a graded-address rule
    (one of its markers is a graded address) or a rule that leaves no trace."""
    return frozenset(rule.id for rule in policy.rules
                     if rule.no_trace or any(is_graded_marker(marker) for marker in rule.markers))


def policy_weaknesses(policy: Policy) -> list[str]:
    """What this policy leaves unguarded, one phrase each, naming markers and rules only.

    - a marker of MARKERS that no rule names: screening finds it and withholds nothing;
    - a graded-address rule with `requires_review = false`: such a case can be released
      without any reviewer.
    """
    named = {marker for rule in policy.rules for marker in rule.markers}
    weaknesses = [f"marker {marker!r} has no rule" for marker in MARKERS if marker not in named]
    weaknesses += [f"rule {rule.id!r} (graded address) does not require review" for rule in policy.rules
                   if not rule.requires_review and any(is_graded_marker(marker) for marker in rule.markers)]
    return weaknesses


def weakness_warning(policy: Policy, weaknesses: list[str]) -> str:
    """The one line a command prints on stderr for a weakened policy."""
    return f"policy {policy.label} is weaker than the standard: {'; '.join(weaknesses)}"
