"""A bulk answer's school parts, rendered on every worker of the work pool.

The writer (the process that owns the database: `innsyn serve`, or the work pool's worker on
the database host) runs the case's flow. For each school whose parts are not staged yet it
writes a job folder in the exchange folder (innsyn.pool.exchange: a Parquet snapshot of the
school's decided rows, owner-only) and starts a run of the `render-part/work-pool-parts`
deployment, whose only parameter is the job's name. Any worker of the pool takes it, renders
the school's public part (gated there, against the school's withheld values) and review
part from the snapshot in an in-memory DuckDB, and writes them beside it.

The writer trusts nothing it gets back: it reads each public part through the leak gate again,
against every withheld value of the whole case, checks that the review part is a PDF, and
only then moves both into the case's private staging folder, where `merge_parts` finds them as
if they had been rendered here. Then it deletes the job folder. A failed part fails the case's
rendering; the parts already staged stay for the next run.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

from prefect import flow, get_client, get_run_logger
from prefect.deployments import run_deployment
from pypdf import PdfReader

from innsyn import leak_gate
from innsyn.case_documents import build_answer, released_values
from innsyn.config import FLOW_OPTIONS, RunConfig
from innsyn.db import open_db
from innsyn.files import move_into_place
from innsyn.policy import DEFAULT_POLICY, load_policy
from innsyn.pool.exchange import (
    PART_FILES, POLICY_FILE, Job, exchange_root, job_folder, job_name, load_snapshot, write_job,
)
from innsyn.private import owner_only_by_default
from innsyn.render_answer import Plan, render_school_parts, school_parts, staging_dir
from innsyn.resources import sql

#: the deployment prefect.yaml declares for the parts (flow name / deployment name)
PART_DEPLOYMENT = "render-part/work-pool-parts"
#: how long the writer waits for one school's part before it fails the case's rendering
PART_TIMEOUT_SECONDS = 3600


# ----------------------------------------------------------------------------- the writer's side


def render_schools_on_workers(plan: Plan, config: RunConfig, poll_seconds: float = 1.0) -> int:
    """Render the schools not staged yet on the pool's workers; how many were staged already."""
    root = exchange_root(config.exchange)
    staging = staging_dir(config, plan)
    todo = [school for school in plan.schools
            if not all(part.exists() for part in school_parts(staging, plan, school).values())]
    with open_db(config.db, read_only=True) as con:
        for school in todo:
            write_job(con, _job(plan, school), Path(config.policy or DEFAULT_POLICY),
                      root / job_name(plan.case_id, plan.data_hash, school))
    runs = {school: run_deployment(PART_DEPLOYMENT, parameters={"job": job_name(plan.case_id, plan.data_hash, school)},
                                   timeout=0, tags=["innsyn", "part"]).id
            for school in todo}
    logger = get_run_logger()
    logger.info("case %s: %d school parts sent to the work pool, %d from an earlier run",
                plan.case_id, len(todo), len(plan.schools) - len(todo))
    try:
        _take_parts_as_they_finish(plan, config, runs, root, poll_seconds)
    finally:
        shutil.rmtree(root / plan.case_id / plan.data_hash[:16], ignore_errors=True)
        with contextlib.suppress(OSError):  # the case's folder, unless another hand-over uses it
            (root / plan.case_id).rmdir()
    return len(plan.schools) - len(todo)


def _job(plan: Plan, school: str) -> Job:
    # the review classes of every school: ids, and the part shows only its own school's
    return Job(plan.case_id, school, plan.status_label, plan.data_hash, plan.review_classes,
               review_part=school in plan.review_schools)


def _take_parts_as_they_finish(plan: Plan, config: RunConfig, runs: dict, root: Path, poll_seconds: float) -> None:
    waiting = dict(runs)
    deadline = time.monotonic() + PART_TIMEOUT_SECONDS
    with get_client(sync_client=True) as client:
        while waiting:
            states = _states(client, list(waiting.values()))
            for school, run_id in list(waiting.items()):
                state = states.get(run_id)
                if state is None or not state.is_final():
                    continue
                if not state.is_completed():
                    raise RuntimeError(f"case {plan.case_id}: school {school}'s parts failed on the work pool "
                                       f"(flow run {run_id}: {state.name})")
                take_parts(plan, config, school, root / job_name(plan.case_id, plan.data_hash, school))
                del waiting[school]
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(f"case {plan.case_id}: no worker rendered {len(waiting)} school parts in "
                                   f"{PART_TIMEOUT_SECONDS} s; is a worker of the pool running?")
            if waiting:
                time.sleep(poll_seconds)


def _states(client, run_ids: list) -> dict:
    """The states of these flow runs, a page of ids per request (every school of Oslo is 200)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    states = {}
    for start in range(0, len(run_ids), 100):
        page = run_ids[start:start + 100]
        for run in client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=page)), limit=100):
            states[run.id] = run.state
    return states


def take_parts(plan: Plan, config: RunConfig, school: str, folder: Path) -> None:
    """Gate a worker's parts here, against the whole case, and stage them."""
    policy = load_policy(config.policy)
    with open_db(config.db, read_only=True) as con:
        answer = build_answer(con, plan.case_id, policy, status_label=plan.status_label, school_id=school)
        withheld = dict(con.execute(sql("case_withheld_values"), {"case_id": plan.case_id}).fetchall())
    released, namesakes = released_values(answer)
    targets = school_parts(staging_dir(config, plan), plan, school)
    returned = {kind: folder / PART_FILES[kind] for kind in targets}
    for kind, part in returned.items():
        if not part.is_file() or len(PdfReader(part).pages) == 0:
            raise RuntimeError(f"case {plan.case_id}: the work pool returned no {kind} part for school {school}")
    leak_gate.check_pdf(returned["public"], withheld, released, namesakes=namesakes)
    for kind, part in returned.items():
        move_into_place(part, targets[kind], private=True)


# ----------------------------------------------------------------------------- a worker's side


@flow(name="render-part", **FLOW_OPTIONS)
def render_part(job: str) -> None:
    """Render one school's parts of a bulk answer from its snapshot in the exchange folder."""
    owner_only_by_default()
    folder = job_folder(job, exchange_root())
    spec = Job.read(folder)
    plan = Plan(spec.case_id, (spec.school_id,), spec.status_label, None, spec.data_hash, publish=False,
                review_classes=spec.review_classes, review_schools=(spec.school_id,) if spec.review_part else ())
    parts = {kind: folder / PART_FILES[kind] for kind in school_parts(folder, plan, spec.school_id)}
    con = load_snapshot(folder)
    try:
        render_school_parts(con, plan, spec.school_id, load_policy(folder / POLICY_FILE), parts)
    finally:
        con.close()
    get_run_logger().info("case %s: school %s rendered", spec.case_id, spec.school_id)
