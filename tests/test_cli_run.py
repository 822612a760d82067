"""A command-line run ends quickly and loses nothing on the way out.

`innsyn process` runs the Prefect flow in its own process, and a one-class request should be
answered in a few seconds. Two costs buy nothing for such a run: waiting for Prefect's
heartbeat thread to wake up when each flow run ends (up to a second per flow run; a
one-school case started from the shell runs without heartbeats, a bulk case keeps them), and
the interpreter's garbage collection over the whole heap at exit (skipped: the heap is
frozen once the answer is printed). Neither may lose anything: the JSON on stdout, the flow
run's final state and every log line still reach their place.
"""

from __future__ import annotations

import json
from pathlib import Path

from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

from innsyn.commands import foreground_run

from conftest import innsyn, write_request


def heartbeat_seconds() -> int | None:
    return get_current_settings().flows.heartbeat_frequency


def test_a_one_school_run_skips_the_heartbeat_and_a_bulk_run_keeps_it():
    default = heartbeat_seconds()
    assert default is not None
    with foreground_run(schools=1):
        assert heartbeat_seconds() is None
    with foreground_run(schools=12):
        assert heartbeat_seconds() == default
    assert heartbeat_seconds() == default  # only for the run itself


def test_a_heartbeat_set_on_purpose_is_kept():
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}):
        with foreground_run(schools=1):
            assert heartbeat_seconds() == 60


def test_a_one_class_run_leaves_its_answer_state_and_logs(tmp_path: Path, register, prefect_api_url):
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, LogFilter, LogFilterFlowRunId

    for first, last in (("Åse", "Sæther"), ("Ola", "Berg"), ("Mohammed", "Ali")):
        register.pupil(first, last)
    register.con.close()
    request = write_request(tmp_path / "request.json", request_id="2026/7001")

    run = innsyn(tmp_path, prefect_api_url, "process", str(request))

    assert run.returncode == 0, run.stderr
    case = json.loads(run.stdout)  # stdout is the JSON object and nothing else
    assert case["status"] == "released" and Path(case["public_pdf"]).is_file()
    with get_client(sync_client=True) as client:
        flow_runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["process-request"])))
        (flow_run,) = [r for r in flow_runs if r.parameters.get("request_path") == str(request)]
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])))
    assert flow_run.state.is_completed()
    messages = [log.message for log in logs]
    assert "case 2026-7001 registered" in messages
    # the flow's last line, logged just before the process exits: the exit waited for it
    assert any(message.startswith("Finished in state Completed") for message in messages)
