"""Tiny fixtures: a real DuckDB file, a register to fill by hand, and a fixed clock."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from innsyn import db as innsyn_db
from innsyn.clock import OSLO
from innsyn.policy import Policy, load_policy
from innsyn.screening import screen_case

FIXED_NOW = "2026-11-24T10:00:00+01:00"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setenv("INNSYN_NOW", FIXED_NOW)


@pytest.fixture
def con(tmp_path: Path):
    connection = innsyn_db.connect(tmp_path / "innsyn.duckdb")
    innsyn_db.init_schema(connection)
    yield connection
    connection.close()


@dataclass
class Register:
    """Builds a school register row by row; every value not given gets a plain default.

    Guardians share everything unless told otherwise, so a test states only what matters.
    """

    con: duckdb.DuckDBPyConnection
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def school(self, school_id: str = "S001", name: str = "Sagene skole", *, special_school: bool = False) -> str:
        self.con.execute("INSERT INTO schools VALUES (?, ?, ?)", [school_id, name, special_school])
        return school_id

    def klass(self, name: str = "5B", *, school_id: str = "S001", grade: int = 5, special_group: bool = False) -> str:
        class_id = f"{school_id}-{name}"
        self.con.execute("INSERT INTO classes VALUES (?, ?, ?, ?, ?)", [class_id, school_id, name, grade, special_group])
        return class_id

    def pupil(self, first: str, last: str, *, class_id: str = "S001-5B", protection: str = "ugradert",
              guardians: list[dict] | None = None) -> str:
        student_id = f"E{next(self._ids):04d}"
        self.con.execute("INSERT INTO students VALUES (?, ?, ?, ?, ?)", [student_id, class_id, first, last, protection])
        for guardian in guardians if guardians is not None else [{}]:
            self.guardian(student_id, **guardian)
        return student_id

    def guardian(self, student_id: str, *, guardian_id: str | None = None, first: str = "Kari",
                 last: str = "Nordmann", email: str | None = None, phone: str = "412 34 567",
                 phone_unlisted: bool = False, street: str = "Sandakerveien 1", postal_code: str = "0477",
                 protection: str = "ugradert", names: bool = True, share_email: bool = True,
                 share_phone: bool = True, share_address: bool = True) -> str:
        guardian_id = guardian_id or f"F{next(self._ids):04d}"
        email = email or f"{guardian_id.lower()}@example.no"
        self.con.execute(
            "INSERT INTO guardians VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'OSLO', ?, ?, ?, ?, ?)",
            [guardian_id, student_id, first, last, email, phone, phone_unlisted, street, postal_code,
             protection, names, share_email, share_phone, share_address],
        )
        return guardian_id

    def institution(self, street: str, postal_code: str, *, name: str = "Solsikken barnevernsinstitusjon") -> None:
        institution_id = f"I{next(self._ids):03d}"
        self.con.execute("INSERT INTO institutions VALUES (?, ?, ?, ?, 'barnevernsinstitusjon')",
                         [institution_id, name, street, postal_code])


@pytest.fixture
def register(con) -> Register:
    reg = Register(con)
    reg.school()
    reg.klass()
    return reg


@dataclass(frozen=True)
class Decision:
    decision: str
    rule: str | None
    consent_state: str
    no_trace: bool


def screen(con: duckdb.DuckDBPyConnection, class_ids: list[str] | None = None,
           policy: Policy | None = None, case_id: str = "T-1") -> dict[str, Decision]:
    """Screen the given classes as one case; the decisions by item id."""
    class_ids = class_ids or ["S001-5B"]
    con.execute("DELETE FROM case_classes WHERE case_id = ?", [case_id])
    for class_id in class_ids:
        con.execute(
            """INSERT INTO case_classes SELECT ?, c.class_id, c.school_id, s.name, c.name, c.grade
               FROM classes c JOIN schools s USING (school_id) WHERE class_id = ?""",
            [case_id, class_id],
        )
    screen_case(con, case_id, policy or load_policy(), datetime.fromisoformat(FIXED_NOW).astimezone(OSLO))
    rows = con.execute(
        "SELECT item_id, decision, rule, consent_state, no_trace FROM case_items WHERE case_id = ?", [case_id]
    ).fetchall()
    return {item_id: Decision(*rest) for item_id, *rest in rows}


def write_request(path: Path, **overrides) -> Path:
    request = {
        "request_id": "2026/1234",
        "received_at": "2026-11-23T09:15:00+01:00",
        "requester": {"name": "Kari Nordmann", "email": "kari@avis.example", "kind": "journalist",
                      "organisation": "Avisa Oslo"},
        "scope": {"school_id": "S001", "classes": ["5B"]},
    }
    request.update(overrides)
    path.write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
    return path
