"""`innsyn serve`: the product as a long-running service, on one machine.

Two Prefect deployments run in this one process with `prefect.serve`:

- `process-request/process-request` processes a request on demand: start a run from the
  Prefect UI, the API or `prefect deployment run process-request/process-request -p
  request_path=/path/to/request.json`. The database, output folder, policy and acting service
  account are fixed when the service starts (parameters hold paths, never personal data).
- `compliance-report/weekly-compliance-report` writes the compliance report for the previous
  week every Monday at 07:00 Europe/Oslo (cron `0 7 * * 1` in that zone, so the run stays at
  07:00 local time across summer time).

Beside them, the service answers `innsyn process` for one-school requests on its database
in this process, warm: Prefect, the flows and WeasyPrint's fonts are loaded once, not for
every request (innsyn.warm_worker).

Paths are made absolute, so a run finds the database wherever the runner starts it. The
deployments name their flows by module path (`innsyn.compliance_report.compliance_report`),
so they load from the installed package, not from a file relative to the working directory.

When one machine is not enough, the same deployments are declared in prefect.yaml for a
Prefect server with a work pool and workers (see README, "Running as a service").
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Schedule
from prefect.settings import PREFECT_API_URL
from prefect.types.entrypoint import EntrypointType

from innsyn import cases, deadlines
from innsyn.compliance_report import TIME_ZONE, WEEKLY_CRON, ReportConfig, compliance_report
from innsyn.db import default_db_path
from innsyn.process_request import RunConfig, process_request
from innsyn.warm_worker import WarmWorker

PROCESS_DEPLOYMENT = "process-request"
REPORT_DEPLOYMENT = "weekly-compliance-report"
TAGS = ["innsyn"]


def weekly_schedule() -> Schedule:
    """Monday 07:00 in Oslo."""
    return Cron(WEEKLY_CRON, timezone=TIME_ZONE)


def build_deployments(
    *, db: Path | str, out: Path | str, policy: Path | str | None = None, target_days: int, actor: str
) -> list[RunnerDeployment]:
    """The two deployments `innsyn serve` runs, with their parameters fixed to this service."""
    db, out = str(Path(db).resolve()), str(Path(out).resolve())
    run_config = RunConfig(db=db, out=out, policy=str(Path(policy).resolve()) if policy else None, actor=actor)
    report_config = ReportConfig(db=db, out=out, target_days=target_days)
    return [
        process_request.to_deployment(
            name=PROCESS_DEPLOYMENT,
            parameters={"config": run_config.model_dump()},
            description="Process one innsyn request on demand: -p request_path=/path/to/request.json",
            tags=TAGS,
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
        compliance_report.to_deployment(
            name=REPORT_DEPLOYMENT,
            schedules=[weekly_schedule()],
            parameters={"config": report_config.model_dump()},
            description="The compliance report for the previous week, every Monday 07:00 Europe/Oslo",
            tags=TAGS,
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
    ]


def serve_deployments(
    *, db: Path | str, out: Path | str, policy: Path | str | None = None, target_days: int
) -> list[str]:
    """Serve the deployments until interrupted; the names of what was served."""
    deployments = build_deployments(db=db, out=out, policy=policy, target_days=target_days,
                                    actor=cases.current_user())
    # On shutdown Prefect pauses the schedules, so a stopped service leaves no runs waiting
    # in vain. Without a configured server the temporary one stops with us: nothing to pause.
    names = [deployment.full_name for deployment in deployments]
    # stdout carries one JSON object when we stop (the contract): Prefect's banner goes to stderr
    print(f"innsyn: serving {', '.join(names)}; the report runs Mondays 07:00 {TIME_ZONE}. "
          "Stop with Ctrl-C or SIGTERM.", file=sys.stderr, flush=True)
    # SIGTERM (a service manager's stop) is a clean stop at any moment: Prefect's runner handles
    # it once it runs; before that, while the deployments are being registered, we do.
    previous = signal.signal(signal.SIGTERM, _stop)
    worker = None
    try:
        worker = _start_warm_worker(Path(db))
        serve(*deployments, pause_on_shutdown=bool(PREFECT_API_URL.value()), print_starting_message=False)
    except KeyboardInterrupt:
        pass
    except SystemExit as exit_:  # the runner's SIGTERM handler, if it comes before the runner started
        if exit_.code not in (0, None):
            raise
    finally:
        if worker is not None:
            worker.stop()
        signal.signal(signal.SIGTERM, previous)
    return names


def _start_warm_worker(db: Path) -> WarmWorker | None:
    """Answer `innsyn process` for one school here, warm (innsyn.warm_worker); the
    deployments are served either way."""
    try:
        _wait_for_the_api()
        worker = WarmWorker(db).start()
    except (RuntimeError, OSError) as error:
        print(f"innsyn: warning: `innsyn process` runs in its own process: {error}", file=sys.stderr, flush=True)
        return None
    print(f"innsyn: answering `innsyn process` for {worker.db} (one-school requests) in this process",
          file=sys.stderr, flush=True)
    return worker


def _wait_for_the_api() -> None:
    """Listen only once Prefect's API answers: without a configured server, the temporary one
    starts here (the deployments' runner shares it), and a request handed over before it is up
    would fail."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        if (error := client.api_healthcheck()) is not None:
            raise RuntimeError(f"the Prefect API does not answer ({type(error).__name__})")


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    import os

    serve_deployments(db=default_db_path(), out=os.environ.get("INNSYN_OUT") or "out",
                      target_days=deadlines.target_working_days())
