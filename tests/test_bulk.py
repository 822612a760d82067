"""Bulk requests: every class of every school, one letter, one merged PDF, resumable.

Two small schools stand in for Oslo. The case is rendered by the real render-answer flow
(its schools in a process pool, or, being this small, in the flow's own process), read back
with pypdf, and broken halfway once to show that finished schools are not rendered again and
nothing partial is released.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pypdf
import pytest

from innsyn.process_request import RunConfig, process_request
from innsyn import render_answer as render_answer_module
from innsyn.render_answer import render_answer

from conftest import write_request

CANARY = "Kanarifugl Hemmeligsen"


def squeeze(text: str) -> str:
    return "".join(text.split()).casefold()


def outline_titles(reader: pypdf.PdfReader) -> list:
    def walk(items):
        return [walk(item) if isinstance(item, list) else item.title for item in items]
    return walk(reader.outline)


@pytest.fixture
def two_schools(tmp_path: Path, con, register) -> RunConfig:
    register.school("S002", "Bjølsen skole")
    register.klass("3A", school_id="S002", grade=3)
    register.klass("6C", grade=6)
    register.pupil("Åse", "Sæther")
    register.pupil("Ola", "Berg", class_id="S001-6C")
    register.pupil("Ánte", "Somby", class_id="S002-3A")
    register.pupil("Kanarifugl", "Hemmeligsen", class_id="S002-3A", protection="fortrolig")
    con.close()
    write_request(tmp_path / "request.json", request_id="2026/5000", scope={"school_id": "all", "classes": "all"})
    return RunConfig(db=str(tmp_path / "innsyn.duckdb"), out=str(tmp_path / "out"), actor="saksbehandler")


def task_run_names(flow_run_id) -> list[str]:
    """The names of the task runs Prefect holds for one flow run ("render_schools-3f2", ...)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return [run.task_key.rsplit("-", 1)[0] for run in runs]


def released_event(config: RunConfig) -> dict:
    with duckdb.connect(config.db, read_only=True) as db:
        (detail,) = db.execute("SELECT detail FROM case_events WHERE event = 'released'").fetchone()
    return json.loads(detail)


def approve_in_db(config: RunConfig, case_id: str) -> None:
    from innsyn import cases, clock
    from innsyn.db import open_db
    from innsyn.policy import load_policy
    from innsyn.review import approve

    with open_db(config.db) as db:
        approve(db, cases.find_case(db, case_id), reviewer="Lise Jurist", reason=None, policy=load_policy(),
                now=clock.now())


def test_every_class_of_every_school_in_one_merged_answer(prefect_server, two_schools, tmp_path, monkeypatch):
    monkeypatch.setenv("INNSYN_POOL_FROM_CLASSES", "1")  # the schools render in the process pool
    case = process_request(str(tmp_path / "request.json"), two_schools)
    assert case.status == "awaiting_review"  # a graded address: a lawyer looks first
    approve_in_db(two_schools, case.case_id)
    render_answer(case.case_id, two_schools, approved_by="Lise Jurist")

    public = pypdf.PdfReader(Path(two_schools.out) / "public" / case.case_id / "svar.pdf")
    text = squeeze("\n".join(page.extract_text() for page in public.pages))
    assert text.count(squeeze("Svar på innsynskrav")) == 1          # one letter for the whole request
    assert all(squeeze(name) in text for name in ("Åse Sæther", "Ola Berg", "Ánte Somby"))
    assert squeeze(CANARY) not in text
    assert outline_titles(public) == ["Svar på innsynskrav",
                                      "Bjølsen skole", ["Klasseliste 3A"],
                                      "Sagene skole", ["Klasseliste 5B", "Klasseliste 6C"]]
    assert "/OutputIntents" in public.trailer["/Root"]               # the letter's PDF/A identity is kept
    # a school's part cannot know its page numbers in the merged answer: its footer names
    # the class list instead of a count that would restart at every school
    texts = [page.extract_text() for page in public.pages]
    list_pages = [text for text in texts if "Klasseliste" in text and "Vår referanse:" not in text]  # not the letter
    assert list_pages and not any("Side" in text for text in list_pages)
    assert all(text.count("Klasseliste") >= 2 for text in list_pages)  # the title and the footer
    review = pypdf.PdfReader(Path(two_schools.out) / "internal" / case.case_id / "intern.pdf")
    assert squeeze(CANARY) in squeeze("\n".join(page.extract_text() for page in review.pages))


def test_a_bulk_case_that_fails_halfway_resumes_without_redoing_schools(prefect_server, two_schools, tmp_path):
    case = process_request(str(tmp_path / "request.json"), two_schools)
    approve_in_db(two_schools, case.case_id)
    blocker = Path(two_schools.out) / "public" / case.case_id  # a file where the answer's folder must go
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")

    with pytest.raises(Exception):
        render_answer(case.case_id, two_schools, approved_by="Lise Jurist")
    with duckdb.connect(two_schools.db, read_only=True) as db:
        assert db.execute("SELECT status FROM cases").fetchone()[0] == "approved"  # not released
    assert not list(Path(two_schools.out).rglob("svar.pdf"))

    blocker.unlink()
    render_answer(case.case_id, two_schools, approved_by="Lise Jurist")
    assert released_event(two_schools)["schools_reused_from_earlier_run"] == 2
    assert (Path(two_schools.out) / "public" / case.case_id / "svar.pdf").exists()
    assert not (Path(two_schools.out) / ".staging" / case.case_id).exists()


@pytest.mark.parametrize("pool_from_classes, render_schools_runs", [("1", 2), ("", 1)], ids=["pool", "in the flow"])
def test_a_few_classes_render_in_the_flow_and_more_in_the_process_pool(
        prefect_server, two_schools, tmp_path, monkeypatch, pool_from_classes, render_schools_runs):
    """A pool worker is a new process that imports Prefect and WeasyPrint before its first
    school: a case of fewer classes than POOL_FROM_CLASSES (three here) renders its schools in
    the flow's own process, one task run; from there on, in the pool, a task run per batch
    (one school each here)."""
    monkeypatch.setenv("INNSYN_POOL_FROM_CLASSES", pool_from_classes)
    case = process_request(str(tmp_path / "request.json"), two_schools)
    shutil.rmtree(Path(two_schools.out) / ".staging" / case.case_id)  # nothing rendered before approval
    approve_in_db(two_schools, case.case_id)
    approval = render_answer(case.case_id, two_schools, approved_by="Lise Jurist", return_state=True)
    names = task_run_names(approval.state_details.flow_run_id)
    assert names.count("render_schools") == render_schools_runs and "render_fronts" in names
    assert released_event(two_schools)["schools_reused_from_earlier_run"] == 0
    assert not render_answer_module._read_for_case  # nothing of the case stays in this process
    public = pypdf.PdfReader(Path(two_schools.out) / "public" / case.case_id / "svar.pdf")
    text = squeeze("\n".join(page.extract_text() for page in public.pages))
    assert squeeze("Ánte Somby") in text and squeeze(CANARY) not in text


def test_the_review_copy_shows_in_full_only_the_classes_something_was_taken_from(
        prefect_server, two_schools, tmp_path):
    case = process_request(str(tmp_path / "request.json"), two_schools)

    review = pypdf.PdfReader(Path(two_schools.out) / "internal" / case.case_id / "intern.pdf")
    text = squeeze("\n".join(page.extract_text() for page in review.pages))
    assert squeeze(CANARY) in text                                    # 3A: a graded address, shown whole
    assert squeeze("Åse Sæther") not in text and squeeze("Ola Berg") not in text
    assert squeeze("1 av 3 klasselister har unntak") in text
    assert squeeze("Sagene skole: 5B, 6C") in text                    # the rest are named, not shown
    titles = outline_titles(review)
    assert ["Klasseliste 3A"] in titles and "Sagene skole" not in titles


def test_approval_of_a_bulk_case_reuses_the_public_parts_rendered_while_it_awaited_review(
        prefect_server, two_schools, tmp_path):
    case = process_request(str(tmp_path / "request.json"), two_schools)
    staged = sorted(p.name for p in (Path(two_schools.out) / ".staging" / case.case_id).rglob("public/*.pdf"))
    assert staged == ["S001.pdf", "S002.pdf"]                         # private, not released
    assert not list(Path(two_schools.out).rglob("svar.pdf"))

    approve_in_db(two_schools, case.case_id)
    approval = render_answer(case.case_id, two_schools, approved_by="Lise Jurist", return_state=True)
    assert released_event(two_schools)["schools_reused_from_earlier_run"] == 2
    # nothing left for the pool: no task run per school, and the fronts render in the flow itself
    assert "render_schools" not in task_run_names(approval.state_details.flow_run_id)
    assert "render_fronts" in task_run_names(approval.state_details.flow_run_id)
    public = pypdf.PdfReader(Path(two_schools.out) / "public" / case.case_id / "svar.pdf")
    assert squeeze(CANARY) not in squeeze("\n".join(page.extract_text() for page in public.pages))


def test_case_wide_parts_read_once_give_the_same_answer(tmp_path: Path, con, register):
    """A pool worker hands `build_answer` the case-wide parts it read once (counts, lists
    withheld in full, flags, household notes): each school's answer is the one read from
    scratch, holds that school's classes only, and its letter fields cover the whole case."""
    from datetime import datetime

    from innsyn.case_documents import build_answer, read_case_wide
    from innsyn.clock import OSLO
    from innsyn.policy import load_policy
    from innsyn.resources import sql
    from innsyn.screening import screen_case

    from conftest import FIXED_NOW, open_case

    register.school("S002", "Bjølsen skole")
    register.klass("3A", school_id="S002", grade=3)
    register.pupil("Åse", "Sæther")
    register.pupil("Kanarifugl", "Hemmeligsen", class_id="S002-3A", protection="fortrolig")
    register.pupil("Ánte", "Somby", class_id="S002-3A")
    case_id = open_case(con, tmp_path, classes="all", school_id="all")
    policy = load_policy()
    screen_case(con, case_id, policy, datetime.fromisoformat(FIXED_NOW).astimezone(OSLO))
    wide = read_case_wide(con, case_id, policy)
    whole = build_answer(con, case_id, policy)
    for school in ("S001", "S002"):
        handed = build_answer(con, case_id, policy, school_id=school, case_wide=wide)
        assert handed == build_answer(con, case_id, policy, school_id=school)
        assert handed.classes and all(c.class_id.startswith(f"{school}-") for c in handed.classes)
        assert (handed.outcome, handed.grounds, handed.flags, handed.rule_summaries) == (
            whole.outcome, whole.grounds, whole.flags, whole.rule_summaries)
        # the school's items only: the answer would be the same with every item read, only slower
        items = con.execute(sql("case_answer_items"), {"case_id": case_id, "school_id": school}).fetchall()
        assert items and {row[1] for row in items} == {c.class_id for c in handed.classes}
    assert whole.outcome == "delvis_innvilget"  # the canary's values are withheld: case-wide counts see them
    assert sum(len(build_answer(con, case_id, policy, school_id=s, case_wide=wide).classes)
               for s in ("S001", "S002")) == len(whole.classes)


def test_schools_go_to_the_pool_in_batches_largest_first_every_school_once_in_order():
    from innsyn.render_answer import batches

    schools = [f"S{n:03d}" for n in range(201)]
    cut = batches(schools, 2)
    assert [school for batch in cut for school in batch] == schools   # each once, in the answer's order
    sizes = [len(batch) for batch in cut]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] == 1    # the workers finish together
    assert len(cut) == 36                                             # not 201 task runs
    assert batches(schools[:5], 2) == [(s,) for s in schools[:5]]     # a few schools: one task each
    assert batches([], 2) == []
