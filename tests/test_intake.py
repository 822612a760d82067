"""Intake: eInnsyn orders and other mail from a Maildir, through the installed `innsyn` command.

An order whose documents the journal mapping knows becomes one case (eInnsyn's retry of it
is the same case); other mail, and every hostile message in tests/bad_input/ ([mail.*] in
expected.toml), becomes one triage entry; a case handler maps an entry by hand; each
message is handled once and moved to cur/ only after its case or entry is committed.
"""

from __future__ import annotations

import json
import shutil
import tomllib
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest

from conftest import canary_export, dump_tables, innsyn, write_csv
from innsyn import db as innsyn_db
from innsyn.clock import OSLO
from innsyn.intake.order import read_order
from mail_fixtures import deliver, einnsyn_mail, make_maildir, order_xml, plain_mail

CORPUS = Path(__file__).parent / "bad_input"
EXPECTED = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))["mail"]
SYSTEM_ID_5B = "6f0e6c1e-0000-5000-8000-0000000005b0"
JOURNAL_5B = {"systemId": SYSTEM_ID_5B, "saksnr": "2026/1001", "dokumentnr": "1"}


def mapped_export(folder: Path) -> Path:
    """The canary export, with a journal mapping: 5B is document 2026/1001-1 (or its system_id)."""
    export = canary_export(folder)
    write_csv(export / "journal_documents.csv", "system_id,saksnr,dokumentnr,school_id,class_id",
              [[SYSTEM_ID_5B, "2026/1001", "1", "S001", "S001-5B"]])
    return export


@pytest.fixture(scope="module")
def mapped_db(tmp_path_factory, prefect_api_url) -> Path:
    workdir = tmp_path_factory.mktemp("mapped-db")
    result = innsyn(workdir, prefect_api_url, "db", "import", str(mapped_export(workdir / "export")))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["imported"]["journal_documents"] == 1
    return workdir / "innsyn.duckdb"


@pytest.fixture
def workdir(tmp_path: Path, mapped_db: Path) -> Path:
    shutil.copy(mapped_db, tmp_path / "innsyn.duckdb")
    make_maildir(tmp_path / "Maildir")
    return tmp_path


def intake(workdir: Path, prefect_api_url: str) -> dict:
    result = innsyn(workdir, prefect_api_url, "intake", "maildir", "Maildir")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def table(workdir: Path, name: str) -> list[tuple]:
    return dump_tables(workdir / "innsyn.duckdb")[name]


# ----------------------------------------------------------------------------- orders


@pytest.mark.parametrize("version", [1, 2])
def test_the_parser_reads_both_versions_of_einnsyns_template(version):
    parsed = read_order("order.xml", order_xml(version=version, documents=[JOURNAL_5B]))
    assert parsed.version == version and parsed.email == "kari@avis.example"
    (document,) = parsed.documents
    assert (document.case_number, document.document_number) == ("2026/1001", "1")
    assert document.system_id == (SYSTEM_ID_5B if version == 2 else None)


def test_an_order_becomes_one_case_and_its_retry_is_the_same_case(workdir, prefect_api_url):
    order = order_xml(documents=[JOURNAL_5B])
    first = deliver(workdir / "Maildir", einnsyn_mail(order, message_id="<a@einnsyn.example>"))
    retry = deliver(workdir / "Maildir", einnsyn_mail(order, message_id="<b@einnsyn.example>"))

    summary = intake(workdir, prefect_api_url)

    assert summary["cases"] == ["eInnsyn-e7a2c1d0-0000-4000-8000-00000000a001"]
    assert [m["outcome"] for m in summary["messages"]] == ["case", "case"]
    assert summary["triaged"] == 0
    (case,) = table(workdir, "cases")
    with innsyn_db.open_db(workdir / "innsyn.duckdb", read_only=True) as con:
        received, email, reference, scope, status = con.execute(
            "SELECT received_at, requester_email, requester_reference, scope_classes, status FROM cases").fetchone()
    assert received.astimezone(OSLO).isoformat() == "2026-11-23T00:00:00+01:00"  # deadline counts from the order
    assert email == "kari@avis.example" and reference == "eInnsyn e7a2c1d0-0000-4000-8000-00000000a001"
    assert json.loads(scope) == ["5B"] and status == "awaiting_review"
    assert not list((workdir / "Maildir" / "new").iterdir())
    assert sorted(p.name for p in (workdir / "Maildir" / "cur").iterdir()) == sorted(
        [f"{first.name}:2,S", f"{retry.name}:2,S"])
    assert len(table(workdir, "intake_messages")) == 2


def test_an_order_by_saksnr_and_dokumentnr_matches_without_a_system_id(workdir, prefect_api_url):
    deliver(workdir / "Maildir", einnsyn_mail(order_xml(version=1, documents=[{"saksnr": "2026/1001",
                                                                               "dokumentnr": "1"}])))
    assert intake(workdir, prefect_api_url)["cases"] == ["eInnsyn-e7a2c1d0-0000-4000-8000-00000000a001"]


def test_a_message_is_handled_once_even_if_it_is_found_in_new_again(workdir, prefect_api_url):
    """A run that died after committing but before the move: the next run only moves it."""
    raw = plain_mail()
    message = deliver(workdir / "Maildir", raw)
    intake(workdir, prefect_api_url)
    (workdir / "Maildir" / "cur" / f"{message.name}:2,S").rename(message)  # as if never moved

    again = intake(workdir, prefect_api_url)

    assert again["messages"][0]["already_handled"] is True
    assert len(table(workdir, "intake_triage")) == 1
    assert not list((workdir / "Maildir" / "new").iterdir())


def test_a_handler_maps_a_triage_entry_to_a_case(workdir, prefect_api_url):
    deliver(workdir / "Maildir", plain_mail(sender="Ola Nordmann <ola@example.no>", subject="Klasseliste 5B"))
    intake(workdir, prefect_api_url)
    listed = innsyn(workdir, prefect_api_url, "intake", "list")
    (entry,) = json.loads(listed.stdout)["triage"]
    assert (entry["sender"], entry["subject"], entry["status"]) == (
        "Ola Nordmann <ola@example.no>", "Klasseliste 5B", "open")

    mapped = innsyn(workdir, prefect_api_url, "intake", "map", entry["triage_id"], "--school", "S001",
                    "--classes", "5B", "--kind", "private")

    assert mapped.returncode == 0, mapped.stderr
    case = json.loads(mapped.stdout)
    assert case["status"] == "awaiting_review" and case["triage_id"] == entry["triage_id"]
    assert json.loads(innsyn(workdir, prefect_api_url, "intake", "list").stdout)["triage"] == []
    again = innsyn(workdir, prefect_api_url, "intake", "map", entry["triage_id"], "--school", "S001",
                   "--classes", "5B")
    assert again.returncode == 2 and f"already mapped to case {case['case_id']}" in again.stderr
    with innsyn_db.open_db(workdir / "innsyn.duckdb", read_only=True) as con:
        assert con.execute("SELECT requester_email FROM cases").fetchone() == ("ola@example.no",)


def test_mapping_to_an_unknown_class_is_refused_and_leaves_the_entry_open(workdir, prefect_api_url):
    deliver(workdir / "Maildir", plain_mail())
    intake(workdir, prefect_api_url)
    (entry,) = json.loads(innsyn(workdir, prefect_api_url, "intake", "list").stdout)["triage"]
    refused = innsyn(workdir, prefect_api_url, "intake", "map", entry["triage_id"], "--school", "S001",
                     "--classes", "9Z")
    assert refused.returncode == 2 and "unknown class '9Z'" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert table(workdir, "cases") == []
    assert json.loads(innsyn(workdir, prefect_api_url, "intake", "list").stdout)["triage"][0]["status"] == "open"


def test_a_link_in_new_is_not_followed(workdir, prefect_api_url):
    (workdir / "Maildir" / "new" / "1764000000.link").symlink_to("/dev/zero")  # would never end
    summary = intake(workdir, prefect_api_url)
    assert summary["messages"][0]["reason"] == "not a regular file (a link or a device): not read"
    assert (workdir / "Maildir" / "cur" / "1764000000.link:2,S").is_symlink()


def test_a_folder_that_is_not_a_maildir_is_refused(tmp_path, prefect_api_url):
    result = innsyn(tmp_path, prefect_api_url, "intake", "maildir", str(tmp_path))
    assert result.returncode == 2 and "not a Maildir" in result.stderr


# ----------------------------------------------------------------------------- hostile mail


def _attached(order: bytes, *, count: int = 1) -> bytes:
    message = EmailMessage()
    message["From"] = "eInnsyn <ikkje-svar@einnsyn.example>"
    message["Subject"] = "Innsynskrav"
    message["Date"] = "Mon, 23 Nov 2026 08:30:00 +0100"
    message.set_content("Vedlagt.")
    for _ in range(count):
        message.add_attachment(order, maintype="application", subtype="xml", filename="order.xml")
    return message.as_bytes()


def _requests(name: str) -> bytes:
    return (CORPUS / "requests" / name).read_bytes()


GENERATED = {
    "huge.eml": lambda: plain_mail(body="x" * 10_500_000),
    "order_xxe.eml": lambda: _attached(_requests("einnsyn_order_xxe.xml")),
    "order_entity_bomb.eml": lambda: _attached(_requests("einnsyn_order_entity_bomb.xml")),
    "order_no_documents.eml": lambda: _attached(_requests("einnsyn_order_no_documents.xml")),
    "order_wrong_namespace.eml": lambda: _attached(_requests("einnsyn_order_wrong_namespace.xml")),
    "order_latin1.eml": lambda: _attached(_requests("einnsyn_order_latin1.xml")),
    "order_unknown_document.eml": lambda: einnsyn_mail(order_xml(documents=[
        {"systemId": str(uuid.uuid4()), "saksnr": "2026/9", "dokumentnr": "9"}])),
    "order_in_the_future.eml": lambda: einnsyn_mail(order_xml(ordered_on="2026-12-24", documents=[JOURNAL_5B])),
    "two_orders.eml": lambda: _attached(order_xml(documents=[JOURNAL_5B]), count=2),
}


def test_every_mail_in_the_corpus_has_an_expected_outcome():
    on_disk = {path.name for path in (CORPUS / "mail").iterdir()}
    assert on_disk | set(GENERATED) == set(EXPECTED)
    assert {name for name, entry in EXPECTED.items() if entry.get("generated")} == set(GENERATED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_mail_is_one_triage_entry(name, workdir, prefect_api_url):
    raw = GENERATED[name]() if name in GENERATED else (CORPUS / "mail" / name).read_bytes()
    message = deliver(workdir / "Maildir", raw)
    before = dump_tables(workdir / "innsyn.duckdb")

    result = innsyn(workdir, prefect_api_url, "intake", "maildir", "Maildir")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    (handled,) = json.loads(result.stdout)["messages"]
    assert handled["outcome"] == "triage"
    assert EXPECTED[name]["triage"] in handled["reason"]
    after = dump_tables(workdir / "innsyn.duckdb")
    assert {t for t in after if after[t] != before[t]} == {"intake_triage", "intake_messages"}
    (entry,) = after["intake_triage"]
    assert all(ord(c) >= 32 and c != "\x7f" for c in (entry[2] or "") + (entry[3] or ""))  # printable
    assert (workdir / "Maildir" / "cur" / f"{message.name}:2,S").read_bytes() == raw
    assert not (workdir / "out" / "public").exists()


# ----------------------------------------------------------------------------- served


def test_serve_with_a_maildir_polls_it_on_a_schedule_without_parameters(tmp_path):
    from prefect.schedules import Interval  # noqa: F401 - the schedule type served

    from innsyn.serve import build_deployments

    maildir = make_maildir(tmp_path / "Maildir")
    deployments = {d.name: d for d in build_deployments(db=tmp_path / "innsyn.duckdb", out=tmp_path / "out",
                                                        target_days=3, actor="innsyn-service", maildir=maildir)}
    poll = deployments["poll-maildir"]
    (schedule,) = poll.schedules
    assert schedule.schedule.interval.total_seconds() == 60
    assert poll.parameters == {} and not poll._parameter_openapi_schema.properties
    assert "process-request" in deployments and "weekly-compliance-report" in deployments


def test_a_served_poll_makes_the_case_in_a_subflow(workdir, prefect_server):
    from innsyn.intake.served import served_maildir_flow
    from innsyn.service_flows import ServiceSettings

    deliver(workdir / "Maildir", einnsyn_mail(order_xml(documents=[JOURNAL_5B])))
    deliver(workdir / "Maildir", plain_mail())
    settings = ServiceSettings.create(db=workdir / "innsyn.duckdb", out=workdir / "out", actor="innsyn-service")

    result = served_maildir_flow(settings, workdir / "Maildir")()

    assert result == {"messages": 2, "cases": ["eInnsyn-e7a2c1d0-0000-4000-8000-00000000a001"], "triaged": 1}
    assert not list((workdir / "Maildir" / "new").iterdir())


def test_innsyn_serve_with_a_maildir_runs_the_poll_it_registered(workdir, prefect_api_url):
    """The served deployment, started as the schedule starts it: its run makes the case."""
    import signal
    import subprocess
    import time

    from prefect import get_client

    from conftest import INNSYN, innsyn_env

    message = deliver(workdir / "Maildir", einnsyn_mail(order_xml(documents=[JOURNAL_5B])))
    service = subprocess.Popen([INNSYN, "serve", "--maildir", "Maildir"], cwd=workdir,
                               env={**innsyn_env(workdir, prefect_api_url), "INNSYN_MAILDIR_POLL_SECONDS": "3600",
                                    # the runner looks for runs every second, not every 10 s
                                    "PREFECT_RUNNER_POLL_FREQUENCY": "1"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    moved = workdir / "Maildir" / "cur" / f"{message.name}:2,S"
    try:
        deadline = time.monotonic() + 180
        deployment = None
        while deployment is None and time.monotonic() < deadline and service.poll() is None:
            time.sleep(0.5)
            with get_client(sync_client=True) as client:
                deployment = next((d for d in client.read_deployments() if d.name == "poll-maildir"), None)
        assert deployment is not None, "innsyn serve did not register the Maildir's deployment"
        assert deployment.schedules[0].schedule.interval.total_seconds() == 3600
        with get_client(sync_client=True) as client:
            run = client.create_flow_run_from_deployment(deployment.id)
        deadline = time.monotonic() + 240  # the run starts a process and imports WeasyPrint
        while not moved.exists() and time.monotonic() < deadline and service.poll() is None:
            time.sleep(0.2)
        if not moved.exists():
            with get_client(sync_client=True) as client:
                state = client.read_flow_run(run.id).state
            service.kill()
            raise AssertionError(f"the served poll did not handle the message: run {state}; "
                                 f"{service.communicate()[1][-3000:]}")
        service.send_signal(signal.SIGTERM)
        stdout, stderr = service.communicate(timeout=120)
    finally:
        if service.poll() is None:
            service.kill()
            service.communicate()
    assert "intake-maildir/poll-maildir" in json.loads(stdout)["served"]
    (case,) = table(workdir, "cases")
    assert case[0] == "eInnsyn-e7a2c1d0-0000-4000-8000-00000000a001"
