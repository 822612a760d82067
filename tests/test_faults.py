"""Faults and concurrency: a case survives being killed, and many processes share one file.

- SIGKILL in every stage: `innsyn process` is killed (no clean-up, no `finally`) once in each
  stage of its run, each time on a new case: during start-up (Python, Prefect, the request
  check), right after the case is registered, right after it is screened, in the middle of
  rendering and gating, and after the answer is published but before the release is
  recorded; the stage is found from the run's own log, the moment within it is random.
  After each kill a re-run completes the case exactly once: one case row, one `received` and
  one `released` event and nothing after it, a whole public PDF that passes the leak gate,
  and no temporary file in a public folder where a reader could take it for an answer. The
  rename into the public folder, the worst moment, has a test of its own that dies exactly
  there.
- Many `innsyn process` processes at once against one DuckDB file (DuckDB lets one process
  write at a time): every one exits 0, no lock error reaches the user, no event is lost, and
  the runs take turns step by step (their cases' events interleave), not a whole run each.

Every `innsyn` process here talks to the session's Prefect test server. The fast profile
(one kill per stage, six processes at once) runs in CI; INNSYN_SOAK=1 runs the long one,
eight kills per stage at moments spread over each stage and sixteen processes at once
(README, "Hardening"). INNSYN_FAULT_SEED replays a run's kill times.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pypdf import PdfReader

from innsyn import db as innsyn_db
from innsyn.leak_gate import find_leaks

from conftest import INNSYN, canary_export, innsyn, innsyn_env, write_request

SOAK = os.environ.get("INNSYN_SOAK") == "1"
ROUNDS = 8 if SOAK else 1  # kills per stage
# processes at once. Six contend for the file's lock as surely as sixteen (they start together
# and each opens the file a dozen times); sixteen, in the long profile, cost 80 CPU seconds
CONCURRENT = 16 if SOAK else 6
SEED = int(os.environ.get("INNSYN_FAULT_SEED") or time.time_ns() % 1_000_000)
LOCK_ERROR = re.compile(r"\block", re.IGNORECASE)  # "lock", "locked"; not "block"


@pytest.fixture
def workdir(tmp_path: Path, prefect_api_url) -> Path:
    """A database with the canary export, and a policy under which 5B is released without
    review: every case runs the whole way, through render, leak gate and publish."""
    result = innsyn(tmp_path, prefect_api_url, "db", "import", str(canary_export(tmp_path / "export")))
    assert result.returncode == 0, result.stderr
    standard = (Path(innsyn_db.__file__).parent.parent / "policies" / "standard.toml").read_text(encoding="utf-8")
    (tmp_path / "no-review.toml").write_text(
        standard.replace("requires_review = true", "requires_review = false")
        .replace("review_consent_conflicts = true", "review_consent_conflicts = false")
        .replace("review_refusals = true", "review_refusals = false")
        .replace("min_released_pupils = 3", "min_released_pupils = 0"), encoding="utf-8")
    return tmp_path


def start(workdir: Path, prefect_api_url: str, number: int, **env: str) -> subprocess.Popen:
    request = write_request(workdir / f"request-{number}.json", request_id=f"2026/{number}")
    return subprocess.Popen(
        [INNSYN, "process", "--policy", str(workdir / "no-review.toml"), str(request)],
        cwd=workdir, env={**innsyn_env(workdir, prefect_api_url), **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def finish(process: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


# ----------------------------------------------------------------------------- what must hold


def case_state(db: Path, case_id: str) -> tuple[list[tuple], list[str]]:
    with innsyn_db.open_db(db, read_only=True) as con:
        rows = con.execute("SELECT status, public_pdf FROM cases WHERE case_id = ?", [case_id]).fetchall()
        events = [e for (e,) in con.execute(
            "SELECT event FROM case_events WHERE case_id = ? ORDER BY event_id", [case_id]).fetchall()]
    return rows, events


def assert_released_exactly_once(workdir: Path, case_id: str, context: str) -> None:
    db = workdir / "innsyn.duckdb"
    rows, events = case_state(db, case_id)
    assert len(rows) == 1, context
    status, public_pdf = rows[0]
    assert status == "released", context
    counts = Counter(events)
    assert counts["received"] == 1 and counts["released"] == 1, (context, events)
    assert events[0] == "received" and events[-1] == "released", (context, events)
    assert counts["screened"] >= 1, (context, events)
    assert_whole_and_clean(Path(public_pdf), db, case_id, context)


def assert_whole_and_clean(pdf: Path, db: Path, case_id: str, context: str) -> None:
    """The public answer is a whole PDF that passes the leak gate."""
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF"), context
    assert len(PdfReader(pdf).pages) >= 2, context
    with innsyn_db.open_db(db, read_only=True) as con:
        items = con.execute("SELECT item_id, value, decision FROM case_items WHERE case_id = ?", [case_id]).fetchall()
    withheld = {item_id: value for item_id, value, decision in items if decision == "withhold"}
    released = [value for _, value, decision in items if decision == "release"]
    assert withheld, context  # the canaries are there to be withheld
    assert find_leaks(pdf, withheld, released) == [], context


def assert_nothing_half_written_in_public(workdir: Path, context: str) -> None:
    public = workdir / "out" / "public"
    stray = [p for p in public.rglob("*") if p.is_file() and p.name != "svar.pdf"] if public.exists() else []
    assert stray == [], (context, stray)


# ----------------------------------------------------------------------------- SIGKILL


def wait_for_line(process: subprocess.Popen, *markers: str, timeout: float) -> bool:
    """Read the process's log until a line holds every marker; False if it ended or timed out first."""
    deadline = time.monotonic() + timeout
    for line in process.stderr:
        if all(marker in line for marker in markers):
            return True
        if time.monotonic() > deadline:
            break
    return False


# Where a kill lands, in the order of a run (a one-school case released without review):
# (stage, the task whose "Finished" log line begins it, the seconds over which its kills are
# spread). A stage of a few hundred milliseconds has a spread of 0: the kill comes the moment
# it begins, before it can end; the long profile spreads its kills over the longer stages.
STAGES = [
    ("start-up: Python, Prefect, the request check", None, 2.0),
    ("registered, before screening", "register", 0.5),
    ("screened, before rendering", "screen", 0.5),
    ("rendering, gating and publishing the answer", "prepare", 1.5),
    ("published, before the release is recorded", "render_whole", 0.0),
]


def kill_and_rerun(workdir: Path, prefect_api_url: str, number: int, kill_at: tuple[int, float], context: str) -> str:
    """Start a case, SIGKILL it in stage `kill_at[0]` (of STAGES), `kill_at[1]` seconds after the
    stage began, re-run it; returns where the kill caught it (from the case's events)."""
    stage, delay = kill_at
    _, after_task, _ = STAGES[stage]
    process = start(workdir, prefect_api_url, number)
    try:
        if after_task is None:
            delay += 0.5  # at least Python itself has started
        else:
            # the line Prefect logs when the task run has ended
            if not wait_for_line(process, f"Task run '{after_task}-", "Finished in state", timeout=300):
                raise subprocess.TimeoutExpired(process.args, 0)  # kill it now, wherever it is
        process.wait(timeout=delay)
        caught = "finished before the kill"
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        _, events = case_state(workdir / "innsyn.duckdb", f"2026-{number}")
        caught = f"after {events[-1]}" if events else "before register"
        if (workdir / "out" / "public" / f"2026-{number}" / "svar.pdf").exists():
            caught += ", answer published"
    process.stdout.close()
    process.stderr.close()

    code, out, err = finish(start(workdir, prefect_api_url, number))

    assert code == 0, (context, err)
    assert json.loads(out)["status"] == "released", context
    assert_released_exactly_once(workdir, f"2026-{number}", context)
    return caught


def test_a_case_killed_in_any_stage_is_completed_exactly_once_by_a_rerun(workdir, prefect_api_url):
    rng = random.Random(SEED)
    # round r of a stage waits in the r-th slice of the stage's spread: the kills cover all of it
    kill_at = [(stage, spread * (r + rng.random()) / ROUNDS)
               for r in range(ROUNDS) for stage, (_, _, spread) in enumerate(STAGES)]
    rng.shuffle(kill_at)
    # two at a time on the same database: a kill may also catch a process holding its lock
    with ThreadPoolExecutor(max_workers=2) as pool:
        caught = list(pool.map(
            lambda kill: kill_and_rerun(workdir, prefect_api_url, 200 + kill, kill_at[kill],
                                        f"seed {SEED}, kill {kill} in {STAGES[kill_at[kill][0]][0]!r} "
                                        f"+{kill_at[kill][1]:.2f}s"),
            range(len(kill_at))))

    assert_nothing_half_written_in_public(workdir, f"seed {SEED}")
    by_stage = Counter(f"{STAGES[stage][0]}: {where}" for (stage, _), where in zip(kill_at, caught))
    print(f"\nfaults: {len(kill_at)} SIGKILLs (seed {SEED}); caught: {dict(by_stage)}")


def test_a_kill_at_the_moment_of_publishing_leaves_nothing_in_the_public_folder(workdir, prefect_api_url):
    """The worst moment: the answer is rendered, checked and written, and about to be renamed."""
    hook = {"PYTHONPATH": str(Path(__file__).parent / "fault_injection"), "INNSYN_KILL_AT_RENAME": "/public/"}
    code, _, _ = finish(start(workdir, prefect_api_url, 300, **hook))

    assert code == -signal.SIGKILL
    rows, events = case_state(workdir / "innsyn.duckdb", "2026-300")
    assert rows[0][0] == "screened" and "released" not in events
    public = workdir / "out" / "public"
    assert not public.exists() or [p for p in public.rglob("*") if p.is_file()] == []

    code, out, err = finish(start(workdir, prefect_api_url, 300))
    assert code == 0, err
    assert_released_exactly_once(workdir, "2026-300", "after a kill at the rename")
    assert_nothing_half_written_in_public(workdir, "after a kill at the rename")


@pytest.mark.parametrize("kill_at", [
    "/intern.pdf",  # the review copy is whole under its part-file name, about to be renamed
    "intern.pdf",   # earlier: the renderer's own part-file, inside ours, is about to become it
])
def test_a_part_file_left_by_a_run_killed_while_writing_the_review_copy_is_removed_by_the_rerun(
        workdir, prefect_api_url, kill_at):
    """A kill runs no clean-up: the part-files stay behind; the re-run of the case removes
    them. Under the standard policy 5B waits for review, so the review copy is written in
    the command's own process, the one the kill hits."""
    request = write_request(workdir / "request-400.json", request_id="2026/400")

    def run(**env: str) -> tuple[int, str, str]:
        return finish(subprocess.Popen([INNSYN, "process", str(request)], cwd=workdir,
                                       env={**innsyn_env(workdir, prefect_api_url), **env},
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))

    code, _, err = run(PYTHONPATH=str(Path(__file__).parent / "fault_injection"), INNSYN_KILL_AT_RENAME=kill_at)

    assert code == -signal.SIGKILL, err
    internal = workdir / "out" / "internal" / "2026-400"
    left = sorted(internal.glob(".*intern.pdf.*.part"))
    assert left and not (internal / "intern.pdf").exists()
    assert sum(part.stat().st_size for part in left) > 0  # half-written, not empty placeholders only

    code, out, err = run()

    assert code == 0, err
    assert json.loads(out)["status"] == "awaiting_review"
    assert not [part for part in left if part.exists()]
    assert (internal / "intern.pdf").read_bytes().startswith(b"%PDF-")
    _, events = case_state(workdir / "innsyn.duckdb", "2026-400")
    assert Counter(events)["received"] == 1 and events[-1] == "awaiting_review", events
    assert not [p for p in (workdir / "out").rglob("*.part")], "no part-file anywhere"


WRITER = """
import sys, time
from pathlib import Path
from innsyn.files import atomic_target
with atomic_target(Path(sys.argv[1]), private=True) as tmp:
    tmp.write_bytes(b"half a review copy")
    print("writing", flush=True)
    time.sleep(600)
"""


def test_a_part_file_a_live_process_is_writing_is_left_alone(tmp_path):
    from innsyn.files import atomic_target

    target = tmp_path / "internal" / "2026-1" / "intern.pdf"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "writing\n"
        (live,) = target.parent.glob(".intern.pdf.*.part")

        with atomic_target(target, private=True) as tmp:  # another run writes the same file meanwhile
            tmp.write_bytes(b"%PDF- whole")

        assert live.exists()  # still being written: not this run's to remove
        assert target.read_bytes() == b"%PDF- whole"
    finally:
        writer.kill()
        writer.wait()
    with atomic_target(target, private=True) as tmp:  # its writer is gone: now it is stale
        tmp.write_bytes(b"%PDF- again")
    assert not live.exists() and not list(target.parent.glob("*.part"))


# ----------------------------------------------------------------------------- many at once


def runs_in_blocks(events: list[tuple[str, str]]) -> bool:
    """Every case's events one after another, none of another case's among them."""
    seen: list[str] = []
    for case_id, _ in events:
        if not seen or seen[-1] != case_id:
            seen.append(case_id)
    return len(seen) == len(set(seen))


def test_many_processes_share_one_database_without_lock_errors_or_lost_events(workdir, prefect_api_url):
    began = time.monotonic()
    # The test server keeps its state in SQLite, which answers 503 while 16 clients write at
    # once; Prefect's client retries those, given enough tries (a production server uses Postgres).
    processes = [start(workdir, prefect_api_url, 500 + n, PREFECT_CLIENT_MAX_RETRIES="12")
                 for n in range(CONCURRENT)]
    results = [finish(process) for process in processes]
    wall = time.monotonic() - began

    for number, (code, out, err) in enumerate(results, start=500):
        assert code == 0, (number, err)
        assert not LOCK_ERROR.search(err), (number, err)
        assert json.loads(out)["status"] == "released", number
    with innsyn_db.open_db(workdir / "innsyn.duckdb", read_only=True) as con:
        (cases,) = con.execute("SELECT count(*) FROM cases").fetchone()
        events = con.execute("SELECT case_id, event FROM case_events ORDER BY event_id").fetchall()
    assert cases == CONCURRENT
    assert Counter(event for _, event in events) == {
        "received": CONCURRENT, "screened": CONCURRENT, "released": CONCURRENT}
    for n in range(CONCURRENT):
        assert_released_exactly_once(workdir, f"2026-{500 + n}", f"case {500 + n}")
    # they took turns step by step: some case was received while another was between its
    # receipt and its release (a process that held the file for its whole run would leave
    # each case's events in one block, and, with many, the last ones waiting past the lock wait)
    assert not runs_in_blocks(events), events
    print(f"\nconcurrency: {CONCURRENT} processes, one DuckDB file, {wall:.1f}s wall time")


# ----------------------------------------------------------------------------- through the service
# The same guarantees when the commands hand their work to the background service
# (innsyn.service): what dies now is the service, in the middle of a flow run; the command
# says so in one line and the next one starts a fresh service and completes the case.

# two kills, stratified over a warm run: one early (the command handed over, the case being
# registered and screened), one late (rendering, gating, publishing, releasing)
SERVICE_KILLS = 16 if SOAK else 2
SERVICE_GONE = "the innsyn service stopped while it ran the command"


def service_pid(workdir: Path) -> int:
    from innsyn.service import paths

    return paths.read_state(paths.state_path(workdir / "innsyn.duckdb"))["pid"]


def test_a_service_killed_at_any_point_of_a_run_leaves_a_case_the_next_command_completes(
        workdir, services, prefect_api_url):
    code, _, err = finish(start(workdir, prefect_api_url, 600))  # starts the service
    assert code == 0 and "starting the innsyn service" in err, err
    began = time.monotonic()
    code, _, err = finish(start(workdir, prefect_api_url, 601))
    run_time = time.monotonic() - began
    assert code == 0 and "processed by the background innsyn service" in err, err

    rng = random.Random(SEED)
    caught = []
    for kill in range(SERVICE_KILLS):
        number, context = 610 + kill, f"seed {SEED}, service kill {kill}"
        pid = service_pid(workdir)
        process = start(workdir, prefect_api_url, number)
        delay = run_time * (kill + rng.random()) / SERVICE_KILLS  # stratified over a run
        try:
            process.wait(timeout=delay)
            caught.append("finished before the kill")
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            _, events = case_state(workdir / "innsyn.duckdb", f"2026-{number}")
            caught.append(f"after {events[-1]}" if events else "before register")
        code, out, err = finish(process)
        if code != 0:  # the command outlives the service: one line, exit 1, no traceback
            assert code == 1 and SERVICE_GONE in err and "Traceback" not in err, (context, err)

        code, out, err = finish(start(workdir, prefect_api_url, number))  # a new service, the same case

        assert code == 0, (context, err)
        assert json.loads(out)["status"] == "released", context
        assert_released_exactly_once(workdir, f"2026-{number}", context)
    assert_nothing_half_written_in_public(workdir, f"seed {SEED}")
    print(f"\nservice faults: {SERVICE_KILLS} SIGKILLs of the service (seed {SEED}), a warm run {run_time:.1f}s; "
          f"caught: {dict(Counter(caught))}")


def test_a_service_killed_at_the_moment_of_publishing_leaves_nothing_in_the_public_folder(
        workdir, services, prefect_api_url):
    hook = {"PYTHONPATH": str(Path(__file__).parent / "fault_injection"), "INNSYN_KILL_AT_RENAME": "/public/"}
    code, _, err = finish(start(workdir, prefect_api_url, 700, **hook))  # the service starts with the hook

    assert code == 1 and SERVICE_GONE in err, err
    rows, events = case_state(workdir / "innsyn.duckdb", "2026-700")
    assert rows[0][0] == "screened" and "released" not in events
    public = workdir / "out" / "public"
    assert not public.exists() or [p for p in public.rglob("*") if p.is_file()] == []

    code, out, err = finish(start(workdir, prefect_api_url, 700))  # a new service, without the hook
    assert code == 0, err
    assert "starting the innsyn service" in err
    assert_released_exactly_once(workdir, "2026-700", "after the service was killed at the rename")
    assert_nothing_half_written_in_public(workdir, "after the service was killed at the rename")


def test_many_commands_at_once_start_one_service_and_lose_nothing(workdir, services, prefect_api_url):
    processes = [start(workdir, prefect_api_url, 800 + n) for n in range(CONCURRENT)]  # no service runs yet
    results = [finish(process) for process in processes]

    for number, (code, out, err) in enumerate(results, start=800):
        assert code == 0, (number, err)
        assert not LOCK_ERROR.search(err), (number, err)
        assert json.loads(out)["status"] == "released", number
    assert sum("starting the innsyn service" in err for _, _, err in results) == 1
    pids = {re.search(r"background innsyn service \(pid (\d+)\)", err).group(1) for _, _, err in results}
    assert len(pids) == 1, pids
    with innsyn_db.open_db(workdir / "innsyn.duckdb", read_only=True) as con:
        events = con.execute("SELECT case_id, event FROM case_events").fetchall()
    assert Counter(event for _, event in events) == {
        "received": CONCURRENT, "screened": CONCURRENT, "released": CONCURRENT}
    for n in range(CONCURRENT):
        assert_released_exactly_once(workdir, f"2026-{800 + n}", f"case {800 + n}")
