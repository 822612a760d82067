"""Legal review: the case waits, the reviewer changes and approves, and the trail says who.

The flow runs for real under a Prefect test server. A class with a graded address and a
guardian at an institution waits for review; the reviewer releases the institution address
with a reason and approves; the public PDF, the redaction log and the events all show it.
"""

from __future__ import annotations

import csv
import json
import re
import threading
import time
from pathlib import Path

import duckdb
import pypdf
import pytest

from innsyn import cases, clock
from innsyn.db import open_db
from innsyn.policy import load_policy
from innsyn.process_request import ReviewInput, RunConfig, process_request
from innsyn.render_answer import render_answer
from innsyn.request import BadInput
from innsyn.review import ItemChange, apply_changes, approve

from conftest import write_request

SECRET_PUPIL = "Hemmelig Kanarifugl"
INSTITUTION = "Thereses gate 12 B"


def squeeze(text: str) -> str:
    return "".join(text.split()).casefold()


def pdf_text(path: str | Path) -> str:
    return squeeze("\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages))


@pytest.fixture
def case_files(tmp_path: Path, con, register) -> RunConfig:
    register.institution(INSTITUTION, "0358")
    register.pupil("Hemmelig", "Kanarifugl", protection="fortrolig", guardians=[{"guardian_id": "F1"}])
    register.pupil("Åse", "Sæther", guardians=[{"guardian_id": "F2", "street": "Thereses gt. 12b",
                                                "postal_code": "0358"}])
    for n, name in enumerate(["Ánte Somby", "Mohammed Ali", "Per Berg"]):
        first, last = name.split()
        register.pupil(first, last, guardians=[{"guardian_id": f"F{10 + n}"}])
    con.close()  # the flow opens the file itself
    write_request(tmp_path / "request.json")
    return RunConfig(db=str(tmp_path / "innsyn.duckdb"), out=str(tmp_path / "out"), actor="saksbehandler")


def events(config: RunConfig) -> list[tuple]:
    with duckdb.connect(config.db, read_only=True) as db:
        return db.execute("SELECT event, actor, reason FROM case_events ORDER BY event_id").fetchall()


def test_a_graded_address_waits_for_review(prefect_server, case_files, tmp_path):
    result = process_request(str(tmp_path / "request.json"), case_files)
    assert (result.status, result.public_pdf) == ("awaiting_review", None)
    assert SECRET_PUPIL.casefold().replace(" ", "") in pdf_text(result.review_pdf)
    assert [e for e, _, _ in events(case_files)] == ["received", "screened", "awaiting_review"]


def test_an_override_with_a_reason_shows_in_the_pdf_the_log_and_the_events(prefect_server, case_files, tmp_path):
    result = process_request(str(tmp_path / "request.json"), case_files)
    with open_db(case_files.db) as db:
        item = db.execute("SELECT item_id FROM case_items WHERE rule = 'institusjonsadresse' AND field = 'address'").fetchone()[0]
        case = cases.find_case(db, result.case_id)
        apply_changes(db, case, [ItemChange(item_id=item, decision="release")], reviewer="Lise Jurist",
                      reason="Institusjonen er nedlagt", policy=load_policy(), now=clock.now())
        approve(db, case, reviewer="Lise Jurist", reason=None, policy=load_policy(), now=clock.now())
    render_answer(result.case_id, case_files, approved_by="Lise Jurist")

    public = pdf_text(Path(case_files.out) / "public" / result.case_id / "svar.pdf")
    assert squeeze("Thereses gt. 12b") in public          # released by the reviewer
    assert squeeze(SECRET_PUPIL) not in public           # still withheld
    log = list(csv.DictReader(open(Path(case_files.out) / "internal" / result.case_id / "redaction_log.csv")))
    override = [row for row in log if row["override_reason"]]
    assert [(r["field"], r["decision"], r["decided_by"]) for r in override] == [("address", "release", "reviewer:Lise Jurist")]
    assert ("overridden", "Lise Jurist", "Institusjonen er nedlagt") in events(case_files)
    assert [e for e, _, _ in events(case_files)][-2:] == ["approved", "released"]


def test_the_registering_case_handler_cannot_approve(prefect_server, case_files, tmp_path):
    result = process_request(str(tmp_path / "request.json"), case_files)
    with open_db(case_files.db) as db, pytest.raises(BadInput, match="four eyes"):
        approve(db, cases.find_case(db, result.case_id), reviewer="Saksbehandler", reason=None,
                policy=load_policy(), now=clock.now())


def test_the_flow_pauses_for_a_typed_review_and_resumes_through_the_api(prefect_server, case_files, tmp_path):
    from prefect.flow_runs import resume_flow_run

    config = case_files.model_copy(update={"pause_for_review": True, "review_poll_seconds": 1,
                                           "review_timeout_seconds": 120})
    outcome: dict = {}
    runner = threading.Thread(
        target=lambda: outcome.update(result=process_request(str(tmp_path / "request.json"), config)))
    runner.start()

    paused = wait_for_paused_run()
    with duckdb.connect(config.db, read_only=True) as db:
        item = db.execute("SELECT item_id FROM case_items WHERE rule = 'institusjonsadresse' AND field = 'address'").fetchone()[0]
    assert paused.state.state_details.run_input_keyset, "the pause asks for typed input"
    resume_flow_run(paused.id, run_input=ReviewInput(
        approve=True, reviewer="Lise Jurist", reason="Institusjonen er nedlagt",
        changes=[ItemChange(item_id=item, decision="release")],
    ).model_dump())
    runner.join(timeout=120)

    result = outcome["result"]
    assert result.status == "released"
    assert squeeze("Thereses gt. 12b") in pdf_text(result.public_pdf)
    assert [e for e, a, _ in events(config) if a == "Lise Jurist"] == ["overridden", "approved", "released"]


def test_a_case_approved_from_the_command_line_ends_the_run_paused_for_it(prefect_api_url, case_files, tmp_path):
    """The Prefect form and `innsyn review approve` answer the same pause: approved from the
    command line, the paused run resumes, finds the case released, and completes. Only this
    database's run: another database's case 2026-1234 has a pause of its own."""
    import subprocess

    from conftest import INNSYN, innsyn_env
    from innsyn.pool.paused import case_tag, end_paused_runs

    config = case_files.model_copy(update={"pause_for_review": True, "review_poll_seconds": 1,
                                           "review_timeout_seconds": 300})
    outcome: dict = {}
    runner = threading.Thread(
        target=lambda: outcome.update(result=process_request(str(tmp_path / "request.json"), config)))
    runner.start()
    paused = wait_for_paused_run(tag=case_tag("2026-1234", config.db))  # how the command finds it: ids, nothing personal
    # case ids are per database: approving 2026-1234 of another database leaves this pause alone
    assert end_paused_runs("2026-1234", tmp_path / "another.duckdb", "Lise Jurist") == 0

    approved = subprocess.run([INNSYN, "review", "approve", "2026-1234", "--reviewer", "Lise Jurist"], cwd=tmp_path,
                              env=innsyn_env(tmp_path, prefect_api_url), capture_output=True, text=True, timeout=300)
    assert approved.returncode == 0, approved.stderr
    runner.join(timeout=120)  # long before the pause's own timeout

    assert not runner.is_alive(), "the paused run still waits"
    assert outcome["result"].status == "released"
    from prefect import get_client

    with get_client(sync_client=True) as client:
        assert client.read_flow_run(paused.id).state.is_completed()
    assert [e for e, a, _ in events(config) if a == "Lise Jurist"] == ["approved", "released"]


def wait_for_paused_run(timeout: float = 120, tag: str | None = None):
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter, FlowRunFilterState, FlowRunFilterStateName, FlowRunFilterTags,
    )

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Paused"])),
                tags=FlowRunFilterTags(all_=[tag]) if tag else None))
            if runs:
                return runs[0]
            time.sleep(0.5)
    raise AssertionError("the flow never paused for review")


def test_no_code_path_updates_or_deletes_events():
    """The event table is append-only: no statement in the product changes or removes a row."""
    root = Path(__file__).resolve().parents[1]
    sources = [*root.glob("flows/**/*.py"), *root.glob("sql/*.sql")]
    pattern = re.compile(r"(UPDATE\s+case_events|DELETE\s+FROM\s+case_events|TRUNCATE\s+case_events|DROP\s+TABLE\s+(IF\s+EXISTS\s+)?case_events)", re.I)
    offenders = [str(path.relative_to(root)) for path in sources if pattern.search(path.read_text(encoding="utf-8"))]
    assert sources and offenders == []


def test_a_guardian_line_withheld_by_hand_takes_the_bare_name_with_it(prefect_server, case_files, tmp_path):
    """A pupil shown with no guardian line proves a withheld guardian: the reviewer's change
    to the line reaches the name, and the event says so."""
    result = process_request(str(tmp_path / "request.json"), case_files)
    with open_db(case_files.db) as db:
        items = [item for (item,) in db.execute(
            "SELECT item_id FROM case_items WHERE guardian_id = 'F10' ORDER BY item_id").fetchall()]
        (pupil,) = db.execute("SELECT DISTINCT student_id FROM case_items WHERE guardian_id = 'F10'").fetchone()
        case = cases.find_case(db, result.case_id)
        apply_changes(db, case, [ItemChange(item_id=item, decision="withhold", rule="fortrolig_adresse") for item in items],
                      reviewer="Lise Jurist", reason="Opplyst av skolen", policy=load_policy(), now=clock.now())
        name = db.execute("SELECT decision, rule, consent_state FROM case_items WHERE item_id = ?",
                          [f"{pupil}/pupil_name"]).fetchone()
    assert name == ("withhold", "fortrolig_adresse", "consent_not_sufficient")
    overridden = [json.loads(detail) for event, detail in db_events_detail(case_files) if event == "overridden"]
    assert overridden[-1]["implied_items"] == 1


def db_events_detail(config: RunConfig) -> list[tuple]:
    with duckdb.connect(config.db, read_only=True) as db:
        return db.execute("SELECT event, detail FROM case_events ORDER BY event_id").fetchall()
