"""Four eyes: the case handler who registered a case cannot approve it under another spelling.

A name is one person however it is typed: in another Unicode form (full-width letters, a
non-breaking space), in other case, with other spacing. And a name with an invisible
character in it (a zero-width space, a direction mark, a tab) is refused outright, from
`--reviewer` and from INNSYN_USER alike: exit 2, one line, nothing written.

The real `innsyn` command on a real database: a case registered by "Kari Nordby" waits for
review, and every lookalike of her name is refused as its reviewer.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from conftest import canary_export, innsyn, write_request
from innsyn.cases import actor_key, same_actor

REGISTRANT = "Kari Nordby"


@pytest.fixture(scope="module")
def case(tmp_path_factory, prefect_api_url) -> Path:
    workdir = tmp_path_factory.mktemp("four-eyes")
    assert innsyn(workdir, prefect_api_url, "db", "import", str(canary_export(workdir / "export"))).returncode == 0
    write_request(workdir / "request.json", request_id="2026/7401")
    run = innsyn(workdir, prefect_api_url, "process", "request.json", user=REGISTRANT)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["status"] == "awaiting_review"
    return workdir


def events(workdir: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(workdir / "innsyn.duckdb"), read_only=True) as con:
        return con.execute("SELECT event, actor FROM case_events ORDER BY event_id").fetchall()


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("lookalike", [
    "kari nordby",                      # case
    "KARI   NORDBY ",                   # case and spacing
    "Kari\u00a0Nordby",                 # a non-breaking space (NFKC: a space)
    "Ｋａｒｉ Ｎｏｒｄｂｙ",              # full-width letters (NFKC)
    "Kari\u3000Nordby",                 # an ideographic space (NFKC: a space)
])
def test_the_registrant_under_another_spelling_cannot_approve(case, prefect_api_url, lookalike):
    before = events(case)
    result = innsyn(case, prefect_api_url, "review", "approve", "2026-7401", "--reviewer", lookalike)
    assert result.returncode == 2, result.stdout
    assert "four eyes" in one_line(result)
    assert events(case) == before


@pytest.mark.parametrize("name, code_point", [
    ("Kari Nordby\u200b", "U+200B"),    # a zero-width space
    ("Kari\u200dNordby", "U+200D"),     # a zero-width joiner
    ("\u202eybdroN iraK", "U+202E"),    # a right-to-left override
    ("Kari\tNordby", "U+0009"),         # a control character
    ("Lise Jurist\ufeff", "U+FEFF"),    # a byte order mark, even for someone else
])
def test_a_reviewer_name_with_an_invisible_character_is_refused(case, prefect_api_url, name, code_point):
    before = events(case)
    for command in (["review", "approve", "2026-7401"],
                    ["review", "release", "2026-7401", "E2/F2/address", "--reason", "nedlagt"]):
        result = innsyn(case, prefect_api_url, *command, "--reviewer", name)
        assert result.returncode == 2, result.stdout
        line = one_line(result)
        assert "control or format character" in line and code_point in line
    assert events(case) == before


def test_innsyn_user_with_an_invisible_character_is_refused_before_anything_is_written(tmp_path, prefect_api_url):
    assert innsyn(tmp_path, prefect_api_url, "db", "import", str(canary_export(tmp_path / "export"))).returncode == 0
    write_request(tmp_path / "request.json", request_id="2026/7402")
    result = innsyn(tmp_path, prefect_api_url, "process", "request.json", user=f"{REGISTRANT}\u2060")
    assert result.returncode == 2
    line = one_line(result)
    assert "INNSYN_USER" in line and "U+2060" in line
    with duckdb.connect(str(tmp_path / "innsyn.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM cases").fetchone() == (0,)
    assert not (tmp_path / "out").exists()


def test_another_person_can_approve(case, prefect_api_url):
    result = innsyn(case, prefect_api_url, "review", "approve", "2026-7401", "--reviewer", "Kari Nordbye")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "released"
    assert events(case)[-2:] == [("approved", "Kari Nordbye"), ("released", "Kari Nordbye")]


def test_one_person_however_typed():
    assert actor_key("Ｌｉｓｅ\u00a0 JURIST\u200b ") == actor_key("lise jurist") == "lise jurist"
    assert same_actor("Straße", "STRASSE")
    assert not same_actor("Lise Jurist", "Lise Juristen")
    assert not same_actor("Lise Jurist", "LiseJurist")
