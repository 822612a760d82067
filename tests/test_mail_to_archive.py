"""From the inbox to the archive (issue 15's "done when"), with the real command and real servers.

The demo register (with its journal mapping), an eInnsyn e-mail with order.xml dropped in a
Maildir, `innsyn intake maildir` (the case is registered and screened), review and release,
`innsyn send` to an SMTP server on loopback (read back), and `innsyn archive`, whose
arkivmelding validates. Every value the case withheld is looked for in what left the
building: the message and its attachment, and the archive's XML.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import xmlschema

from conftest import innsyn, pdf_text, squeeze
from innsyn import db as innsyn_db
from innsyn.archive.package import NAMESPACE, SCHEMA
from innsyn.demo_data import journal_reference
from mail_fixtures import deliver, einnsyn_mail, make_maildir, order_xml
from smtp_server import SmtpServer

N = {"a": NAMESPACE}


def test_an_einnsyn_email_goes_from_the_maildir_to_the_archive(tmp_path, prefect_api_url, monkeypatch):
    assert innsyn(tmp_path, prefect_api_url, "db", "demo-data", "--schools", "1").returncode == 0
    with innsyn_db.open_db(tmp_path / "innsyn.duckdb", read_only=True) as con:
        # an ordinary class of the first school with a fortrolig pupil: something must be withheld
        class_id, number = con.execute(
            """SELECT class_id, row_number() OVER (ORDER BY rowid) FROM classes WHERE school_id = 'S001'
               QUALIFY class_id IN (SELECT class_id FROM students WHERE address_protection = 'fortrolig')
               AND NOT special_group ORDER BY 2 LIMIT 1""").fetchone()
        system_id, saksnr, dokumentnr = journal_reference(1, number, class_id)
        assert con.execute("SELECT class_id FROM journal_documents WHERE system_id = ? AND saksnr = ? AND "
                           "dokumentnr = ?", [system_id, saksnr, dokumentnr]).fetchone() == (class_id,)
    maildir = make_maildir(tmp_path / "Maildir")
    order = order_xml(order_id="0b5e3c2a-1111-4222-8333-444455556666", email="journalist@avis.example",
                      documents=[{"systemId": system_id, "saksnr": saksnr, "dokumentnr": dokumentnr}])
    message = deliver(maildir, einnsyn_mail(order))

    taken = innsyn(tmp_path, prefect_api_url, "intake", "maildir", str(maildir))

    assert taken.returncode == 0, taken.stderr
    (handled,) = json.loads(taken.stdout)["messages"]
    case_id = handled["case_id"]
    assert case_id == "eInnsyn-0b5e3c2a-1111-4222-8333-444455556666"
    assert (maildir / "cur" / f"{message.name}:2,S").exists()
    if handled["status"] == "awaiting_review":
        approved = innsyn(tmp_path, prefect_api_url, "review", "approve", case_id, "--reviewer", "Lise Jurist")
        assert json.loads(approved.stdout)["status"] == "released", approved.stderr
    with innsyn_db.open_db(tmp_path / "innsyn.duckdb", read_only=True) as con:
        withheld = [v for (v,) in con.execute("SELECT DISTINCT value FROM case_items WHERE case_id = ? AND "
                                               "decision = 'withhold'", [case_id]).fetchall()]
    assert withheld, "the demo class should withhold something, or this test proves little"

    with SmtpServer() as server:
        for key, value in server.env("none").items():
            monkeypatch.setenv(key, value)
        sent = innsyn(tmp_path, prefect_api_url, "send", case_id)
    assert sent.returncode == 0, sent.stderr
    (mail,) = server.inbox.messages()
    assert server.inbox.recipients == [["journalist@avis.example"]]
    (attachment,) = list(mail.iter_attachments())
    public = tmp_path / "out" / "public" / case_id / "svar.pdf"
    assert attachment.get_content() == public.read_bytes()

    archived = innsyn(tmp_path, prefect_api_url, "archive", case_id)
    assert archived.returncode == 0, archived.stderr
    package = tmp_path / "out" / "archive" / case_id
    xml = (package / "arkivmelding.xml").read_text(encoding="utf-8")
    xmlschema.XMLSchema(str(SCHEMA)).validate(xml)
    outgoing = ET.fromstring(xml).findall("a:mappe/a:registrering", N)[1]
    assert outgoing.findtext("a:journalstatus", namespaces=N) == "Ekspedert"
    assert outgoing.findtext("a:sendtDato", namespaces=N)

    left_the_building = squeeze(server.inbox.received[0].decode("utf-8", "replace") + pdf_text(public) + xml
                                + mail.get_body().get_content())
    leaked = [value for value in withheld if len(value) > 4 and squeeze(value) in left_the_building]
    assert leaked == [], "withheld values in the message, the answer or the archive's XML"
