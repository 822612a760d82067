"""Render a case's documents: the review copy, and on release the public answer.

A request for one school's classes becomes one document: the letter, then the lists. A bulk
request (several schools, up to every class in Oslo) is split into coarse tasks, one per
school, that run in parallel processes on all cores: each renders its school's public lists,
passes them through the leak gate in the worker, and renders the review part (only the
classes with remarks: a lawyer reads the lists something was taken from, and the front names
the rest). The public parts are rendered while the case awaits review, so approval only
merges. The parts are merged behind the front (the letter; the review summary) into one PDF
with a bookmark per school and class; the merged file's metadata, bookmarks and annotations
are checked once more, and only then is it renamed into the public folder.

Finished parts are kept in a private staging folder named by the hash of the decisions, so a
run that dies halfway resumes without redoing them, and a changed decision (a reviewer's
override) renders them again. Nothing is public until every part is done.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from prefect import flow, get_client, get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.task_runners import ProcessPoolTaskRunner
from pypdf import PdfReader, PdfWriter

from innsyn import cases, clock, leak_gate, render
from innsyn.answer import Answer
from innsyn.case_documents import (
    CasePaths, CaseWide, build_answer, classes_with_remarks, public_answer, publish, read_case_wide, released_values,
    write_redaction_log,
)
from innsyn.config import FLOW_OPTIONS, TASK_OPTIONS, RunConfig
from innsyn.db import open_db, transaction
from innsyn.files import atomic_target, move_into_place
from innsyn.policy import Policy, load_policy
from innsyn.resources import sql
from innsyn.screening import summarise


@dataclass(frozen=True)
class Plan:
    """What rendering one case involves (ids and labels only)."""

    case_id: str
    schools: tuple[str, ...]
    status_label: str
    approved_by: str | None
    data_hash: str
    publish: bool
    review_classes: tuple[str, ...] = ()  # bulk: the classes the review copy shows in full
    review_schools: tuple[str, ...] = ()  # ... and their schools

    @property
    def kinds(self) -> tuple[str, ...]:
        """The merged documents this run writes."""
        return ("internal", "public") if self.publish else ("internal",)

    @property
    def bulk(self) -> bool:
        return len(self.schools) > 1


def staging_dir(config: RunConfig, plan: Plan) -> Path:
    """Private work folder for a bulk case's parts; its name changes with the decisions."""
    return CasePaths.under(Path(config.out), plan.case_id).staging_dir / plan.data_hash[:16]


@task(**TASK_OPTIONS)
def prepare(case_id: str, config: RunConfig, approved_by: str | None, publish: bool) -> Plan:
    """Fix the decision time and say who approved; refuse a case screened under another policy."""
    policy = load_policy(config.policy)
    with open_db(config.db) as con:
        _check_same_policy(con, case_id, policy)
        approval = _approval(con, case_id)
        approved_by = approved_by or (approval[0] if approval else None)
        confirmed_by = _confirmers(con, case_id)
        if publish:
            # the decision is taken now: on approval, or on release when no review was needed
            con.execute("UPDATE cases SET decided_at = ? WHERE case_id = ?", [clock.now(), case_id])
        schools = tuple(s for (s,) in con.execute(
            # the order sql/case_classes_answered.sql gives a single document's lists
            """SELECT school_id FROM case_classes WHERE case_id = ?
               GROUP BY school_id, school_name ORDER BY school_name, school_id""", [case_id]
        ).fetchall())
        data_hash = summarise(con, case_id, policy).data_hash
        with_remarks = classes_with_remarks(con, case_id)
        write_redaction_log(con, case_id, CasePaths.under(Path(config.out), case_id))
    if not publish:
        label = "Til juridisk vurdering"
    elif approved_by:
        label = approval_label(approved_by, approval[1] if approval else clock.now(), confirmed_by)
    else:
        label = "Frigitt uten juridisk vurdering (ingen merknader)"
    review_schools = set(with_remarks.values())
    return Plan(case_id, schools, label, approved_by, data_hash, publish, tuple(sorted(with_remarks)),
                tuple(s for s in schools if s in review_schools))


@task(**TASK_OPTIONS)
def render_whole(plan: Plan, config: RunConfig) -> None:
    """One school: letter and lists in one document, gated, published; the review copy beside it.

    Returns nothing: a count of the values gated would count those that leave no trace, and a
    task's result and its successor's parameters are Prefect's to see (`finish` counts them)."""
    policy = load_policy(config.policy)
    paths = CasePaths.under(Path(config.out), plan.case_id)
    with open_db(config.db, read_only=True) as con:
        answer = build_answer(con, plan.case_id, policy, status_label=plan.status_label)
    lists = _review_lists_part(config, plan, policy)
    if not plan.publish:
        _drop_other_review_lists(paths, keep=lists)
        with _rendered_beside(lambda: _render_review_lists(answer, lists), "the review copy's lists"):
            front = _render_review_front(answer, paths, lists)
        _write_review_copy(front, lists, paths)
        return
    with _rendered_beside(lambda: _write_review_copy(_render_review_front(answer, paths, lists), lists, paths,
                                                     answer=answer), "the review copy"):
        publish(answer, paths)
    shutil.rmtree(paths.staging_dir, ignore_errors=True)  # released: nothing waits for another run


# The review copy of a one-school case is its front (the case, flags, rules, the letter) and
# its class lists, rendered apart and merged, as a bulk case's is. The lists are two thirds of
# the work and the same on every run with the same decisions: rendered when the case is
# screened, they wait in the private staging folder, and approval (which changes the front
# only: who approved, when) merges them with a new front instead of laying them out again.


def _review_lists_part(config: RunConfig, plan: Plan, policy: Policy) -> Path | None:
    """Where the review copy's class lists wait between runs, named by the decisions (the
    staging folder), the policy and the code that rendered them. None for a case released
    without review: nothing in it was withheld or flagged, so its lists are the public
    answer's, and the copy names them instead (as a bulk case does for its lists without
    remarks)."""
    if plan.publish and not plan.review_classes:
        return None
    key = f"{policy.sha256[:12]}-{render.code_fingerprint()[:12]}"
    return staging_dir(config, plan) / "internal" / f"_lists-{key}.pdf"


def _drop_other_review_lists(paths: CasePaths, keep: Path | None) -> None:
    """Lists rendered for decisions since changed (a reviewer's release or withhold)."""
    for old in paths.staging_dir.glob("*/internal/_lists-*.pdf"):
        if old != keep:
            old.unlink(missing_ok=True)


def _render_review_lists(answer: Answer, lists: Path | None) -> None:
    if lists is not None and not lists.exists():
        with atomic_target(lists, private=True) as tmp:
            render.render_review_pdf(answer, tmp, front=False)


def _render_review_front(answer: Answer, paths: CasePaths, lists: Path | None) -> Path:
    """The front, in the staging folder; without lists (None), the whole copy, which names the
    classes instead (and counts its pages as a whole document does)."""
    front = paths.staging_dir / f"_review_front-{uuid.uuid4().hex}.pdf"  # this run's, whatever else runs
    with atomic_target(front, private=True) as tmp:
        if lists is None:
            render.render_review_pdf(answer, tmp, with_remarks=frozenset())
        else:
            render.render_review_pdf(answer, tmp, lists=False)
    return front


def _write_review_copy(front: Path, lists: Path | None, paths: CasePaths, answer: Answer | None = None) -> None:
    """The front and the lists merged into the case's review copy; `answer`: render the lists
    first if no earlier run left them (an approval after the staging folder was removed)."""
    if answer is not None:
        _render_review_lists(answer, lists)
    if lists is None:
        move_into_place(front, paths.review_pdf, private=True)
        return
    with atomic_target(paths.review_pdf, private=True) as tmp:
        pages = _merge([front, lists], tmp)
        if len(PdfReader(tmp).pages) != pages:
            raise RuntimeError("the merged review copy lost pages")
    front.unlink(missing_ok=True)


@contextmanager
def _rendered_beside(render_document, name: str):
    """Render a document in a forked copy of this process while the block runs.

    A one-school case has two documents, the answer and the review copy, and the machine two
    cores or more. The copy has WeasyPrint, its fonts and the answer in memory already, so it
    starts in milliseconds (a new process would import everything again), touches nothing but
    its file, and leaves with os._exit, so nothing of Prefect's runs in it. It says only
    that it failed and the exception's type: the document's values stay out of every message.
    """
    import multiprocessing

    child = multiprocessing.get_context("fork").Process(target=_render_in_child, args=(render_document,),
                                                        name=f"innsyn: {name}")
    child.start()
    try:
        yield
    finally:
        child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"rendering {name} failed (exit code {child.exitcode}; see above for its type)")


def _render_in_child(render_document) -> None:
    try:
        render_document()
    except BaseException as error:  # noqa: BLE001 - the type only: a message could quote a value
        print(f"innsyn: rendering failed: {type(error).__name__}", file=sys.stderr, flush=True)
        os._exit(1)


def render_school(plan: Plan, school_id: str, config: RunConfig) -> bool:
    """One school's lists of a bulk case: the public part, gated, and the review part.

    Both are rendered whether or not this run publishes: while the case awaits review, the
    public parts wait in the private staging folder, named by the hash of the decisions, so
    approval only merges them (a reviewer's change to a decision changes the hash and renders
    everything again). The review part holds only the classes with remarks, and is left out
    for a school without any. Returns True when an earlier run had already done the school.
    """
    parts = school_parts(staging_dir(config, plan), plan, school_id)
    if all(part.exists() for part in parts.values()):
        return True
    policy = load_policy(config.policy)
    with open_db(config.db, read_only=True) as con:
        render_school_parts(con, plan, school_id, policy, parts,
                            withheld=_case_withheld_values(con, config, plan),
                            case_wide=_case_wide(con, config, plan, policy))
    return False


@task(**TASK_OPTIONS)
def render_schools(plan: Plan, school_ids: tuple[str, ...], config: RunConfig) -> int:
    """A batch of a bulk case's schools, one after the other (`render_school`); returns how
    many of them an earlier run had already done.

    Schools go to the pool in batches, not one task each: a task run costs its worker about
    half a CPU second before the task's body starts (Prefect rebuilds its settings from the
    environment, a new API client with its TLS context, the task run engine) and the flow's
    process and the Prefect server more for its events; a municipal case's 201 task runs
    spent a tenth of the whole case on that (`batches` says how they are cut)."""
    return sum(render_school(plan, school_id, config) for school_id in school_ids)


def batches(schools: list[str], workers: int) -> list[tuple[str, ...]]:
    """`schools` in batches for `workers` pool workers, largest first: each batch takes a
    quarter of a worker's share of what is left, so the batches shrink towards the end and
    the workers finish together (the last ones are single schools). 201 schools on 2 workers
    are 36 batches (25 schools the first, the last 15 one each); 20 schools 17; up to 9, one each."""
    left, cut = list(schools), []
    while left:
        size = max(1, len(left) // (4 * max(1, workers)))
        cut.append(tuple(left[:size]))
        del left[:size]
    return cut


#: What a worker process read of the last case it rendered: (what, database, case, data hash,
#: policy) -> the value. A pool worker renders many schools of one case.
_read_for_case: dict[tuple, object] = {}


def _once_per_case(what: str, config: RunConfig, plan: Plan, policy_sha256: str, read):
    """`read()` once per worker process for this case and these decisions; its value after.

    Keyed by the hash of the decisions (every item's id, value and decision) and the policy,
    so a changed decision or policy reads again; only the last case is kept, in the worker's
    memory, as it was for the length of each task."""
    key = (what, str(config.db), plan.case_id, plan.data_hash, policy_sha256)
    if key not in _read_for_case:
        for old in [k for k in _read_for_case if k[0] == what]:
            del _read_for_case[old]
        _read_for_case[key] = read()
    return _read_for_case[key]


def _case_wide(con, config: RunConfig, plan: Plan, policy: Policy) -> CaseWide:
    """The case-wide parts of the answer (innsyn.case_documents.CaseWide): every school's part
    needs the whole case's counts, flags and household notes, ≈ 0.12 CPU s a school on a
    municipal case when each task read them."""
    return _once_per_case("case wide", config, plan, policy.sha256,
                          lambda: read_case_wide(con, plan.case_id, policy))


def _case_withheld_values(con, config: RunConfig, plan: Plan) -> dict[str, str]:
    """The case's withheld values (item id -> value): every school's part is gated against
    every withheld value of the case, 0.2 CPU s a school on a municipal case (a scan of the
    case's decisions with a self-join) when each task read them."""
    return _once_per_case("withheld", config, plan, "", lambda: dict(
        con.execute(sql("case_withheld_values"), {"case_id": plan.case_id}).fetchall()))


def school_parts(folder: Path, plan: Plan, school_id: str) -> dict[str, Path]:
    """Where one school's parts go: the public part, and the review part when the school has
    a class with remarks."""
    parts = {"public": folder / "public" / f"{school_id}.pdf"}
    if school_id in plan.review_schools:
        parts["internal"] = folder / "internal" / f"{school_id}.pdf"
    return parts


def render_school_parts(con, plan: Plan, school_id: str, policy: Policy, parts: dict[str, Path],
                        withheld: dict[str, str] | None = None, case_wide: CaseWide | None = None) -> None:
    """Render the parts of `parts` not yet there from the case's rows in `con`: the case's
    database, or a work-pool worker's snapshot of one school (innsyn.pool.parts). `withheld`
    and `case_wide`: the case's withheld values and the case-wide parts of its answer, when
    the caller has them already (read from `con` if not)."""
    answer = build_answer(con, plan.case_id, policy, status_label=plan.status_label, school_id=school_id,
                          case_wide=case_wide)
    if withheld is None:
        withheld = dict(con.execute(sql("case_withheld_values"), {"case_id": plan.case_id}).fetchall())
    if "internal" in parts and not parts["internal"].exists():
        # no status label in a school's part: the same part serves the review and the release
        with atomic_target(parts["internal"], private=True) as tmp:
            render.render_review_pdf(answer, tmp, front=False, with_remarks=frozenset(plan.review_classes))
    if not parts["public"].exists():
        released, namesakes = released_values(answer)
        with atomic_target(parts["public"], private=True) as tmp:
            render.render_public_pdf(public_answer(answer), tmp, front=False)
            leak_gate.check_pdf(tmp, withheld, released, namesakes=namesakes)


@task(**TASK_OPTIONS)
def render_fronts(plan: Plan, config: RunConfig) -> None:
    """The letter (public) and the case summary (review copy) of a bulk case."""
    staging = staging_dir(config, plan)
    policy = load_policy(config.policy)
    with open_db(config.db, read_only=True) as con:
        answer = build_answer(con, plan.case_id, policy, status_label=plan.status_label, rows=False)
    with atomic_target(staging / "internal" / "_front.pdf", private=True) as tmp:
        render.render_review_pdf(answer, tmp, lists=False, with_remarks=frozenset(plan.review_classes))
    if plan.publish:
        with atomic_target(staging / "public" / "_front.pdf", private=True) as tmp:
            render.render_public_pdf(public_answer(answer), tmp, lists=False)


@task(**TASK_OPTIONS)
def merge_parts(plan: Plan, config: RunConfig) -> None:
    """Merge front + school parts; gate the merged file's metadata and bookmarks; publish.

    On release there are two documents to merge, each a single-threaded pypdf job of seconds
    (the 200-school answer: 7,700 pages, 10 s with its checks): the review copy is merged in
    a forked copy of this process while this one merges the answer."""
    staging = staging_dir(config, plan)
    with open_db(config.db, read_only=True) as con:
        withheld = dict(con.execute(sql("case_withheld_values"), {"case_id": plan.case_id}).fetchall())
    if plan.kinds == ("internal", "public"):
        with _rendered_beside(partial(_merge_kind, plan, config, staging, "internal", withheld),
                              "the merged review copy"):
            _merge_kind(plan, config, staging, "public", withheld)
    else:
        for kind in plan.kinds:
            _merge_kind(plan, config, staging, kind, withheld)
    if plan.publish:
        shutil.rmtree(CasePaths.under(Path(config.out), plan.case_id).staging_dir, ignore_errors=True)


def _merge_kind(plan: Plan, config: RunConfig, staging: Path, kind: str, withheld: dict[str, str]) -> None:
    """Merge one document's parts, check it, and move it into place."""
    paths = CasePaths.under(Path(config.out), plan.case_id)
    target = {"internal": paths.review_pdf, "public": paths.public_pdf}[kind]
    schools = plan.schools if kind == "public" else plan.review_schools
    parts = [staging / kind / "_front.pdf", *(staging / kind / f"{s}.pdf" for s in schools)]
    merged = staging / kind / "_merged.pdf"
    with atomic_target(merged, private=True) as tmp:
        pages = _merge(parts, tmp)
    if len(PdfReader(merged).pages) != pages:
        raise RuntimeError(f"case {plan.case_id}: the merged {kind} answer lost pages")
    if kind == "public":
        # every page's text was gated in its part; what merging adds is checked here
        leak_gate.check_pdf(merged, withheld, page_text=False)
    move_into_place(merged, target, private=kind == "internal")


def _merge(parts: list[Path], target: Path) -> int:
    """Concatenate PDFs, keeping the first one's PDF/A metadata and every part's bookmarks."""
    writer = PdfWriter(clone_from=str(parts[0]))
    for part in parts[1:]:
        writer.append(str(part))
    with open(target, "wb") as handle:
        writer.write(handle)
    return len(writer.pages)


@task(**TASK_OPTIONS)
def finish(plan: Plan, config: RunConfig, reused: int = 0) -> None:
    """Record the release: status, paths, and an event with the count of values gated (read
    here, in the case's own record: it counts what leaves no trace)."""
    policy = load_policy(config.policy)
    paths = CasePaths.under(Path(config.out), plan.case_id)
    with open_db(config.db, read_only=True) as con:
        outcome = build_answer(con, plan.case_id, policy, rows=False).outcome
        (checked,) = con.execute("SELECT count(*) FROM case_items WHERE case_id = ? AND decision = 'withhold'",
                                 [plan.case_id]).fetchone()
    now = clock.now()
    with open_db(config.db) as con, transaction(con):
        cases.set_status(con, plan.case_id, "released", outcome=outcome, public_pdf=str(paths.public_pdf),
                         review_pdf=str(paths.review_pdf), released_at=now)
        cases.record_event(con, plan.case_id, "released", plan.approved_by or config.actor, now,
                           policy_version=policy.version, data_hash=plan.data_hash,
                           detail={"leak_gate_values_checked": checked, "schools": len(plan.schools),
                                   "schools_reused_from_earlier_run": reused})


@flow(name="render-answer", task_runner=ProcessPoolTaskRunner(), **FLOW_OPTIONS)
def render_answer(case_id: str, config: RunConfig, approved_by: str | None = None, publish: bool = True) -> None:
    """Render the review copy and, when `publish`, gate and release the public answer."""
    plan = prepare(case_id, config, approved_by, publish)
    reused = 0
    if not plan.bulk:
        render_whole(plan, config)
    else:
        with _workers_share_this_server():
            if config.exchange:  # on a work pool's workers, from snapshots (innsyn.pool.parts)
                from innsyn.pool.parts import render_schools_on_workers

                fronts = render_fronts.submit(plan, config)
                reused = render_schools_on_workers(plan, config)
                fronts.result()
            else:
                reused = _render_schools_in_pool(plan, config)
        merge_parts(plan, config)
    if publish:
        finish(plan, config, reused)


def render_case(case_id: str, config: RunConfig, approved_by: str | None = None, publish: bool = True) -> None:
    """`render_answer`, called from the request's flow: a one-school case's steps run right
    in that flow run, a bulk case in the render-answer subflow and its process pool.

    A one-school case is two documents and seconds of work, in front of the case handler who
    asked for it: a subflow run of its own (created, its task runner started, finished) cost
    a quarter of a second more, and showed nothing the request's flow run does not.
    """
    with open_db(config.db, read_only=True) as con:
        (schools,) = con.execute(
            "SELECT count(DISTINCT school_id) FROM case_classes WHERE case_id = ?", [case_id]).fetchone()
    if schools > 1:
        render_answer(case_id, config, approved_by, publish)
        return
    plan = prepare(case_id, config, approved_by, publish)
    render_whole(plan, config)
    if publish:
        finish(plan, config)


def _render_schools_in_pool(plan: Plan, config: RunConfig) -> int:
    """Render the schools whose parts are not in the staging folder yet, in batches in the
    process pool (`render_schools`), and the fronts (letter, review summary) beside them.
    Returns how many schools an earlier run had already rendered.

    A school already rendered is not sent to the pool at all. On approval of a case whose parts
    were rendered while it awaited review that is every school: task runs that would only
    find their files (each a round of Prefect bookkeeping in a worker and in the server) and two
    worker processes started for them. With nothing for the pool, the fronts render in the
    flow's own process.
    """
    staging = staging_dir(config, plan)
    pending = [school_id for school_id in plan.schools if not _school_done(staging, plan, school_id)]
    reused = len(plan.schools) - len(pending)
    if not pending:
        render_fronts(plan, config)
    elif _classes_of(config, plan, pending) < pool_from_classes():
        render_fronts(plan, config)
        try:
            reused += render_schools(plan, tuple(pending), config)
        finally:  # what a pool worker keeps of a case dies with it; this process may live on (the desk)
            _read_for_case.clear()
    else:
        fronts = render_fronts.submit(plan, config)
        futures = [render_schools.submit(plan, batch, config) for batch in batches(pending, _pool_workers())]
        reused += _wait_with_progress(futures, pending, plan, config)
        fronts.result()
    get_run_logger().info("case %s: %d schools rendered (%d from an earlier run)",
                          plan.case_id, len(plan.schools), reused)
    return reused


#: Fewer classes than this to render, and a bulk case's schools render in the flow's own
#: process, one task run, instead of the pool: each pool worker is a new Python process that
#: imports Prefect and WeasyPrint (2.7 CPU s) before its first school, which only pays back
#: from about this many classes on two cores (benchmarks/run.py --section small-bulk).
POOL_FROM_CLASSES = 20


def pool_from_classes() -> int:
    """`POOL_FROM_CLASSES`, or $INNSYN_POOL_FROM_CLASSES (1: always the pool)."""
    value = os.environ.get("INNSYN_POOL_FROM_CLASSES", "")
    return int(value) if value.isdigit() else POOL_FROM_CLASSES


def _classes_of(config: RunConfig, plan: Plan, school_ids: list[str]) -> int:
    with open_db(config.db, read_only=True) as con:
        (classes,) = con.execute(sql("case_classes_of_schools"),
                                 {"case_id": plan.case_id, "school_ids": school_ids}).fetchone()
    return classes


def _pool_workers() -> int:
    """How many worker processes the flow's ProcessPoolTaskRunner() starts (its own default)."""
    import multiprocessing

    from prefect.settings import get_current_settings

    return get_current_settings().tasks.runner.process_pool_max_workers or multiprocessing.cpu_count()


def _school_done(staging: Path, plan: Plan, school_id: str) -> bool:
    return all(part.exists() for part in school_parts(staging, plan, school_id).values())


def _wait_with_progress(futures: list, pending: list[str], plan: Plan, config: RunConfig,
                        poll_seconds: float = 1.0) -> int:
    """Wait for every batch sent to the pool, showing progress by school in Prefect and (from
    the CLI) on stderr: a school is done when its parts are in the staging folder. Returns how
    many of the schools an earlier run had already rendered (a part that appeared in the
    meantime). A failed batch fails the case; finished parts stay for a re-run."""
    total = len(pending)
    staging = staging_dir(config, plan)
    artifact = create_progress_artifact(0.0, key=None, description=f"Case {plan.case_id}: schools rendered")
    started, shown = time.monotonic(), 0

    def show(count: int) -> None:
        nonlocal shown
        if count != shown:
            shown = count
            update_progress_artifact(artifact, 100.0 * count / total)
            if config.progress:
                _progress_bar(count, total, time.monotonic() - started)

    reused, waiting = 0, list(futures)
    while waiting:
        waiting[0].wait(poll_seconds)  # the first batches sent end first
        for future in [future for future in waiting if future.wrapped_future.done()]:
            reused += future.result()  # a failed batch fails the case at once; finished parts stay
            waiting.remove(future)
        show(total if not waiting else sum(_school_done(staging, plan, school_id) for school_id in pending))
    if config.progress:
        print(file=sys.stderr)
    return reused


@contextmanager
def _workers_share_this_server():
    """Point the pool's worker processes at this run's Prefect server.

    Run from the command line without PREFECT_API_URL, the flow talks to a temporary server
    that lives in this process. Workers get this process's settings, not its server: each
    would start a temporary server of its own (20 s and 300 MB apiece on a busy 2-core
    machine) and report its task runs there, out of sight. Naming the server's URL in the
    settings the pool hands its workers sends every task run to the flow run's server.
    """
    if PREFECT_API_URL.value():
        yield  # a real server (or the test harness): workers already reach it
        return
    with get_client(sync_client=True) as client:
        url = str(client.api_url).rstrip("/")
    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


def _progress_bar(done: int, total: int, elapsed: float) -> None:
    width = 30
    filled = width * done // total
    rate = done / elapsed if elapsed else 0.0
    print(f"\r  rendering [{'#' * filled}{'.' * (width - filled)}] {done}/{total} schools"
          f"  {rate:.1f}/s", end="", file=sys.stderr, flush=True)


def _approval(con, case_id: str) -> tuple[str, datetime] | None:
    """Who approved the case and when, if anyone (a release resumed after a crash still
    credits them)."""
    return con.execute(
        """SELECT actor, occurred_at FROM case_events WHERE case_id = ? AND event = 'approved'
           ORDER BY event_id DESC LIMIT 1""",
        [case_id],
    ).fetchone()


def _confirmers(con, case_id: str) -> tuple[str, ...]:
    """The second reviewers who confirmed a release in this case, in the order they did."""
    return tuple(actor for (actor,) in con.execute(
        """SELECT actor FROM case_events WHERE case_id = ? AND event = 'release_confirmed'
           GROUP BY actor ORDER BY min(event_id)""", [case_id]).fetchall())


def approval_label(approved_by: str, at: datetime, confirmed_by: tuple[str, ...] = ()) -> str:
    """`Godkjent av Lise Jurist 2. desember 2026 kl. 10.15; frigivelser bekreftet av Ola Jurist`:
    the review copy is the record, so the approval carries its date and its second reviewers."""
    local = at.astimezone(clock.OSLO)
    label = f"Godkjent av {approved_by} {render.norsk_dato(local.date())} kl. {local:%H.%M}"
    if confirmed_by:
        label += f"; frigivelser bekreftet av {' og '.join(confirmed_by)}"
    return label


def _check_same_policy(con, case_id: str, policy: Policy) -> None:
    (recorded,) = con.execute("SELECT policy_hash FROM cases WHERE case_id = ?", [case_id]).fetchone()
    if recorded != policy.sha256:
        raise RuntimeError(
            f"case {case_id} was screened under another policy (sha256 {recorded[:12]}); "
            f"the policy in force is {policy.label}: run `innsyn process` again to re-screen"
        )


if __name__ == "__main__":
    render_answer.serve(name="render-answer")
