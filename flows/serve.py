"""`innsyn serve`: the product as a long-running service, on one machine.

Two Prefect deployments run in this one process with `prefect.serve`:

- `process-request/process-request` processes a request on demand: put the request file in
  the service's intake folder and start a run from the Prefect UI, the API or `prefect
  deployment run process-request/process-request -p request_path=request.json`. The request's
  path is the only parameter: the database, output folder, intake folder, policy and acting
  service account are fixed when the service starts (innsyn.service_flows).
- `compliance-report/weekly-compliance-report` writes the compliance report for the previous
  week every Monday at 07:00 Europe/Oslo (cron `0 7 * * 1` in that zone, so the run stays at
  07:00 local time across summer time).

Beside them, the service answers `innsyn process` for one-school requests on its database
in this process, warm: Prefect, the flows and WeasyPrint's fonts are loaded once, not for
every request (innsyn.warm_worker).

Paths are made absolute, so a run finds the database wherever the runner starts it. The
deployments name their flows by module path (`innsyn.service_flows.compliance_report_in_service`),
so they load from the installed package, not from a file relative to the working directory.

The Prefect API has no authentication of its own: the service starts only against a server on
this machine (loopback) or one that asks for a password (`PREFECT_API_AUTH_STRING`), see
`check_api_protected`.

When one machine is not enough, the same deployments are declared in prefect.yaml for a
Prefect server with a work pool and workers (see README, "Running as a service").
"""

from __future__ import annotations

import ipaddress
import os
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Schedule
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_KEY, PREFECT_API_URL
from prefect.types.entrypoint import EntrypointType

from innsyn import cases, deadlines
from innsyn.compliance_report import TIME_ZONE, WEEKLY_CRON
from innsyn.db import default_db_path
from innsyn.request import BadInput
from innsyn.service_flows import ServiceSettings, default_intake, served_report_flow, served_request_flow
from innsyn.warm_worker import WarmWorker

PROCESS_DEPLOYMENT = "process-request"
REPORT_DEPLOYMENT = "weekly-compliance-report"
TAGS = ["innsyn"]


def weekly_schedule() -> Schedule:
    """Monday 07:00 in Oslo."""
    return Cron(WEEKLY_CRON, timezone=TIME_ZONE)


def build_deployments(
    *, db: Path | str, out: Path | str, policy: Path | str | None = None, target_days: int, actor: str,
    intake: Path | str | None = None, allow_weak_policy: bool = False, pause_for_review: bool = False,
    maildir: Path | None = None,
) -> list[RunnerDeployment]:
    """The two deployments `innsyn serve` runs. Their flows hold this service's settings; a
    caller names a request file in the intake folder, or a report's period, and nothing else."""
    settings = ServiceSettings.create(db=db, out=out, policy=policy, actor=actor, intake=intake,
                                      allow_weak_policy=allow_weak_policy, pause_for_review=pause_for_review,
                                      exchange=os.environ.get("INNSYN_EXCHANGE") or None)
    mailbox = []
    if maildir is not None:  # `innsyn serve --maildir DIR`: polled on a schedule (innsyn.intake.served)
        from innsyn.intake.served import maildir_deployment

        mailbox = [maildir_deployment(settings, Path(maildir))]
    return [
        served_request_flow(settings).to_deployment(
            name=PROCESS_DEPLOYMENT,
            description=("Process one innsyn request on demand: put the request file in "
                         f"{settings.intake} and run with -p request_path=FILE"),
            tags=TAGS,
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
        served_report_flow(settings.report_config(target_days)).to_deployment(
            name=REPORT_DEPLOYMENT,
            schedules=[weekly_schedule()],
            description="The compliance report for the previous week, every Monday 07:00 Europe/Oslo",
            tags=TAGS,
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
    ] + mailbox


def check_api_protected() -> None:
    """Refuse to serve on a Prefect API that anyone on the network can use (BadInput, one line).

    The API has no authentication of its own: whoever reaches it can start runs, read their
    logs, and change or delete deployments. Served here it must be this machine's (no
    PREFECT_API_URL: a temporary server on 127.0.0.1; or a loopback address), or ask for the
    password of `PREFECT_SERVER_API_AUTH_STRING`, which this side then sends
    (`PREFECT_API_AUTH_STRING`), or be Prefect Cloud with an API key.
    """
    url = PREFECT_API_URL.value()
    if not url:
        return
    host = (urlsplit(url).hostname or "").lower()
    if is_loopback(host) or PREFECT_API_AUTH_STRING.value():
        return
    if PREFECT_API_KEY.value() and (host == "prefect.cloud" or host.endswith(".prefect.cloud")):
        return
    raise BadInput(f"PREFECT_API_URL: the Prefect API at {host or url!r} is not on this machine and "
                   "PREFECT_API_AUTH_STRING is not set: anyone who reaches that API could start runs; protect "
                   "the server with PREFECT_SERVER_API_AUTH_STRING behind TLS and set PREFECT_API_AUTH_STRING here")


def refuse_to_take_over(names: list[str]) -> None:
    """BadInput (one line) when a deployment of these names is already on a work pool.

    `prefect deploy` (prefect.yaml) made it: serving the same name would take it over
    (entrypoint, pull steps, who runs it), and stopping would pause it and delete its
    scheduled runs. prefect.yaml's deployments have names of their own (`work-pool`, ...), so
    this is a work pool deployed from an older prefect.yaml, or by hand."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    if not PREFECT_API_URL.value():
        return  # the temporary server starts empty with the service: nothing there to take over
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                existing = client.read_deployment_by_name(name)
            except ObjectNotFound:
                continue
            if existing.work_pool_name:
                raise BadInput(f"deployment {name} runs on the work pool {existing.work_pool_name!r}: `innsyn "
                               "serve` does not take over a deployment it did not create; delete it or "
                               "deploy the pool's under other names (prefect.yaml)")


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address: reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_deployments(
    *, db: Path | str, out: Path | str, policy: Path | str | None = None, target_days: int,
    intake: Path | str | None = None, allow_weak_policy: bool = False, pause_for_review: bool = False,
    maildir: Path | None = None,
) -> list[str]:
    """Serve the deployments until interrupted; the names of what was served."""
    deployments = build_deployments(db=db, out=out, policy=policy, target_days=target_days,
                                    actor=cases.current_user(), intake=intake,
                                    allow_weak_policy=allow_weak_policy, pause_for_review=pause_for_review,
                                    maildir=maildir)
    # a served run may be started from its entrypoint in a new process (Prefect's runner does,
    # for deployments it did not get as flows): it then reads this service's settings from the
    # environment it inherits, so they are put there
    os.environ.update(ServiceSettings.create(
        db=db, out=out, policy=policy, actor=cases.current_user(), intake=intake, allow_weak_policy=allow_weak_policy,
        pause_for_review=pause_for_review, exchange=os.environ.get("INNSYN_EXCHANGE") or None).as_environment())
    os.environ["INNSYN_TARGET_WORKING_DAYS"] = str(target_days)
    # On shutdown Prefect pauses the schedules, so a stopped service leaves no runs waiting
    # in vain. Without a configured server the temporary one stops with us: nothing to pause.
    names = [deployment.full_name for deployment in deployments]
    refuse_to_take_over(names)
    intake_folder = Path(intake).resolve() if intake else default_intake(out)
    intake_folder.mkdir(parents=True, exist_ok=True)
    # stdout carries one JSON object when we stop (the contract): Prefect's banner goes to stderr
    print(f"innsyn: serving {', '.join(names)}; the report runs Mondays 07:00 {TIME_ZONE}; requests are "
          f"taken from {intake_folder}. "
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
        _stop_background_service(db)
        worker = WarmWorker(db).start()
    except (RuntimeError, OSError) as error:
        print(f"innsyn: warning: `innsyn process` runs in its own process: {error}", file=sys.stderr, flush=True)
        return None
    print(f"innsyn: answering `innsyn process` for {worker.db} (one-school requests) in this process",
          file=sys.stderr, flush=True)
    return worker


def _stop_background_service(db: Path) -> None:
    """A background service the CLI started for this database gives way to `innsyn serve`."""
    from innsyn.service import client, paths

    answer = client._ask(paths.socket_path(db), "stop") if paths.socket_path(db).exists() else None
    if answer and "stopping" in answer:
        client._wait_exited(answer["stopping"], client.DAEMON_MARKER, 120)


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
    serve_deployments(db=default_db_path(), out=os.environ.get("INNSYN_OUT") or "out",
                      target_days=deadlines.target_working_days())
