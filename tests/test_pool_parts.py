"""A bulk answer's parts away from the database: what a worker gets, and what the writer takes back.

No server here (tests/test_work_pool.py runs the pool for real): the writer's snapshot of one
school is written from a real DuckDB file, the worker's rendering reads it into an in-memory
database, and the writer's gate reads the parts back. The snapshot holds one school's rows,
not the requester and not another school's; it is owner-only; the part rendered from it is
the part the database gives; a job name that leaves the exchange folder is refused; and a
part with a withheld value in it (a worker that returned the review part as the public one)
is stopped by the writer's gate, whatever the worker's own gate said.
"""

from __future__ import annotations

import shutil
import stat
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from conftest import FIXED_NOW, open_case, pdf_text
from innsyn.case_documents import classes_with_remarks
from innsyn.clock import OSLO
from innsyn.config import RunConfig
from innsyn.leak_gate import LeakFound
from innsyn.policy import DEFAULT_POLICY, load_policy
from innsyn.pool.exchange import Job, exchange_root, job_folder, job_name, load_snapshot, write_job
from innsyn.pool.parts import take_parts
from innsyn.render_answer import Plan, render_school_parts, school_parts, staging_dir
from innsyn.request import BadInput
from innsyn.screening import screen_case, summarise

GRADED = "Kanarihemmelig"
OTHER_SCHOOL = "Bjølsenkanari"


@pytest.fixture
def bulk_case(register, con, tmp_path):
    """Two schools; Sagene's 5B has a pupil with strengt fortrolig adresse."""
    register.pupil("Åse", "Sæther")
    register.pupil("Per", GRADED, protection="strengt_fortrolig",
                   guardians=[{"protection": "strengt_fortrolig", "street": "Hemmeligveien 66"}])
    register.school("S002", "Bjølsen skole")
    register.klass("3A", school_id="S002", grade=3)
    register.pupil("Ingrid", OTHER_SCHOOL, class_id="S002-3A")
    case_id = open_case(con, tmp_path, classes="all", school_id="all", request_id="2026/8001")
    policy = load_policy()
    screen_case(con, case_id, policy, datetime.fromisoformat(FIXED_NOW).astimezone(OSLO))
    con.execute("UPDATE cases SET policy_hash = ? WHERE case_id = ?", [policy.sha256, case_id])
    with_remarks = classes_with_remarks(con, case_id)
    plan = Plan(case_id, ("S001", "S002"), "Til juridisk vurdering", None, summarise(con, case_id, policy).data_hash,
                publish=False, review_classes=tuple(sorted(with_remarks)),
                review_schools=tuple(sorted(set(with_remarks.values()))))
    con.execute("CHECKPOINT")
    return case_id, plan


def snapshot_of(con, plan: Plan, school: str, root: Path) -> Path:
    folder = root / job_name(plan.case_id, plan.data_hash, school)
    job = Job(plan.case_id, school, plan.status_label, plan.data_hash, plan.review_classes,
              review_part=school in plan.review_schools)
    write_job(con, job, DEFAULT_POLICY, folder)
    return folder


def test_the_snapshot_holds_one_schools_rows_owner_only_and_not_the_requester(con, bulk_case, tmp_path):
    case_id, plan = bulk_case
    folder = snapshot_of(con, plan, "S001", tmp_path / "exchange")

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {p.name for p in folder.iterdir()} == {"job.json", "policy.toml", "cases.parquet", "case_classes.parquet",
                                                  "case_items.parquet", "case_household_members.parquet"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    everything = b"".join(p.read_bytes() for p in folder.iterdir())
    assert GRADED.encode() in everything  # the review part shows it, withheld
    assert OTHER_SCHOOL.encode() not in everything  # another school's rows stay home
    assert b"kari@avis.example" not in everything and b"Avisa Oslo" not in everything  # the letter's, not a part's
    snapshot = load_snapshot(folder)
    assert snapshot.execute("SELECT DISTINCT class_id FROM case_items").fetchall() == [("S001-5B",)]


def test_a_part_rendered_from_the_snapshot_is_the_part_the_database_gives(con, bulk_case, tmp_path):
    case_id, plan = bulk_case
    policy = load_policy()
    folder = snapshot_of(con, plan, "S001", tmp_path / "exchange")
    from_db = school_parts(tmp_path / "from-db", plan, "S001")
    render_school_parts(con, plan, "S001", policy, from_db)
    snapshot = load_snapshot(folder)
    from_snapshot = school_parts(tmp_path / "from-snapshot", plan, "S001")
    render_school_parts(snapshot, plan, "S001", load_policy(folder / "policy.toml"), from_snapshot)

    assert set(from_db) == set(from_snapshot) == {"public", "internal"}
    for kind in from_db:
        assert pdf_text(from_db[kind]) == pdf_text(from_snapshot[kind])
    assert GRADED not in pdf_text(from_snapshot["public"])
    assert GRADED in pdf_text(from_snapshot["internal"])


@pytest.mark.parametrize("job", ["../elsewhere", "/etc", "", "2026-8001/../../x", "no-such-job", "link"])
def test_a_job_outside_the_exchange_folder_is_refused(tmp_path, job):
    root = tmp_path / "exchange"
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "job.json").write_text("{}")
    root.mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BadInput) as refused:
        job_folder(job, root)
    assert len(str(refused.value).splitlines()) == 1


def test_without_an_exchange_folder_a_worker_says_so(monkeypatch):
    monkeypatch.delenv("INNSYN_EXCHANGE", raising=False)
    with pytest.raises(BadInput, match="INNSYN_EXCHANGE"):
        exchange_root()


def test_the_writer_gates_what_a_worker_returns_against_the_whole_case(con, bulk_case, tmp_path):
    case_id, plan = bulk_case
    con.close()  # the writer opens the database itself
    config = RunConfig(db=str(tmp_path / "innsyn.duckdb"), out=str(tmp_path / "out"), actor="innsyn-service")
    with duckdb.connect(config.db) as db:
        folder = snapshot_of(db, plan, "S001", tmp_path / "exchange")
    snapshot = load_snapshot(folder)
    render_school_parts(snapshot, plan, "S001", load_policy(folder / "policy.toml"),
                        {"public": folder / "public.pdf", "internal": folder / "internal.pdf"})
    # a worker that swapped them: the review copy, with the withheld name, as the public part
    honest = folder.parent / "honest"
    shutil.copytree(folder, honest)
    (folder / "public.pdf").unlink()
    shutil.copy(honest / "internal.pdf", folder / "public.pdf")

    with pytest.raises(LeakFound) as leak:
        take_parts(plan, config, "S001", folder)
    assert GRADED not in str(leak.value)
    assert not staging_dir(config, plan).exists() or not any(staging_dir(config, plan).rglob("*.pdf"))

    take_parts(plan, config, "S001", honest)  # the honest parts are staged
    staged = school_parts(staging_dir(config, plan), plan, "S001")
    assert all(part.is_file() and stat.S_IMODE(part.stat().st_mode) == 0o600 for part in staged.values())
