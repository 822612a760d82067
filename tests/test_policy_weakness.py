"""A policy weaker than the law the product encodes is never accepted silently.

Two edits a lawyer can make that leave a confidential value unguarded: dropping the rule of a
marker (screening still finds the marker, and withholds nothing), and turning off review for a
graded address. Such a policy is valid, so it loads; but every run under it warns with one
line on stderr naming the markers and rules (no personal data), the case's `screened` event
records it, and `innsyn serve` refuses it unless started with --allow-weak-policy.

What is weak is computed from innsyn.policy.MARKERS: a marker added to the code is covered the
day it is added, and the standard policy must name it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from conftest import INNSYN, canary_export, innsyn, write_request
from innsyn import policy as policy_module
from innsyn.policy import DEFAULT_POLICY, MARKERS, load_policy, policy_weaknesses

STANDARD = DEFAULT_POLICY.read_text(encoding="utf-8")


def without_rule(text: str, rule_id: str) -> str:
    """The policy text with one [[rules]] block removed, as a lawyer deletes it."""
    start = text.index(f'id = "{rule_id}"')
    start = text.rindex("[[rules]]", 0, start)
    end = text.find("[[rules]]", start + 1)
    return text[:start] + (text[end:] if end != -1 else "")


def review_off(text: str, rule_id: str) -> str:
    start = text.index(f'id = "{rule_id}"')
    end = text.find("[[rules]]", start)
    end = end if end != -1 else len(text)
    block = text[start:end]
    assert block.count("requires_review = true") == 1
    return text[:start] + block.replace("requires_review = true", "requires_review = false") + text[end:]


def write_policy(folder: Path, text: str, name: str = "svak.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_standard_policy_guards_every_marker():
    assert policy_weaknesses(load_policy()) == []


def test_a_dropped_rule_and_a_graded_address_without_review_are_named(tmp_path):
    weak = load_policy(write_policy(tmp_path, review_off(without_rule(STANDARD, "spesialundervisning"),
                                                          "fortrolig_adresse")))
    assert policy_weaknesses(weak) == [
        "marker 'special_group' has no rule",
        "marker 'special_school' has no rule",
        "rule 'fortrolig_adresse' (graded address) does not require review",
    ]
    # review off for a rule of no graded address is the lawyer's call, not a weakness
    phone = load_policy(write_policy(tmp_path, review_off(STANDARD, "institusjonsadresse"), "b.toml"))
    assert policy_weaknesses(phone) == []


def test_weakness_is_computed_from_the_markers_the_code_knows(monkeypatch):
    monkeypatch.setattr(policy_module, "MARKERS", (*MARKERS, "a_marker_found_tomorrow"))
    assert policy_weaknesses(load_policy()) == ["marker 'a_marker_found_tomorrow' has no rule"]


@pytest.fixture
def workdir(tmp_path, prefect_api_url) -> Path:
    assert innsyn(tmp_path, prefect_api_url, "db", "import", str(canary_export(tmp_path / "export"))).returncode == 0
    return tmp_path


def test_every_run_under_a_weak_policy_warns_and_the_case_records_it(workdir, prefect_api_url):
    weak = write_policy(workdir, without_rule(STANDARD, "institusjonsadresse"))
    write_request(workdir / "request.json", request_id="2026/7501")

    run = innsyn(workdir, prefect_api_url, "process", "--policy", str(weak), "request.json")

    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("innsyn: warning: policy")]
    assert len(warnings) == 1 and "marker 'institution_address' has no rule" in warnings[0]
    assert "Thereses" not in run.stderr and "Bjølsen" not in run.stderr  # names rules and markers, no values
    with duckdb.connect(str(workdir / "innsyn.duckdb"), read_only=True) as con:
        (detail,) = con.execute("SELECT detail FROM case_events WHERE event = 'screened'").fetchone()
    assert json.loads(detail)["policy_weaknesses"] == ["marker 'institution_address' has no rule"]

    # and again on the next run that loads it: the reviewer's command
    shown = innsyn(workdir, prefect_api_url, "review", "release", "2026-7501", "E1/F1/phone", "--policy", str(weak),
                   "--reviewer", "Lise Jurist", "--reason", "samtykke")
    assert shown.returncode == 0, shown.stderr
    assert sum(line.startswith("innsyn: warning: policy") for line in shown.stderr.splitlines()) == 1


def test_the_standard_policy_runs_without_a_warning(workdir, prefect_api_url):
    write_request(workdir / "request.json", request_id="2026/7502")
    run = innsyn(workdir, prefect_api_url, "process", "request.json")
    assert run.returncode == 0, run.stderr
    assert "warning" not in run.stderr
    with duckdb.connect(str(workdir / "innsyn.duckdb"), read_only=True) as con:
        (detail,) = con.execute("SELECT detail FROM case_events WHERE event = 'screened'").fetchone()
    assert "policy_weaknesses" not in json.loads(detail)


def serve(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api", "INNSYN_DB": str(workdir / "none.duckdb")}
    return subprocess.run([INNSYN, "serve", *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=120)


def test_serve_refuses_a_weak_policy_unless_told_to_allow_it(tmp_path):
    weak = write_policy(tmp_path, review_off(STANDARD, "strengt_fortrolig_adresse"))

    refused = serve(tmp_path, "--policy", str(weak))
    assert refused.returncode == 2 and refused.stdout == ""
    (line,) = refused.stderr.strip().splitlines()
    assert "rule 'strengt_fortrolig_adresse' (graded address) does not require review" in line
    assert "--allow-weak-policy" in line

    # allowed, the service goes on (and stops at the next check: there is no database here)
    allowed = serve(tmp_path, "--policy", str(weak), "--allow-weak-policy")
    assert allowed.returncode == 2 and "no database" in allowed.stderr
    assert "innsyn: warning: policy" in allowed.stderr
