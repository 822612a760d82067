"""No-trace items are never counted outside the case's own record.

A class whose only withheld values belong to a strengt fortrolig household goes through the
real flow under the session's Prefect server: it pauses for review, a reviewer approves it in
the typed pause form, and it is released. Then every log line, task run, artifact and pause
form of that flow run is read back: none says a nonzero number of values were withheld (or
conflicted with consent): "5 withheld" would tell whoever reads Prefect that the household
exists. The case's own record (its events, `innsyn cases`) keeps the exact counts.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

import duckdb

from innsyn.process_request import ReviewInput, RunConfig, process_request

from conftest import write_request
from test_prefect_no_personal_data import Captured, paused_run_of, wait_until

COUNTS = re.compile(r"(\d+)\s+(?:withheld|consent conflicts|values? (?:withheld|checked)|items changed|added|removed)"
                    r"|withheld_items\W+(\d+)", re.IGNORECASE)


def nonzero_counts(text: str) -> list[str]:
    return [m.group(0) for m in COUNTS.finditer(text) if any(g and int(g) for g in m.groups())]


def strengt_fortrolig_only(register, tmp_path: Path) -> RunConfig:
    register.pupil("Åse", "Sæther")
    register.pupil("Ánte", "Somby")
    register.pupil("Mohammed", "Ali")
    register.pupil("Per", "Skjultesen", guardians=[{"first": "Anne", "last": "Skjultesen",
                                                    "protection": "strengt_fortrolig"}])
    register.con.close()
    return RunConfig(db=str(tmp_path / "innsyn.duckdb"), out=str(tmp_path / "out"), actor="saksbehandler",
                     pause_for_review=True, review_poll_seconds=1, review_timeout_seconds=120)


def flow_run_records(flow_run_id) -> dict[str, list[str]]:
    """What Prefect holds of one flow run: its logs, task runs, artifacts, states and inputs."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
        states = client.read_flow_run_states(flow_run_id)
        run = client.read_flow_run(flow_run_id)
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL
    import sqlite3

    path = PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split(":///", 1)[1]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        inputs = [f"{key} {value}" for key, value in db.execute(
            "SELECT key, value FROM flow_run_input WHERE flow_run_id = ?", [str(flow_run_id).replace("-", "")])]
        inputs += [f"{key} {value}" for key, value in db.execute(
            "SELECT key, value FROM flow_run_input WHERE flow_run_id = ?", [str(flow_run_id)])]
    return {
        "logs": [log.message for log in logs],
        "task runs": [task.model_dump_json() for task in tasks],
        "artifacts": [artifact.model_dump_json() for artifact in artifacts],
        "states": [state.model_dump_json() for state in states],
        "flow run": [run.model_dump_json()],
        "pause forms": inputs,
    }


def test_prefect_never_counts_what_leaves_no_trace(prefect_server, register, tmp_path):
    from prefect.flow_runs import resume_flow_run

    config = strengt_fortrolig_only(register, tmp_path)
    request = write_request(tmp_path / "sf.json", request_id="2026/77")
    captured = Captured()
    logging.getLogger("prefect").addHandler(captured)
    outcome: dict = {}
    try:
        runner = threading.Thread(target=lambda: outcome.update(result=process_request(str(request), config)))
        runner.start()

        paused = wait_until(lambda: paused_run_of(request), timeout=120, what="the pause for review")
        records = flow_run_records(paused.id)
        resume_flow_run(paused.id, run_input=ReviewInput(
            approve=True, reviewer="Lise Jurist", reason="Vurdert etter offentleglova § 13").model_dump())
        runner.join(timeout=180)
    finally:
        logging.getLogger("prefect").removeHandler(captured)
    result = outcome["result"]
    assert result.status == "released" and result.withheld_items == 0

    after = flow_run_records(paused.id)
    # the run really was recorded: its logs, and the pause form with its description
    assert any("screened" in line for line in after["logs"])
    assert any("awaits legal review" in line for line in records["pause forms"] + after["pause forms"])
    found = {where: nonzero_counts("\n".join(lines))
             for where, lines in [*records.items(), *after.items(), ("Prefect's loggers", captured.lines)]}
    assert {where: counts for where, counts in found.items() if counts} == {}

    # the case's own record keeps the exact count: the household's five values
    with duckdb.connect(config.db, read_only=True) as con:
        (detail,) = con.execute("SELECT detail FROM case_events WHERE case_id = '2026-77' AND event = 'screened'"
                                ).fetchone()
    assert json.loads(detail)["no_trace_items"] == 5


def test_a_household_graded_while_the_case_waits_is_not_counted_either(prefect_server, register, tmp_path):
    """The register grades another household strengt fortrolig while the flow waits in its pause
    form: the approval is refused, the case screened again and paused again (the flow says so),
    and again without a count of what changed."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateName
    from prefect.flow_runs import resume_flow_run

    config = strengt_fortrolig_only(register, tmp_path)
    request = write_request(tmp_path / "sf.json", request_id="2026/78")
    outcome: dict = {}
    runner = threading.Thread(target=lambda: outcome.update(result=process_request(str(request), config)))
    runner.start()

    def paused_run(not_before=None):
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Paused"]))))
        run = next((run for run in runs if run.parameters.get("request_path") == str(request)), None)
        return run if run and (not_before is None or run.state.timestamp > not_before) else None

    approve = ReviewInput(approve=True, reviewer="Lise Jurist", reason="Vurdert").model_dump()
    paused = wait_until(paused_run, timeout=120, what="the pause for review")
    with duckdb.connect(config.db) as con:  # Åse's guardian is graded while the case waits
        con.execute("UPDATE guardians SET address_protection = 'strengt_fortrolig' WHERE student_id = 'E0001'")
    resume_flow_run(paused.id, run_input=approve)
    again = wait_until(lambda: paused_run(not_before=paused.state.timestamp), timeout=120,
                       what="the second pause, after screening again")
    resume_flow_run(again.id, run_input=approve)
    runner.join(timeout=180)
    assert outcome["result"].status == "released"

    records = flow_run_records(paused.id)
    assert any("screened again" in line for line in records["logs"])
    found = {where: nonzero_counts("\n".join(lines)) for where, lines in records.items()}
    assert {where: counts for where, counts in found.items() if counts} == {}
