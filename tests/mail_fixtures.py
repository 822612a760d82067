"""Synthetic eInnsyn mail for the intake tests: orders shaped like eInnsyn's own templates
(order-v1.xml, order-v2.xml in einnsyn-backend), attached to an e-mail as eInnsyn sends it,
and dropped into a Maildir the way a delivery agent does (written in tmp/, renamed into new/)."""

from __future__ import annotations

import itertools
import os
from email.message import EmailMessage
from pathlib import Path
from xml.sax.saxutils import escape

_counter = itertools.count(1)


def order_xml(*, version: int = 2, order_id: str = "e7a2c1d0-0000-4000-8000-00000000a001",
              ordered_on: str = "2026-11-23", email: str = "kari@avis.example",
              documents: list[dict] | None = None, prefix: str = "ein") -> bytes:
    """An order; each document a dict of saksnr, dokumentnr, journalnr and (v2) systemId."""
    documents = documents if documents is not None else [{"saksnr": "2026/1001", "dokumentnr": "9"}]
    if version == 1:
        day = ordered_on if "." in ordered_on else ".".join(reversed(ordered_on.split("-")))
        docs = "".join(
            f"<dokument><saksnr>{escape(d.get('saksnr', ''))}</saksnr><dokumentnr>{escape(d.get('dokumentnr', ''))}"
            f"</dokumentnr><journalnr>{escape(d.get('journalnr', '17'))}</journalnr></dokument>" for d in documents)
        return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<bestilling><id>{order_id}</id>'
                f"<bestillingsdato>{day}</bestillingsdato><til><enhet>Sagene skole</enhet></til>"
                "<innsynskravepost>postmottak@skole.example</innsynskravepost><kontaktinfo>"
                f"<forsendelsesmåte>e-post</forsendelsesmåte><navn></navn><organisasjon></organisasjon><land></land>"
                f"<e-post>{escape(email)}</e-post></kontaktinfo><dokumenter>{docs}</dokumenter></bestilling>\n"
                ).encode()
    docs = "".join(
        "<dokument>"
        + (f"<fagsysteminfo><id>{escape(d['fagsystemId'])}</id></fagsysteminfo>" if d.get("fagsystemId") else "")
        + f"<id>http://data.einnsyn.no/journalpost/{next(_counter)}</id>"
        + (f"<systemId>{escape(d['systemId'])}</systemId>" if d.get("systemId") else "")
        + f"<saksnr>{escape(d.get('saksnr', ''))}</saksnr><dokumentnr>{escape(d.get('dokumentnr', ''))}</dokumentnr>"
        + f"<journalnr>{escape(d.get('journalnr', '17'))}</journalnr><saksbehandler>[Ufordelt]</saksbehandler>"
        + "</dokument>" for d in documents)
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<{prefix}:bestilling xmlns:{prefix}="http://einnsyn.no/schema/order/v2"><id>{order_id}</id>'
            f"<bestillingsdato>{ordered_on}</bestillingsdato><til><virksomhet>Sagene skole</virksomhet>"
            "<orgnr>974590840</orgnr><innsynskravepost>postmottak@skole.example</innsynskravepost></til>"
            f"<kontaktinfo><forsendelsesmåte>e-post</forsendelsesmåte><e-post>{escape(email)}</e-post>"
            f"<språk>nb_NO</språk></kontaktinfo><dokumenter>{docs}</dokumenter></{prefix}:bestilling>\n").encode()


def einnsyn_mail(order: bytes, *, subject: str = "Innsynskrav for saksnummer 2026/1001",
                 message_id: str = "<order-1@einnsyn.example>") -> bytes:
    message = EmailMessage()
    message["From"] = "eInnsyn <ikkje-svar@einnsyn.example>"
    message["To"] = "postmottak@skole.example"
    message["Subject"] = subject
    message["Date"] = "Mon, 23 Nov 2026 08:30:00 +0100"
    message["Message-ID"] = message_id
    message.set_content("Vedlagt følger et innsynskrav bestilt via eInnsyn.")
    message.add_attachment(order, maintype="application", subtype="xml", filename="order.xml")
    return message.as_bytes()


def plain_mail(*, sender: str = "Ola Nordmann <ola@example.no>", subject: str = "Klasseliste 5B?",
               body: str = "Hei, kan jeg få klasselisten til 5B?") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "postmottak@skole.example"
    message["Subject"] = subject
    message["Date"] = "Mon, 23 Nov 2026 09:00:00 +0100"
    message["Message-ID"] = f"<plain-{next(_counter)}@example.no>"
    message.set_content(body)
    return message.as_bytes()


def make_maildir(folder: Path) -> Path:
    for sub in ("new", "cur", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return folder


def deliver(maildir: Path, raw: bytes, name: str | None = None) -> Path:
    """Write a message as a delivery agent does: in tmp/, then renamed into new/."""
    name = name or f"1764000000.M{next(_counter)}P{os.getpid()}.innsyn-test"
    staged = maildir / "tmp" / name
    staged.write_bytes(raw)
    target = maildir / "new" / name
    os.replace(staged, target)
    return target
