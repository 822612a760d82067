"""One reviewer cannot release a graded address or a row that must leave no trace.

Releasing a value that a graded-address rule (fortrolig, strengt fortrolig) or a no-trace rule
withheld waits for a second reviewer: someone other than the reviewer who released it and the
case handler who registered it (compared as innsyn.cases.actor_key compares names) confirms
it with `innsyn review confirm`. Until then `innsyn review approve` refuses with exit 2 and
one line, whoever asks. Both reviewers are in the case's events. A release of a value no such
rule withheld (an institution address) needs one reviewer, as before.

The real `innsyn` command on a real database.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from conftest import (CANARIES, canary_case_awaiting_review, canary_export, copy_of_case_folder, innsyn, pdf_text,
                      squeeze, write_request)

CASE = "2026-7701"
FORTROLIG_PUPIL = "E4/pupil_name"        # withheld by fortrolig_adresse
STRENGT_PUPIL = "E5/pupil_name"          # withheld by strengt_fortrolig_adresse, no trace
INSTITUTION_ADDRESS = "E2/F2/address"    # withheld by institusjonsadresse


@pytest.fixture(scope="module")
def case_awaiting_review(tmp_path_factory, prefect_api_url) -> Path:
    """Built once with the real CLI; each test changes a copy of it."""
    return canary_case_awaiting_review(tmp_path_factory.mktemp("second-reviewer"), prefect_api_url, "2026/7701")


@pytest.fixture
def case(tmp_path, case_awaiting_review) -> Path:
    return copy_of_case_folder(case_awaiting_review, tmp_path / "case")


def review(workdir: Path, prefect_api_url: str, *args: str):
    return innsyn(workdir, prefect_api_url, "review", *args)


def refused(result, *words: str) -> None:
    assert result.returncode == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def events(workdir: Path) -> list[tuple[str, str, dict]]:
    with duckdb.connect(str(workdir / "innsyn.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT event, actor, detail FROM case_events ORDER BY event_id").fetchall()
    return [(event, actor, json.loads(detail) if detail else {}) for event, actor, detail in rows]


def test_a_graded_release_needs_a_second_reviewer_before_approval(case, prefect_api_url):
    released = review(case, prefect_api_url, "release", CASE, FORTROLIG_PUPIL, "--reviewer", "Lise Jurist",
                      "--reason", "Graderingen er opphevet")
    assert released.returncode == 0, released.stderr
    assert json.loads(released.stdout)["awaiting_second_reviewer"] == [FORTROLIG_PUPIL]

    # nobody approves while it waits: not the reviewer who released it, not anyone else
    refused(review(case, prefect_api_url, "approve", CASE, "--reviewer", "Lise Jurist"), "second reviewer", FORTROLIG_PUPIL)
    refused(review(case, prefect_api_url, "approve", CASE, "--reviewer", "Ola Jurist"), "second reviewer")
    # the second reviewer is someone else than the first, under any spelling, and than the registrant
    refused(review(case, prefect_api_url, "confirm", CASE, FORTROLIG_PUPIL, "--reviewer", "LISE  jurist"), "four eyes")
    refused(review(case, prefect_api_url, "confirm", CASE, FORTROLIG_PUPIL, "--reviewer", "Saksbehandler"), "four eyes")
    refused(review(case, prefect_api_url, "confirm", CASE, INSTITUTION_ADDRESS, "--reviewer", "Ola Jurist"),
            "not a release waiting for a second reviewer")

    confirmed = review(case, prefect_api_url, "confirm", CASE, FORTROLIG_PUPIL, "--reviewer", "Ola Jurist")
    assert confirmed.returncode == 0, confirmed.stderr
    assert json.loads(confirmed.stdout) | {"confirmed_items": 1} == json.loads(confirmed.stdout)
    assert json.loads(confirmed.stdout)["awaiting_second_reviewer"] == []

    approved = review(case, prefect_api_url, "approve", CASE, "--reviewer", "Lise Jurist")
    assert approved.returncode == 0, approved.stderr
    answer = json.loads(approved.stdout)
    assert answer["status"] == "released"
    assert squeeze(CANARIES["fortrolig pupil"]) in squeeze(pdf_text(Path(answer["public_pdf"])))

    trail = [(event, actor) for event, actor, _ in events(case)]
    assert trail[-4:] == [("overridden", "Lise Jurist"), ("release_confirmed", "Ola Jurist"),
                          ("approved", "Lise Jurist"), ("released", "Lise Jurist")]
    overridden = next(detail for event, _, detail in events(case) if event == "overridden")
    assert overridden["needs_second_reviewer"] == [FORTROLIG_PUPIL]
    confirmation = next(detail for event, _, detail in events(case) if event == "release_confirmed")
    assert confirmation["items"] == {FORTROLIG_PUPIL: "Lise Jurist"}


def test_a_no_trace_release_waits_and_withholding_it_again_ends_the_wait(case, prefect_api_url):
    released = review(case, prefect_api_url, "release", CASE, STRENGT_PUPIL, INSTITUTION_ADDRESS,
                      "--reviewer", "Lise Jurist", "--reason", "Vurdert")
    assert json.loads(released.stdout)["awaiting_second_reviewer"] == [STRENGT_PUPIL]
    refused(review(case, prefect_api_url, "approve", CASE, "--reviewer", "Ola Jurist"), "second reviewer", STRENGT_PUPIL)

    # withheld again (by anyone), nothing waits: the institution address alone needed one reviewer
    again = review(case, prefect_api_url, "withhold", CASE, STRENGT_PUPIL, "--reviewer", "Lise Jurist",
                   "--reason", "Likevel gradert")
    assert json.loads(again.stdout)["awaiting_second_reviewer"] == []
    approved = review(case, prefect_api_url, "approve", CASE, "--reviewer", "Lise Jurist")
    assert approved.returncode == 0, approved.stderr
    text = squeeze(pdf_text(Path(json.loads(approved.stdout)["public_pdf"])))
    assert squeeze(CANARIES["strengt fortrolig pupil"]) not in text
    assert squeeze("Thereses gt. 12b") in text


def test_a_release_confirmed_and_then_released_again_waits_again(case, prefect_api_url):
    review(case, prefect_api_url, "release", CASE, FORTROLIG_PUPIL, "--reviewer", "Lise Jurist", "--reason", "a")
    assert review(case, prefect_api_url, "confirm", CASE, FORTROLIG_PUPIL, "--reviewer", "Ola Jurist").returncode == 0
    review(case, prefect_api_url, "withhold", CASE, FORTROLIG_PUPIL, "--reviewer", "Ola Jurist", "--reason", "b")
    again = review(case, prefect_api_url, "release", CASE, FORTROLIG_PUPIL, "--reviewer", "Ola Jurist", "--reason", "c")
    assert json.loads(again.stdout)["awaiting_second_reviewer"] == [FORTROLIG_PUPIL]
    refused(review(case, prefect_api_url, "approve", CASE, "--reviewer", "Lise Jurist"), "second reviewer")


def test_in_the_prefect_form_too_a_graded_release_waits_for_a_second_reviewer(prefect_server, tmp_path):
    """The flow paused for review: Lise releases the graded pupil and approves, which is
    refused and the run pauses again; Ola confirms and approves, and the answer is released."""
    import threading
    import time

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateName
    from prefect.flow_runs import resume_flow_run

    from innsyn.db import init_schema, open_db
    from innsyn.importer import import_export
    from innsyn.process_request import ReviewInput, RunConfig, process_request
    from innsyn.review import ItemChange

    innsyn_db = tmp_path / "innsyn.duckdb"
    with open_db(innsyn_db) as con:
        init_schema(con)
        import_export(con, canary_export(tmp_path / "export"))
    request = write_request(tmp_path / "request.json", request_id="2026/7702")
    config = RunConfig(db=str(innsyn_db), out=str(tmp_path / "out"), actor="saksbehandler", pause_for_review=True,
                       review_poll_seconds=1, review_timeout_seconds=300)
    outcome: dict = {}
    runner = threading.Thread(target=lambda: outcome.update(result=process_request(str(request), config)))
    runner.start()

    def paused_run(seen: set):
        deadline = time.monotonic() + 180
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                for run in client.read_flow_runs(flow_run_filter=FlowRunFilter(
                        state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Paused"])))):
                    if run.parameters.get("request_path") == str(request) and run.state.id not in seen:
                        seen.add(run.state.id)
                        return run
                time.sleep(0.5)
        raise AssertionError("the flow did not pause for review")

    seen: set = set()
    resume_flow_run(paused_run(seen).id, run_input=ReviewInput(
        approve=True, reviewer="Lise Jurist", reason="Graderingen er opphevet",
        changes=[ItemChange(item_id=FORTROLIG_PUPIL, decision="release")]).model_dump())
    resume_flow_run(paused_run(seen).id, run_input=ReviewInput(
        approve=True, reviewer="Ola Jurist", reason="", confirm=[FORTROLIG_PUPIL]).model_dump())
    runner.join(timeout=300)

    assert outcome["result"].status == "released"
    trail = [(event, actor) for event, actor, _ in events(tmp_path)]
    assert ("approved", "Lise Jurist") not in trail
    assert trail[-4:] == [("overridden", "Lise Jurist"), ("release_confirmed", "Ola Jurist"),
                          ("approved", "Ola Jurist"), ("released", "Ola Jurist")]
