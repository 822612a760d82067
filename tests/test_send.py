"""`innsyn send CASE` against a real SMTP server on loopback (aiosmtpd), read back.

The answer arrives once per release, as the released PDF byte for byte, with a short bokmål
body and nothing withheld anywhere in the message; a temporary refusal is retried by the
Prefect task; a permanent one exits 1, records `send_failed` and leaves the case as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CANARIES, canary_case_awaiting_review, copy_of_case_folder, innsyn, pdf_text, squeeze
from innsyn import db as innsyn_db
from smtp_server import SmtpServer, free_port


@pytest.fixture(scope="module")
def case_awaiting_review(tmp_path_factory, prefect_api_url) -> Path:
    """The canary export's 5B processed with the real CLI, once: it waits for review."""
    return canary_case_awaiting_review(tmp_path_factory.mktemp("awaiting"), prefect_api_url, "2026/5001")


@pytest.fixture(scope="module")
def released_case(tmp_path_factory, case_awaiting_review, prefect_api_url) -> Path:
    """That case reviewed and released (graded households, an institution)."""
    workdir = copy_of_case_folder(case_awaiting_review, tmp_path_factory.mktemp("released") / "case")
    approved = innsyn(workdir, prefect_api_url, "review", "approve", "2026-5001", "--reviewer", "Lise Jurist")
    assert json.loads(approved.stdout)["status"] == "released", approved.stderr
    return workdir


@pytest.fixture
def workdir(tmp_path: Path, released_case: Path) -> Path:
    return copy_of_case_folder(released_case, tmp_path / "case")


def send(workdir: Path, prefect_api_url: str, server: SmtpServer, security: str = "none", case: str = "2026-5001",
         **extra: str):
    env_overrides = {**server.env(security), **extra}
    import os

    saved = {key: os.environ.get(key) for key in env_overrides}
    os.environ.update(env_overrides)  # innsyn() passes os.environ on to the command
    try:
        return innsyn(workdir, prefect_api_url, "send", case)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def events(workdir: Path, name: str) -> list[dict]:
    with innsyn_db.open_db(workdir / "innsyn.duckdb", read_only=True) as con:
        rows = con.execute("SELECT detail FROM case_events WHERE event = ? ORDER BY event_id", [name]).fetchall()
    return [json.loads(detail) for (detail,) in rows]


def status(workdir: Path) -> str:
    with innsyn_db.open_db(workdir / "innsyn.duckdb", read_only=True) as con:
        return con.execute("SELECT status FROM cases WHERE case_id = '2026-5001'").fetchone()[0]


def test_the_released_answer_arrives_once_as_the_released_pdf(workdir, prefect_api_url):
    with SmtpServer() as server:
        first = send(workdir, prefect_api_url, server)
        second = send(workdir, prefect_api_url, server)

    assert first.returncode == 0, first.stderr
    assert json.loads(second.stdout)["already_sent"] is True
    assert len(server.inbox.received) == 1  # never twice for one release
    (message,) = server.inbox.messages()
    assert server.inbox.recipients == [["kari@avis.example"]]
    (attachment,) = list(message.iter_attachments())
    released = workdir / "out" / "public" / "2026-5001" / "svar.pdf"
    assert attachment.get_content() == released.read_bytes()
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "vedlagt følger svaret på innsynskravet ditt" in body and "2026-5001" in body
    assert message["Subject"] == "Svar på innsynskrav – sak 2026-5001"
    sent = json.loads(first.stdout)["sent"]
    assert message["Message-ID"] == sent["message_id"]
    assert events(workdir, "sent") == [sent]


def test_nothing_withheld_is_anywhere_in_the_message(workdir, prefect_api_url, tmp_path):
    with SmtpServer() as server:
        assert send(workdir, prefect_api_url, server).returncode == 0
    raw = server.inbox.received[0]
    (attachment,) = list(server.inbox.messages()[0].iter_attachments())
    (tmp_path / "got.pdf").write_bytes(attachment.get_content())
    readable = squeeze(raw.decode("utf-8", "replace") + server.inbox.messages()[0].get_body().get_content()
                       + pdf_text(tmp_path / "got.pdf"))
    for label, canary in CANARIES.items():
        assert squeeze(canary) not in readable, label


def test_a_temporary_refusal_is_retried_by_the_task(workdir, prefect_api_url):
    with SmtpServer() as server:
        server.inbox.refusals = ["451 4.3.0 Mailbox busy, try later", "421 4.7.0 Too many connections"]
        result = send(workdir, prefect_api_url, server)

    assert result.returncode == 0, result.stderr
    assert server.inbox.attempts == 3 and len(server.inbox.received) == 1
    assert "Retry 1/3" in result.stderr and "Retry 2/3" in result.stderr
    assert "kari@avis.example" not in result.stderr  # Prefect's log of the retries holds no address
    assert len(events(workdir, "sent")) == 1 and events(workdir, "send_failed") == []


def test_a_permanent_refusal_exits_1_and_keeps_the_case(workdir, prefect_api_url):
    with SmtpServer() as server:
        server.inbox.refusals = ["550 5.1.1 <kari@avis.example>: Recipient address rejected"]
        result = send(workdir, prefect_api_url, server)
        assert server.inbox.attempts == 1  # not retried
        assert server.inbox.received == []

        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1] == (
            "innsyn: error: case 2026-5001 was not sent (permanent: SMTP 550 for the recipient); the case is "
            "unchanged, run `innsyn send` again")
        assert "kari@avis.example" not in result.stderr  # the server's text is not repeated
        assert status(workdir) == "released"
        assert events(workdir, "send_failed")[0]["smtp_code"] == 550 and events(workdir, "sent") == []

        again = send(workdir, prefect_api_url, server)  # fixed on the server's side: the same release goes
    assert again.returncode == 0 and len(server.inbox.received) == 1


def test_a_refused_connection_is_retried_then_reported(workdir, prefect_api_url):
    nobody = SmtpServer()  # never started: the port refuses connections
    nobody.port = free_port()
    result = send(workdir, prefect_api_url, nobody, INNSYN_SMTP_RETRIES="1")
    assert result.returncode == 1
    assert "still failing after retries: connection failed (ConnectionRefusedError)" in result.stderr
    assert "Retry 1/1" in result.stderr
    assert status(workdir) == "released"


def test_starttls_with_the_servers_certificate(workdir, prefect_api_url, tmp_path):
    with SmtpServer(tls_folder=tmp_path / "tls") as server:
        result = send(workdir, prefect_api_url, server, security="starttls")
    assert result.returncode == 0, result.stderr
    assert len(server.inbox.received) == 1


def test_a_case_that_is_not_released_is_not_sent(tmp_path, case_awaiting_review, prefect_api_url):
    workdir = copy_of_case_folder(case_awaiting_review, tmp_path / "case")
    with SmtpServer() as server:
        result = send(workdir, prefect_api_url, server)
    assert result.returncode == 2
    assert "case 2026-5001 is awaiting_review, not released" in result.stderr
    assert server.inbox.attempts == 0


def test_sending_in_the_clear_is_for_a_local_relay_only(workdir, prefect_api_url):
    with SmtpServer() as server:
        result = send(workdir, prefect_api_url, server, INNSYN_SMTP_HOST="smtp.example.net")
    assert result.returncode == 2 and "INNSYN_SMTP_SECURITY=none is for a relay on this machine only" in result.stderr


def test_when_configured_every_release_is_sent(tmp_path, case_awaiting_review, prefect_api_url, monkeypatch):
    workdir = copy_of_case_folder(case_awaiting_review, tmp_path / "case")
    with SmtpServer() as server:
        for key, value in {**server.env("none"), "INNSYN_SEND_ON_RELEASE": "1"}.items():
            monkeypatch.setenv(key, value)
        approved = innsyn(workdir, prefect_api_url, "review", "approve", "2026-5001", "--reviewer", "Lise Jurist")
        again = innsyn(workdir, prefect_api_url, "send", "2026-5001")
    assert approved.returncode == 0, approved.stderr
    case = json.loads(approved.stdout)
    assert case["status"] == "released" and case["sent"]["message_id"].startswith("<innsyn.2026-5001.")
    assert json.loads(again.stdout)["already_sent"] is True
    assert len(server.inbox.received) == 1


def test_an_address_with_a_line_break_is_not_sent_to(workdir, prefect_api_url):
    """A request's e-mail is the requester's own text: a header injection is refused, not sent."""
    with innsyn_db.open_db(workdir / "innsyn.duckdb") as con:
        con.execute("UPDATE cases SET requester_email = ? WHERE case_id = '2026-5001'",
                    ["kari@avis.example\r\nBcc: kanari@example.net"])
    with SmtpServer() as server:
        result = send(workdir, prefect_api_url, server)
    assert result.returncode == 2
    assert "the requester's e-mail address is not one we can send to" in result.stderr
    assert "kanari" not in result.stderr and server.inbox.attempts == 0
