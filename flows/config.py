"""What every flow is told, and what it answers: paths, ids and counts, never personal data."""

from __future__ import annotations

from pydantic import BaseModel

from innsyn import cases
from innsyn.db import open_db


def __getattr__(name: str):
    """`TASK_OPTIONS` and `FLOW_OPTIONS`, made when a module of flows asks for them: Prefect is
    imported then and not before, so a command that runs no flow (`review confirm`, a refused
    `review approve`, `review show`) answers without the seconds Prefect's import takes."""
    if name == "TASK_OPTIONS":
        from prefect.cache_policies import NO_CACHE

        #: Tasks keep nothing: their inputs are ids and paths, their results counts. Nothing a
        #: task returns is persisted by Prefect, and nothing is cached across runs.
        return dict(cache_policy=NO_CACHE, persist_result=False)
    if name == "FLOW_OPTIONS":
        from pathlib import Path

        from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH

        #: Flows keep nothing either: what a flow returns is printed by the command that ran it
        #: (ids, paths and counts), and nothing reads it back from Prefect. Saying so, and naming
        #: Prefect's own local folder as the (never written) result storage, spares every flow
        #: run two questions to the server about its default result storage, which Prefect
        #: asks when a flow leaves both open (two round trips, and outside the background
        #: service two new API clients).
        return dict(log_prints=False, persist_result=False,
                    result_storage=Path(PREFECT_RESULTS_LOCAL_STORAGE_PATH.value()))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class RunConfig(BaseModel):
    """Where to work and under which policy. Paths only: safe as Prefect parameters."""

    db: str
    out: str
    policy: str | None = None
    actor: str
    pause_for_review: bool = False          # wait in the flow for a reviewer (needs a Prefect server)
    review_timeout_seconds: int = 3 * 24 * 3600
    review_poll_seconds: int = 10
    workers: int | None = None              # processes rendering a bulk case (default: all cores)
    progress: bool = False                  # a progress bar on stderr (the CLI turns it on)
    exchange: str | None = None             # a bulk case's parts render on a work pool's workers,
                                            # through this folder (innsyn.pool.parts)


class CaseResult(BaseModel):
    """The contract's JSON summary of a case (ids, paths and counts only)."""

    case_id: str
    status: str
    outcome: str | None
    public_pdf: str | None
    review_pdf: str | None
    withheld_items: int
    unchanged: bool = False


def case_result(config: RunConfig, case_id: str, *, unchanged: bool = False) -> CaseResult:
    with open_db(config.db, read_only=True) as con:
        row = cases.find_case(con, case_id)
        (withheld,) = con.execute(
            "SELECT count(*) FROM case_items WHERE case_id = ? AND decision = 'withhold' AND NOT no_trace",
            [case_id],
        ).fetchone()
    return CaseResult(
        case_id=case_id, status=row.status, outcome=row.outcome,
        public_pdf=row.public_pdf if row.status == "released" else None,
        review_pdf=row.review_pdf, withheld_items=withheld, unchanged=unchanged,
    )
