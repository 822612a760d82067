"""`innsyn serve` and prefect.yaml: the weekly report on Monday 07:00 Oslo time, requests on demand.

The deployments are registered with the session's real Prefect server and read back from it;
the schedule's next dates are asked of Prefect's own cron schedule across the switch to
summer time; prefect.yaml must declare the same deployments; and `innsyn serve` itself starts,
registers them, answers a one-class `innsyn process` in its own warm process, and stops
cleanly on SIGTERM with its JSON on stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from conftest import INNSYN, canary_export, innsyn, innsyn_env, write_request
from innsyn.serve import REPORT_DEPLOYMENT, build_deployments
from innsyn.warm_worker import socket_path

PROJECT = Path(__file__).resolve().parents[1]
REPORT = f"compliance-report/{REPORT_DEPLOYMENT}"
PROCESS = "process-request/process-request"


@pytest.fixture
def deployments(tmp_path):
    return {deployment.full_name: deployment for deployment in
            build_deployments(db=tmp_path / "innsyn.duckdb", out=tmp_path / "out", target_days=2, actor="innsyn-service")}


def test_the_report_runs_weekly_and_requests_on_demand(deployments, tmp_path):
    assert set(deployments) == {REPORT, PROCESS}
    (schedule,) = deployments[REPORT].schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 7 * * 1", "Europe/Oslo")
    assert not deployments[PROCESS].schedules
    # a caller gives a request file or a period, nothing else: the service's own paths, target
    # and account are in the flows it serves, not in parameters a run could change
    assert deployments[PROCESS].parameters == deployments[REPORT].parameters == {}
    assert set(deployments[PROCESS]._parameter_openapi_schema.properties) == {"request_path"}
    assert set(deployments[REPORT]._parameter_openapi_schema.properties) == {"date_from", "date_to"}
    assert str(tmp_path / "intake") in deployments[PROCESS].description
    assert deployments[REPORT].entrypoint == "innsyn.service_flows.compliance_report_in_service"


def test_the_schedule_is_registered_with_its_cron_and_time_zone(deployments, prefect_server):
    from prefect import get_client
    from prefect.server.schemas.schedules import CronSchedule

    for deployment in deployments.values():
        deployment.apply()
    with get_client(sync_client=True) as client:
        registered = client.read_deployment_by_name(REPORT)
        on_demand = client.read_deployment_by_name(PROCESS)
    (schedule,) = registered.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == ("0 7 * * 1", "Europe/Oslo", True)
    assert on_demand.schedules == []

    # 07:00 in Oslo before and after the clocks go forward on 29 March 2026
    dates = asyncio.run(CronSchedule(cron=schedule.schedule.cron, timezone=schedule.schedule.timezone)
                        .get_dates(n=3, start=datetime(2026, 3, 20, tzinfo=timezone.utc)))
    assert [moment.astimezone(timezone.utc) for moment in dates] == [
        datetime(2026, 3, 23, 6, 0, tzinfo=timezone.utc),
        datetime(2026, 3, 30, 5, 0, tzinfo=timezone.utc),
        datetime(2026, 4, 6, 5, 0, tzinfo=timezone.utc),
    ]


def test_prefect_yaml_declares_the_deployments_for_a_work_pool_under_names_of_their_own(tmp_path, monkeypatch):
    from prefect.deployments.steps.core import run_step
    from prefect.flows import load_flow_from_entrypoint

    declared = yaml.safe_load((PROJECT / "prefect.yaml").read_text(encoding="utf-8"))
    by_name = {d["name"]: d for d in declared["deployments"]}
    assert set(by_name) == {"work-pool", "work-pool-weekly", "work-pool-parts"}
    report = by_name["work-pool-weekly"]
    assert report["schedules"] == [{"cron": "0 7 * * 1", "timezone": "Europe/Oslo"}]
    # no parameters a run could change: a worker's settings are its own environment
    assert all("parameters" not in deployment for deployment in by_name.values())
    flows = {name: load_flow_from_entrypoint(d["entrypoint"]) for name, d in by_name.items()}  # module paths
    full_names = {f"{flows[name].name}/{name}" for name in by_name}
    # never the names `innsyn serve` serves: neither takes over the other's deployments
    assert full_names == {"process-request/work-pool", "compliance-report/work-pool-weekly",
                          "render-part/work-pool-parts"}
    assert not full_names & {PROCESS, REPORT}
    assert {d["work_pool"]["work_queue_name"] for d in by_name.values()} == {"requests", "reports", "parts"}
    assert list(flows["work-pool"].parameters.properties) == ["request_path"]
    assert list(flows["work-pool-parts"].parameters.properties) == ["job"]

    # the pull step reads the worker's own INNSYN_HOME when the run starts, not the deployer's
    (step,) = declared["pull"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INNSYN_HOME", str(tmp_path / "here"))
    (tmp_path / "here").mkdir()
    assert asyncio.run(run_step(step)) == {"directory": str(tmp_path / "here")}
    assert Path.cwd() == tmp_path / "here"


@pytest.fixture(autouse=True)
def use_a_running_service(monkeypatch):
    monkeypatch.setenv("INNSYN_USE_SERVICE", "running")  # `innsyn serve`'s; never a background one


def test_innsyn_serve_registers_the_deployments_answers_process_and_stops_on_sigterm(tmp_path, prefect_api_url):
    from prefect import get_client

    innsyn(tmp_path, prefect_api_url, "db", "import", str(canary_export(tmp_path / "export")))
    write_request(tmp_path / "request.json", request_id="2026/7201")
    env = innsyn_env(tmp_path, prefect_api_url)
    service = subprocess.Popen([INNSYN, "serve"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        served = None
        while served is None and time.monotonic() < deadline and service.poll() is None:
            time.sleep(0.5)
            with get_client(sync_client=True) as client:
                found = client.read_deployments()
            served = next((d for d in found if d.name == "process-request"
                           and str(tmp_path / "intake") in (d.description or "")), None)
        assert served is not None, "innsyn serve did not register its deployments"
        with get_client(sync_client=True) as client:
            report = client.read_deployment_by_name(REPORT)
        assert report.schedules[0].schedule.cron == "0 7 * * 1"
        # a one-class request from the shell is answered warm, in the service's process
        processed = innsyn(tmp_path, prefect_api_url, "process", "request.json")
        assert processed.returncode == 0, processed.stderr
        assert f"processed by the running `innsyn serve` (pid {service.pid})" in processed.stderr
        assert json.loads(processed.stdout)["status"] == "awaiting_review"
        service.send_signal(signal.SIGTERM)
        stdout, stderr = service.communicate(timeout=120)
    finally:
        if service.poll() is None:
            service.kill()
            service.communicate()
    assert service.returncode == 0, stderr
    assert json.loads(stdout) == {"served": [PROCESS, REPORT], "stopped": True}
    assert "Mondays 07:00 Europe/Oslo" in stderr
    assert not socket_path(tmp_path / "innsyn.duckdb").exists()  # a stopped service leaves no socket


def test_innsyn_serve_without_a_database_is_bad_input(tmp_path):
    result = subprocess.run([INNSYN, "serve", "--db", str(tmp_path / "none.duckdb")], cwd=tmp_path,
                            env={**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "no database" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_without_a_prefect_server_the_service_answers_once_its_temporary_one_is_up(tmp_path):
    # `innsyn serve` with no PREFECT_API_URL starts a temporary server, which takes seconds;
    # the warm worker shares it with the deployments' runner, and listens once it answers
    # (before, a request handed over while the runner was still starting it failed).
    innsyn(tmp_path, "", "db", "import", str(canary_export(tmp_path / "export")))
    write_request(tmp_path / "request.json", request_id="2026/7202")
    env = {key: value for key, value in innsyn_env(tmp_path, "").items() if key != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    log = tmp_path / "serve.log"
    with log.open("w") as stderr:
        service = subprocess.Popen([INNSYN, "serve"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                   stderr=stderr, text=True)
    try:
        deadline = time.monotonic() + 180
        while "answering `innsyn process`" not in log.read_text() and time.monotonic() < deadline:
            assert service.poll() is None, log.read_text()
            time.sleep(0.2)
        processed = subprocess.run([INNSYN, "process", "request.json"], cwd=tmp_path, env=env,
                                   capture_output=True, text=True, timeout=300)
        assert processed.returncode == 0, processed.stderr
        assert f"(pid {service.pid})" in processed.stderr
        service.send_signal(signal.SIGTERM)
        service.communicate(timeout=120)
    finally:
        if service.poll() is None:
            service.kill()
            service.communicate()
    assert service.returncode == 0, log.read_text()
