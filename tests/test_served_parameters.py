"""What a caller of the Prefect API can change in a served run: the request file, nothing else.

`innsyn serve` runs for real in a subprocess against the session's Prefect server, and runs of
its `process-request` deployment are created through the API, as anyone who can reach the API
can create them. A run names a request file in the service's intake folder; the database, the
output folder, the policy and the acting account are the service's, fixed when it started. A
`config` parameter is refused, a file outside the intake folder is refused, and a request the
CLI would refuse (a `received_at` in the future) fails the run with one line, nothing written.

And the service does not start against a Prefect API on the network that has no password.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from conftest import INNSYN, canary_export, innsyn, innsyn_env, write_request
from innsyn.serve import PROCESS_DEPLOYMENT

@pytest.fixture(scope="module")
def service(tmp_path_factory, prefect_api_url):
    """`innsyn serve` on a canary register, with the default intake folder (beside out/)."""
    from prefect import get_client

    workdir = tmp_path_factory.mktemp("served")
    imported = innsyn(workdir, prefect_api_url, "db", "import", str(canary_export(workdir / "export")))
    assert imported.returncode == 0, imported.stderr
    (workdir / "intake").mkdir(exist_ok=True)
    # the runner looks for runs every second (Prefect's default: 10 s), so a run starts at once
    env = {**innsyn_env(workdir, prefect_api_url, user="innsyn-service"), "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    log = workdir / "serve.log"
    with log.open("w") as stderr:
        # runs stop at awaiting_review here; pausing (the default) is tested in test_work_pool.py
        process = subprocess.Popen([INNSYN, "serve", "--no-review-in-prefect"], cwd=workdir, env=env,
                                   stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        deadline = time.monotonic() + 180
        ready = None
        while ready is None and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.5)
            with get_client(sync_client=True) as client:
                found = client.read_deployments()
            ready = next((d for d in found if d.name == PROCESS_DEPLOYMENT
                          and str(workdir / "intake") in (d.description or "")), None)
        assert ready is not None, log.read_text()
        yield workdir, ready, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def run_deployment(deployment, parameters: dict, timeout: float = 300):
    """Create a run through the API as any caller could, and wait for its final state.

    Returns the final flow run, or the API's refusal when the run could not even be created."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        try:
            run = client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
        except Exception as refused:  # noqa: BLE001 - the server refusing the parameters is a pass
            return refused
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = client.read_flow_run(run.id)
            if run.state is not None and run.state.is_final():
                return run
            time.sleep(0.25)
    raise AssertionError(f"flow run {run.id} did not finish in {timeout} s (state {run.state})")


def cases_in(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    with duckdb.connect(str(db), read_only=True) as con:
        if not con.execute("SELECT 1 FROM information_schema.tables WHERE table_name = 'cases'").fetchone():
            return []
        return con.execute("SELECT case_id, registered_by, status FROM cases ORDER BY case_id").fetchall()


def test_the_deployment_takes_the_request_path_and_nothing_else(service):
    _, deployment, _ = service
    assert deployment.parameters == {}
    assert set(deployment.parameter_openapi_schema["properties"]) == {"request_path"}


def test_a_run_with_the_callers_own_config_changes_nothing_of_the_service(service, tmp_path):
    workdir, deployment, _ = service
    request = write_request(workdir / "intake" / "request-7301.json", request_id="2026/7301")
    # the caller's own database (a copy of the register), output folder, policy and actor
    evil = tmp_path / "elsewhere"
    evil.mkdir()
    shutil.copy(workdir / "innsyn.duckdb", evil / "innsyn.duckdb")
    weak = evil / "weak.toml"
    weak.write_text((Path(__file__).resolve().parents[1] / "policies" / "standard.toml").read_text(encoding="utf-8")
                    .replace("requires_review = true", "requires_review = false"), encoding="utf-8")
    config = {"db": str(evil / "innsyn.duckdb"), "out": str(evil / "out"), "policy": str(weak),
              "actor": "mallory", "pause_for_review": False}

    result = run_deployment(deployment, {"request_path": str(request), "config": config})

    # refused: by the API, or by the flow, which has no such parameter (Prefect cannot bind it,
    # and the run ends before it starts); never run as the caller said
    assert isinstance(result, Exception) or not result.state.is_completed()
    assert cases_in(evil / "innsyn.duckdb") == []
    assert not (evil / "out").exists()
    assert "2026-7301" not in [case for case, _, _ in cases_in(workdir / "innsyn.duckdb")]


def test_a_request_in_the_intake_folder_is_processed_as_the_service(service):
    workdir, deployment, _ = service
    request = write_request(workdir / "intake" / "request-7302.json", request_id="2026/7302")

    run = run_deployment(deployment, {"request_path": request.name})  # relative to the intake folder

    assert run.state.is_completed(), run.state.message
    assert ("2026-7302", "innsyn-service", "awaiting_review") in cases_in(workdir / "innsyn.duckdb")
    assert (workdir / "out" / "internal" / "2026-7302" / "intern.pdf").is_file()


@pytest.mark.parametrize("where", ["outside", "escape", "symlink"])
def test_a_request_outside_the_intake_folder_is_refused(service, where):
    workdir, deployment, _ = service
    request_id = {"outside": "2026/7303", "escape": "2026/7304", "symlink": "2026/7305"}[where]
    outside = write_request(workdir / f"request-{request_id[-4:]}.json", request_id=request_id)
    if where == "outside":
        named = str(outside)
    elif where == "escape":
        named = f"../{outside.name}"
    else:
        link = workdir / "intake" / f"link-{request_id[-4:]}.json"
        link.symlink_to(outside)
        named = str(link)

    run = run_deployment(deployment, {"request_path": named})

    assert run.state.is_failed()
    assert "intake folder" in run.state.message and len(run.state.message.splitlines()) == 1
    assert request_id.replace("/", "-") not in [case for case, _, _ in cases_in(workdir / "innsyn.duckdb")]


def test_a_request_the_cli_would_refuse_fails_the_run_with_one_line_and_writes_nothing(service):
    workdir, deployment, _ = service
    request = write_request(workdir / "intake" / "request-7306.json", request_id="2026/7306",
                            received_at="2031-01-01T09:00:00+01:00")
    before = sorted(str(p) for p in (workdir / "out").rglob("*")) if (workdir / "out").exists() else []

    run = run_deployment(deployment, {"request_path": str(request)})

    assert run.state.is_failed()
    assert "received_at: is in the future" in run.state.message
    assert len(run.state.message.splitlines()) == 1
    assert "2026-7306" not in [case for case, _, _ in cases_in(workdir / "innsyn.duckdb")]
    after = sorted(str(p) for p in (workdir / "out").rglob("*")) if (workdir / "out").exists() else []
    assert after == before


# ----------------------------------------------------------------------------- the API's protection


def serve_against(tmp_path: Path, url: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("PREFECT_API_AUTH_STRING", "PREFECT_API_KEY")}
    env.update({"PREFECT_API_URL": url, "INNSYN_DB": str(tmp_path / "none.duckdb"), **extra_env})
    return subprocess.run([INNSYN, "serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("url", ["http://192.0.2.10:4200/api", "http://prefect.example.org/api",
                                 "https://[2001:db8::1]:4200/api"])
def test_serve_refuses_a_prefect_api_on_the_network_without_an_auth_string(tmp_path, url):
    result = serve_against(tmp_path, url)
    assert result.returncode == 2, result.stderr
    assert "PREFECT_API_AUTH_STRING" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/api", "http://localhost:9/api", "http://[::1]:9/api"])
def test_serve_accepts_a_loopback_api_and_a_network_api_with_an_auth_string(tmp_path, url):
    # past the check, the next one speaks: there is no database here
    assert "no database" in serve_against(tmp_path, url).stderr
    protected = serve_against(tmp_path, "https://prefect.example.org/api", PREFECT_API_AUTH_STRING="admin:pass")
    assert protected.returncode == 2 and "no database" in protected.stderr


# ----------------------------------------------------------------------------- a work pool's workers


def test_a_worker_takes_its_settings_from_its_own_environment(tmp_path, monkeypatch):
    from innsyn.service_flows import ServiceSettings, process_request_in_service

    monkeypatch.chdir(tmp_path)  # prefect.yaml's pull step: $INNSYN_HOME
    for name in ("INNSYN_DB", "INNSYN_OUT", "INNSYN_INTAKE", "INNSYN_POLICY", "INNSYN_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INNSYN_REVIEW_IN_PREFECT", "1")
    settings = ServiceSettings.from_environment()
    assert (settings.db, settings.out, settings.intake, settings.actor) == (
        str(tmp_path / "data" / "innsyn.duckdb"), str(tmp_path / "out"), str(tmp_path / "intake"), "innsyn-service")
    assert settings.run_config().pause_for_review is True
    assert list(process_request_in_service.parameters.properties) == ["request_path"]
