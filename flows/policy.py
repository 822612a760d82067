"""The screening policy: rules a lawyer reads and changes, loaded and validated.

The policy is data (`policies/standard.toml`). Code knows how to *find* markers; the policy
says what each marker withholds, whether consent lifts it, and the legal basis. Every
decision records the policy's name, version and the hash of the file it came from.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Literal

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


class Policy(_Strict):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    settings: Settings = Settings()
    bases: dict[str, str]
    rules: tuple[Rule, ...] = Field(min_length=1)
    sha256: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        ids = [rule.id for rule in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rule id {duplicates[0]!r} is used twice")
        for rule in self.rules:
            if rule.basis not in self.bases:
                raise ValueError(f"rule {rule.id!r}: unknown basis {rule.basis!r} (known: {', '.join(self.bases)})")
        return self

    @property
    def label(self) -> str:
        return f"{self.name} {self.version} (sha256 {self.sha256[:12]})"

    @property
    def decided_by(self) -> str:
        return f"policy:{self.name}@{self.version}"

    def legal_basis(self, rule: Rule) -> str:
        return self.bases[rule.basis]

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
        raise PolicyError(f"policy {path}: not valid TOML ({error})") from None
    try:
        return Policy(**data, sha256=hashlib.sha256(raw).hexdigest())
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PolicyError(f"policy {path}: {where}: {first['msg']}") from None
