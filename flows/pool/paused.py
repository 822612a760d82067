"""One pause, several ways to answer it: the Prefect form, the API, and the command line.

A run that pauses for review tags itself `innsyn-case:<case id>@<database key>` (ids, nothing
personal; the key is a hash of the database's path, innsyn.service.paths.db_key). When
a reviewer approves the case from the command line (`innsyn review approve`) instead of the
form, the paused run would otherwise wait until its timeout, days later. So the command
finds the case's paused runs by that tag and resumes them with an answer that carries no
decision (`approve` false, no changes; the reason says where the case was answered). The
flow (innsyn.process_request.review_in_flow) reads the case first: released or approved
already, it ends cleanly, and the run's result is the case as the command left it.

The database is in the tag because case ids are per database, and one user's Prefect server
serves all of the user's databases: approving 2026-1234 in one must not wake the run of
2026-1234 in another, which could read its own case half-way through its own approval.

Only when `PREFECT_API_URL` names a server: a command without one has no paused run to
find, and must not start a temporary server to look.
"""

from __future__ import annotations

import sys
from pathlib import Path

CASE_TAG = "innsyn-case:"
ANSWERED_ELSEWHERE = "answered outside this run (innsyn review); nothing to apply here"


def case_tag(case_id: str, db: Path | str) -> str:
    from innsyn.service.paths import db_key

    return f"{CASE_TAG}{case_id}@{db_key(Path(db))}"


def tag_this_run(case_id: str, db: Path | str) -> None:
    """Tag the running flow run with its case, so the command line can find its pause."""
    from prefect import get_client
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    tags = list(dict.fromkeys([*(context.flow_run.tags or []), case_tag(case_id, db)]))
    with get_client(sync_client=True) as client:
        client.update_flow_run(context.flow_run.id, tags=tags)


def end_paused_runs(case_id: str, db: Path | str, reviewer: str) -> int:
    """Resume the case's paused runs with an answer that carries no decision; how many.

    A server that does not answer is a warning on stderr, not a failure: the case itself was
    approved already, and the run ends at its timeout."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return 0
    try:
        return _resume_paused(case_tag(case_id, db), reviewer)
    except Exception as error:  # noqa: BLE001 - the approval stands; say why the run still waits
        print(f"innsyn: warning: case {case_id}'s paused flow run was not resumed ({type(error).__name__})",
              file=sys.stderr)
        return 0


def _resume_paused(tag: str, reviewer: str) -> int:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType, FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType

    paused = FlowRunFilter(tags=FlowRunFilterTags(all_=[tag]),
                           state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    answer = {"approve": False, "reviewer": reviewer, "reason": ANSWERED_ELSEWHERE, "changes": [], "confirm": []}
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=paused)
        for run in runs:
            client.resume_flow_run(run.id, run_input=answer)
    return len(runs)
