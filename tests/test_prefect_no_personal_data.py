"""Prefect never holds personal data: not in parameters, results, states, logs, events,
artifacts or pause forms.

Real cases run through the real flow under the session's Prefect test server, on an export
with canary values in every withheld place: one is paused for review and approved through a
typed pause form, one is refused, and one fails at the leak gate (a withheld value is
planted in the public answer on purpose). Then everything Prefect has is read back: every
row of every table of the test server's database, the logs through the API, and every line
Prefect's loggers wrote. No canary is there, and neither is any released pupil's or
guardian's name, e-mail, phone or address, nor the requester: Prefect sees ids, paths and
counts only.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from innsyn import case_documents
from innsyn.leak_gate import LeakFound
from innsyn.process_request import ReviewInput, RunConfig, process_request

from conftest import CANARIES, RELEASED, canary_export, innsyn, write_request

REQUESTER = ["Kari Nordmann", "kari@avis.example"]
# Full values as the case holds them (first + last name, address with postal code).
WITHHELD_VALUES = ["Kari Kanarifortrolig", "Per Kanaristrengt", "Ola Kanarispesial", "Liv Kanarifortrolig",
                   "Anne Kanaristrengt", "Kanarihemmeligveien 66, 0170 OSLO", "Thereses gt. 12b, 0358 OSLO"]
PERSONAL = [*CANARIES.values(), *WITHHELD_VALUES, *RELEASED, "Solveig Haugen", "Máret Somby", "Amina Ali",
            "maret.somby@example.no", "amina.ali@example.no", "Grefsenveien 3", *REQUESTER]


def squeeze(text: str) -> str:
    """Casefolded, without whitespace, with JSON's \\uXXXX escapes decoded."""
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return "".join(text.split()).casefold()


def personal_data_in(text: str) -> list[str]:
    haystack = squeeze(text)
    return [value for value in PERSONAL if squeeze(value) in haystack]


# ----------------------------------------------------------------------------- what Prefect holds


def prefect_database_rows() -> dict[str, list[str]]:
    """Every row of every table of the Prefect test server's database, as text."""
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    url = PREFECT_SERVER_DATABASE_CONNECTION_URL.value()
    path = url.split(":///", 1)[1]
    rows: dict[str, list[str]] = {}
    # a copy in memory, taken in one quick pass: a long read would lock the server out
    db = sqlite3.connect(":memory:")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as live:
        live.backup(db)
    with db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            rows[table] = [
                " | ".join(value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                           for value in row)
                for row in db.execute(f'SELECT * FROM "{table}"')
            ]
    return rows


def api_logs() -> list[str]:
    from prefect import get_client
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # logs are sent in batches: send what is queued, and wait
    with get_client(sync_client=True) as client:
        return [log.message for log in client.read_logs(limit=200)] + [
            log.message for log in client.read_logs(limit=200, offset=200)
        ]


def paused_run_of(request: Path):
    """The paused flow run of this request file, or None while there is none."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Paused"]))))
    return next((run for run in runs if run.parameters.get("request_path") == str(request)), None)


def wait_until(condition, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


class Captured(logging.Handler):
    """Every record Prefect's loggers emit, formatted with its traceback."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


# ----------------------------------------------------------------------------- the cases


@pytest.fixture
def workdir(tmp_path: Path, prefect_api_url) -> Path:
    result = innsyn(tmp_path, prefect_api_url, "db", "import", str(canary_export(tmp_path / "export")))
    assert result.returncode == 0, result.stderr
    return tmp_path


@pytest.fixture
def captured():
    handler = Captured()
    logger = logging.getLogger("prefect")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def config(workdir: Path, **changes) -> RunConfig:
    return RunConfig(db=str(workdir / "innsyn.duckdb"), out=str(workdir / "out"), actor="saksbehandler",
                     **changes)


def reviewed_and_approved_in_a_pause_form(workdir: Path) -> str:
    """5B: graded addresses and an institution; the flow pauses, a reviewer approves."""
    from prefect.flow_runs import resume_flow_run

    request = write_request(workdir / "review.json", request_id="2026/1")
    run_config = config(workdir, pause_for_review=True, review_poll_seconds=1, review_timeout_seconds=120)
    outcome: dict = {}
    runner = threading.Thread(target=lambda: outcome.update(result=process_request(str(request), run_config)))
    runner.start()

    paused = wait_until(lambda: paused_run_of(request), timeout=120, what="the pause for review")
    resume_flow_run(paused.id, run_input=ReviewInput(
        approve=True, reviewer="Lise Jurist", reason="Vurdert: unntak etter offentleglova § 13").model_dump())
    runner.join(timeout=120)
    assert outcome["result"].status == "released"
    return outcome["result"].public_pdf


def refused(workdir: Path) -> None:
    """The special group: every pupil withheld, the case waits for review."""
    request = write_request(workdir / "refused.json", request_id="2026/2",
                            scope={"school_id": "S001", "classes": ["Forsterket avdeling"]})
    result = process_request(str(request), config(workdir))
    assert (result.status, result.outcome) == ("awaiting_review", "avslatt")


def stopped_at_the_leak_gate(workdir: Path, monkeypatch) -> None:
    """A broken renderer puts a withheld name in a released cell; the gate stops the flow."""
    policy = workdir / "no-review.toml"
    standard = (Path(case_documents.__file__).parent.parent / "policies" / "standard.toml").read_text()
    policy.write_text(standard.replace("requires_review = true", "requires_review = false")
                      .replace("review_consent_conflicts = true", "review_consent_conflicts = false")
                      .replace("review_refusals = true", "review_refusals = false")
                      .replace("min_released_pupils = 3", "min_released_pupils = 0"), encoding="utf-8")
    right = case_documents.public_answer

    def leaking(answer):
        public = right(answer)
        first = public.classes[0]
        row = first.rows[0]
        planted = replace(row, name=replace(row.name, value="Kari Kanarifortrolig"))
        return replace(public, classes=(replace(first, rows=(planted, *first.rows[1:])), *public.classes[1:]))

    monkeypatch.setattr(case_documents, "public_answer", leaking)
    request = write_request(workdir / "leak.json", request_id="2026/3")
    with pytest.raises(LeakFound) as caught:
        process_request(str(request), config(workdir, policy=str(policy)))
    assert "E4/pupil_name" in str(caught.value)
    assert not (workdir / "out" / "public" / "2026-3").exists()


def test_prefect_holds_ids_paths_and_counts_only(prefect_server, workdir, captured, capfd, monkeypatch):
    public_pdf = reviewed_and_approved_in_a_pause_form(workdir)
    refused(workdir)
    stopped_at_the_leak_gate(workdir, monkeypatch)

    rows = wait_until(lambda: (r := prefect_database_rows()) and len(r.get("events", [])) > 10 and r,
                      what="Prefect's events to be stored")
    logs = api_logs()
    printed = capfd.readouterr()

    # the cases really ran, and Prefect really recorded them
    assert any("2026-1" in row for row in rows["flow_run"]) or any("2026-1" in line for line in logs)
    assert any("E4/pupil_name" in row for table in rows.values() for row in table)  # the gate's failure, by id
    assert rows["flow_run_input"], "the pause form and the reviewer's answer are stored"
    assert len(logs) > 10 and len(captured.lines) > 10
    # the canaries are real: the review copy of the same case holds them
    from conftest import pdf_text
    review_text = squeeze(pdf_text(workdir / "out" / "internal" / "2026-1" / "intern.pdf"))
    assert squeeze(CANARIES["fortrolig pupil"]) in review_text
    assert squeeze("Åse Sæther") in squeeze(pdf_text(Path(public_pdf)))

    found = {f"table {table}": personal_data_in("\n".join(table_rows))
             for table, table_rows in rows.items()}
    found["API logs"] = personal_data_in("\n".join(logs))
    found["Prefect's loggers"] = personal_data_in("\n".join(captured.lines))
    found["stdout/stderr"] = personal_data_in(printed.out + printed.err)
    assert {where: values for where, values in found.items() if values} == {}
