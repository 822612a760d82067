"""The flows the service's deployments run: what a caller of the Prefect API may give them.

Whoever can reach the Prefect API can start a run of a deployment and give it parameters. So
the deployments `innsyn serve` runs (and prefect.yaml declares for a work pool) take only what
a caller may choose:

- `process-request/process-request`: `request_path`, the name of a request file in the
  service's **intake folder** (absolute, or relative to that folder). A path outside it (also
  through `..` or a symbolic link) fails the run. The request is checked exactly as
  `innsyn process` checks it (the file, its fields, a `received_at` in the future, the
  database, the school and classes), and a bad one fails the run with one line before anything
  is written: no case, no file.
- `compliance-report/weekly-compliance-report`: the period (`date_from`, `date_to`), nothing else.

The database, the output folder, the intake folder, the policy and the acting account are the
service's own. `innsyn serve` fixes them when it starts, in the flows it serves
(`served_request_flow`, `served_report_flow`) and in its own environment
(`ServiceSettings.as_environment`): Prefect's runner starts a served run from its entrypoint,
this module's `process_request_in_service`, in a new process that inherits that environment.
A worker of prefect.yaml's work pool reads them from its own environment when a run starts
(`process_request_in_service`, `compliance_report_in_service`: INNSYN_DB, INNSYN_OUT,
INNSYN_INTAKE, INNSYN_POLICY, INNSYN_USER, INNSYN_ALLOW_WEAK_POLICY, INNSYN_EXCHANGE, and
INNSYN_REVIEW_IN_PREFECT: runs pause for review unless it is 0). Never parameters.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from prefect import Flow, flow, get_run_logger
from pydantic import BaseModel

from innsyn import cases
from innsyn.compliance_report import ReportConfig, ReportResult, compliance_report
from innsyn.config import FLOW_OPTIONS, CaseResult, RunConfig
from innsyn.db import default_db_path
from innsyn.policy import load_policy, policy_weaknesses, weakness_warning
from innsyn.request import BadInput

#: The account a worker of the work pool acts as when INNSYN_USER is not set.
SERVICE_ACTOR = "innsyn-service"


def default_intake(out: Path | str) -> Path:
    """The intake folder when none is named: `intake/` beside the output folder."""
    return Path(out).resolve().parent / "intake"


class ServiceSettings(BaseModel, frozen=True):
    """What the service is: absolute paths and an account, fixed when it starts."""

    db: str
    out: str
    intake: str
    policy: str | None = None
    actor: str
    allow_weak_policy: bool = False
    pause_for_review: bool = False
    exchange: str | None = None  # a bulk case's parts render on the work pool (innsyn.pool)

    @classmethod
    def create(cls, *, db: Path | str, out: Path | str, actor: str, intake: Path | str | None = None,
               policy: Path | str | None = None, allow_weak_policy: bool = False,
               pause_for_review: bool = False, exchange: Path | str | None = None) -> ServiceSettings:
        return cls(db=str(Path(db).resolve()), out=str(Path(out).resolve()),
                   intake=str(Path(intake).resolve() if intake else default_intake(out)),
                   policy=str(Path(policy).resolve()) if policy else None,
                   actor=cases.check_actor_name(actor, "the service's account"),
                   allow_weak_policy=allow_weak_policy, pause_for_review=pause_for_review,
                   exchange=str(Path(exchange).resolve()) if exchange else None)

    @classmethod
    def from_environment(cls) -> ServiceSettings:
        """A worker's settings: its environment, paths relative to its working directory
        (prefect.yaml's pull step makes that $INNSYN_HOME). Runs pause for review unless
        INNSYN_REVIEW_IN_PREFECT=0; INNSYN_EXCHANGE sends a bulk case's parts to the pool."""
        out = os.environ.get("INNSYN_OUT") or "out"
        return cls.create(db=default_db_path(), out=out, intake=os.environ.get("INNSYN_INTAKE") or None,
                          policy=os.environ.get("INNSYN_POLICY") or None,
                          actor=os.environ.get("INNSYN_USER") or SERVICE_ACTOR,
                          allow_weak_policy=os.environ.get("INNSYN_ALLOW_WEAK_POLICY") == "1",
                          pause_for_review=os.environ.get("INNSYN_REVIEW_IN_PREFECT", "1") != "0",
                   exchange=os.environ.get("INNSYN_EXCHANGE") or None)

    def as_environment(self) -> dict[str, str]:
        """These settings as the environment `from_environment` reads: `innsyn serve` puts them
        in its own, because Prefect's runner may start a served run from its entrypoint (this
        module's `process_request_in_service`) in a new process, not from the flow it was given."""
        return {"INNSYN_DB": self.db, "INNSYN_OUT": self.out, "INNSYN_INTAKE": self.intake,
                "INNSYN_POLICY": self.policy or "", "INNSYN_USER": self.actor,
                "INNSYN_ALLOW_WEAK_POLICY": "1" if self.allow_weak_policy else "0",
                "INNSYN_REVIEW_IN_PREFECT": "1" if self.pause_for_review else "0",
                "INNSYN_EXCHANGE": self.exchange or ""}

    def run_config(self) -> RunConfig:
        return RunConfig(db=self.db, out=self.out, policy=self.policy, actor=self.actor,
                         pause_for_review=self.pause_for_review, exchange=self.exchange)

    def report_config(self, target_days: int) -> ReportConfig:
        return ReportConfig(db=self.db, out=self.out, target_days=target_days)


def request_in_intake(request_path: str, intake: Path) -> Path:
    """The request file a run names, if it is a file in the intake folder; BadInput if not.

    A relative path is taken from the intake folder. Symbolic links are followed before the
    check, so a link in the intake folder to a file elsewhere is outside it."""
    if not isinstance(request_path, str) or not request_path.strip() or "\x00" in request_path:
        raise BadInput("request_path: name a request file in the service's intake folder")
    intake = intake.resolve()
    named = Path(request_path)
    resolved = (named if named.is_absolute() else intake / named).resolve()
    if not resolved.is_relative_to(intake) or resolved == intake:
        raise BadInput(f"request_path: {request_path} is not in the service's intake folder {intake}")
    return resolved


def check_policy(settings: ServiceSettings) -> None:
    """A policy weaker than the standard fails the run unless the service was started to allow
    it (`innsyn serve --allow-weak-policy`); allowed, it is a warning in the run's log."""
    policy = load_policy(settings.policy)
    weaknesses = policy_weaknesses(policy)
    if not weaknesses:
        return
    if not settings.allow_weak_policy:
        raise BadInput(f"{weakness_warning(policy, weaknesses)}: the service was not started with "
                       "--allow-weak-policy")
    get_run_logger().warning("%s", weakness_warning(policy, weaknesses))


def process_request_as_service(request_path: str, settings: ServiceSettings) -> CaseResult:
    """One request named by a caller, processed with the service's own settings."""
    from innsyn.commands import check_request
    from innsyn.process_request import process_request

    path = request_in_intake(request_path, Path(settings.intake))
    check_policy(settings)
    check_request(path, Path(settings.db))  # every check `innsyn process` makes, before anything is written
    return process_request.fn(str(path), settings.run_config())


def served_request_flow(settings: ServiceSettings) -> Flow:
    """The `process-request` flow `innsyn serve` serves: `request_path` is its only parameter,
    and `settings` travel inside it to every run."""

    @flow(name="process-request", **FLOW_OPTIONS)
    def process_request_in_service(request_path: str) -> CaseResult:
        """Process one request file from the service's intake folder."""
        return process_request_as_service(request_path, settings)

    return process_request_in_service


def served_report_flow(config: ReportConfig) -> Flow:
    """The `compliance-report` flow `innsyn serve` serves: a period, and nothing else."""

    @flow(name="compliance-report", **FLOW_OPTIONS)
    def compliance_report_in_service(date_from: date | None = None, date_to: date | None = None) -> ReportResult:
        """The compliance report for a period; the previous week when none is given."""
        return compliance_report.fn(date_from, date_to, config)

    return compliance_report_in_service


# ----------------------------------------------------------------------------- a work pool's workers


@flow(name="process-request", **FLOW_OPTIONS)
def process_request_in_service(request_path: str) -> CaseResult:
    """Process one request file from the intake folder, with the worker's own settings."""
    return process_request_as_service(request_path, ServiceSettings.from_environment())


@flow(name="compliance-report", **FLOW_OPTIONS)
def compliance_report_in_service(date_from: date | None = None, date_to: date | None = None) -> ReportResult:
    """The compliance report for a period (the previous week by default), with the worker's settings."""
    return compliance_report.fn(date_from, date_to, ReportConfig.from_environment())
