"""`innsyn archive CASE`: the case as a Noark 5 archive package (arkivmelding v1).

`out/archive/<case>/` (owner-only: it holds the review copy) gets:

| file | what |
| --- | --- |
| `arkivmelding.xml` | a saksmappe with two journalposts: the request (incoming, I) and the answer (outgoing, U) |
| `innsynskrav.txt` | the request as registered (case number, received, requester, scope), UTF-8 text |
| `svar.pdf` | the public answer: the document of record (Hoveddokument, Arkivformat) |
| `intern.pdf` | the review copy: every value, withheld ones marked; a screened attachment |

Screening: the review copy's dokumentbeskrivelse carries a `skjerming` (tilgangsrestriksjon
13, skjermingshjemmel "offl. § 13 jf. fvl. § 13 første ledd nr. 1", the whole document). The
request is not screened: it names the requester and the class lists asked for, and neither is
a personal circumstance under fvl. § 13 (anyone may ask, and who asks is no secret); the
requester's name is in `korrespondansepart`, which an archive screens by its own rules. Every
title, and every `offentligTittel`, names the school and classes and no person.

Every PDF is checked as PDF/A (innsyn.archive.pdfa) before anything is written, and the XML
is validated against the subset schema the project keeps (schema/arkivmelding-subset.xsd).
The folder is written beside its final place and renamed into it, so a package is whole or
absent; archiving again replaces it with the same content (ids are derived from the case).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from innsyn import clock
from innsyn.archive.pdfa import check_pdfa
from innsyn.case_documents import CasePaths, scope_text
from innsyn.db import open_db
from innsyn.request import BadInput

NAMESPACE = "http://www.arkivverket.no/standarder/noark5/arkivmelding"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA = Path(__file__).resolve().parent / "schema" / "arkivmelding-subset.xsd"
SCREENING_BASIS = "offl. § 13 jf. fvl. § 13 første ledd nr. 1"
ACCESS_CODE = "13"  # tilgangsrestriksjon: taushetsplikt
#: the namespace of this product's archive ids: the same case always gets the same ids
ID_NAMESPACE = uuid.UUID("0b7c7f4e-5a9d-5c61-8a0e-4e2f1d3c9b71")
SYSTEM = "innsyn"


class ArchiveRefused(Exception):
    """The package was not written: one line (a PDF that is not PDF/A, an invalid package)."""

    exit_code = 1


@dataclass(frozen=True)
class CaseRecord:
    case_id: str
    received_at: datetime
    registered_at: datetime
    registered_by: str
    released_at: datetime
    requester_name: str
    requester_email: str | None
    requester_org: str | None
    requester_reference: str | None
    title: str
    public_pdf: Path
    review_pdf: Path
    sent_at: datetime | None
    approved_by: str | None


def archive_case(case_id: str, *, db: Path, out: Path) -> dict:
    record = _record(db, out, case_id)
    reports = [check_pdfa(record.public_pdf), check_pdfa(record.review_pdf)]
    for report in reports:
        if not report.ok:
            raise ArchiveRefused(f"case {case_id}: {Path(report.path).name} is not PDF/A as the archive needs: "
                                 f"{report.problems[0]}")
    target = out / "archive" / case_id
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{case_id}."))
    try:
        request_text = _request_text(record).encode("utf-8")
        (work / "innsynskrav.txt").write_bytes(request_text)
        shutil.copyfile(record.public_pdf, work / "svar.pdf")
        shutil.copyfile(record.review_pdf, work / "intern.pdf")
        xml = arkivmelding(record, {name: (work / name).read_bytes() for name in
                                    ("innsynskrav.txt", "svar.pdf", "intern.pdf")})
        (work / "arkivmelding.xml").write_bytes(xml)
        problem = validation_problem(xml)
        if problem:
            raise ArchiveRefused(f"case {case_id}: arkivmelding.xml does not validate: {problem}")
        for file in work.iterdir():
            os.chmod(file, 0o600)
        _replace_folder(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"case_id": case_id, "archive": str(target),
            "files": ["arkivmelding.xml", "innsynskrav.txt", "svar.pdf", "intern.pdf"],
            "pdfa": {Path(r.path).name: r.level for r in reports}}


def validation_problem(xml: bytes) -> str | None:
    """The first reason the XML is not valid against the subset schema, or None."""
    import xmlschema

    schema = xmlschema.XMLSchema(str(SCHEMA))
    error = next(iter(schema.iter_errors(xml.decode("utf-8"))), None)
    return None if error is None else f"{error.reason} (at {error.path})"


def _replace_folder(work: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(work, target)
    os.chmod(target, 0o700)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _record(db: Path, out: Path, case_id: str) -> CaseRecord:
    with open_db(db, read_only=True) as con:
        row = con.execute(
            """SELECT status, received_at, registered_at, registered_by, released_at, requester_name,
                      requester_email, requester_org, requester_reference, scope_school_id, scope_classes
               FROM cases WHERE case_id = ?""", [case_id]).fetchone()
        if row is None:
            raise BadInput(f"no case {case_id!r}")
        if row[0] != "released":
            raise BadInput(f"case {case_id} is {row[0]}, not released: only an answered case is archived")
        classes = con.execute("SELECT class_id, school_id, school_name, class_name, grade FROM case_classes "
                              "WHERE case_id = ? ORDER BY school_name, grade, class_name", [case_id]).fetchall()
        events = dict(con.execute(
            "SELECT event, max_by(detail, event_id) FROM case_events WHERE case_id = ? AND event IN ('sent') "
            "GROUP BY event", [case_id]).fetchall())
        approved = con.execute("SELECT max_by(actor, event_id) FROM case_events WHERE case_id = ? AND "
                               "event = 'approved'", [case_id]).fetchone()[0]
    _, received, registered, registered_by, released, name, email, org, reference, school, scope = row
    paths = CasePaths.under(out, case_id)
    for pdf in (paths.public_pdf, paths.review_pdf):
        if not pdf.is_file():
            raise BadInput(f"case {case_id}: {pdf} is missing")
    sent = json.loads(events["sent"])["sent_at"] if events.get("sent") else None
    title = "Innsynskrav i " + scope_text(classes, json.loads(scope) == "all", school == "all")
    return CaseRecord(case_id, received, registered, registered_by, released, name, email, org, reference, title,
                      paths.public_pdf, paths.review_pdf, datetime.fromisoformat(sent) if sent else None, approved)


def _request_text(record: CaseRecord) -> str:
    lines = [f"Innsynskrav – sak {record.case_id}",
             f"Mottatt: {_oslo(record.received_at).isoformat()}",
             f"Registrert: {_oslo(record.registered_at).isoformat()} av {record.registered_by}",
             f"Innsynskravet gjelder: {record.title.removeprefix('Innsynskrav i ')}",
             f"Fra: {record.requester_name or 'anonym'}"]
    lines += [f"Organisasjon: {record.requester_org}"] if record.requester_org else []
    lines += [f"E-post: {record.requester_email}"] if record.requester_email else []
    lines += [f"Deres referanse: {record.requester_reference}"] if record.requester_reference else []
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- the XML


def _id(record: CaseRecord, what: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{record.case_id}/{what}"))


def _oslo(moment: datetime) -> datetime:
    return moment.astimezone(clock.OSLO)


def _add(parent: ET.Element, name: str, text: object | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    if text is not None:
        element.text = text.isoformat() if isinstance(text, datetime) else str(text)
    return element


def arkivmelding(record: CaseRecord, files: dict[str, bytes]) -> bytes:
    """The arkivmelding for the case, in the element order of arkivmelding.xsd v1."""
    ET.register_namespace("", NAMESPACE)
    ET.register_namespace("xsi", XSI)
    root = ET.Element(f"{{{NAMESPACE}}}arkivmelding")
    _add(root, "system", SYSTEM)
    _add(root, "meldingId", _id(record, f"melding/{record.released_at.isoformat()}"))
    _add(root, "tidspunkt", _oslo(record.released_at))
    _add(root, "antallFiler", len(files))
    folder = _add(root, "mappe")
    folder.set(f"{{{XSI}}}type", "saksmappe")
    _add(folder, "systemID", _id(record, "saksmappe"))
    _add(folder, "tittel", record.title)
    _add(folder, "offentligTittel", record.title)
    _add(folder, "opprettetDato", _oslo(record.registered_at))
    _add(folder, "opprettetAv", record.registered_by)
    _add(folder, "avsluttetDato", _oslo(record.released_at))
    _external_key(folder, record.case_id)
    _incoming(folder, record, files)
    _outgoing(folder, record, files)
    _add(folder, "saksaar", _oslo(record.received_at).year)
    _add(folder, "saksdato", _oslo(record.received_at).date().isoformat())
    _add(folder, "saksstatus", "Avsluttet")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _external_key(parent: ET.Element, key: str) -> None:
    external = _add(parent, "referanseEksternNoekkel")
    _add(external, "fagsystem", SYSTEM)
    _add(external, "noekkel", key)


def _incoming(folder: ET.Element, record: CaseRecord, files: dict[str, bytes]) -> None:
    post = _journalpost(folder, record, "innsynskrav")
    _document(post, record, "innsynskrav", "Innsynskrav", record.title, "Hoveddokument", 1,
              "innsynskrav.txt", files, "TXT", "text/plain", screened=False)
    _add(post, "tittel", record.title)
    _add(post, "offentligTittel", record.title)
    part = _add(post, "korrespondansepart")
    _add(part, "korrespondanseparttype", "Avsender")
    _add(part, "korrespondansepartNavn", record.requester_name or record.requester_org or "Anonym")
    if record.requester_email:
        _add(part, "epostadresse", record.requester_email)
    if record.requester_reference:
        _add(part, "deresReferanse", record.requester_reference)
    _external_key(post, f"{record.case_id}/innsynskrav")
    _add(post, "journalposttype", "Inngående dokument")
    _add(post, "journalstatus", "Journalført")
    _add(post, "journaldato", _oslo(record.registered_at).date().isoformat())
    _add(post, "mottattDato", _oslo(record.received_at))


def _outgoing(folder: ET.Element, record: CaseRecord, files: dict[str, bytes]) -> None:
    title = record.title.replace("Innsynskrav i ", "Svar på innsynskrav i ", 1)
    post = _journalpost(folder, record, "svar")
    _document(post, record, "svar", "Brev", title, "Hoveddokument", 1, "svar.pdf", files, "PDF/A", "application/pdf",
              screened=False)
    _document(post, record, "intern", "Internt arbeidsdokument",
              "Internt arbeidsdokument: fullstendig klasseliste med vurdering", "Vedlegg", 2, "intern.pdf", files,
              "PDF/A", "application/pdf", screened=True)
    _add(post, "tittel", title)
    _add(post, "offentligTittel", title)
    part = _add(post, "korrespondansepart")
    _add(part, "korrespondanseparttype", "Mottaker")
    _add(part, "korrespondansepartNavn", record.requester_name or record.requester_org or "Anonym")
    if record.requester_email:
        _add(part, "epostadresse", record.requester_email)
        _add(part, "forsendelsesmaate", "E-post")
    _external_key(post, f"{record.case_id}/svar")
    _add(post, "journalposttype", "Utgående dokument")
    _add(post, "journalstatus", "Ekspedert" if record.sent_at else "Journalført")
    _add(post, "journaldato", _oslo(record.released_at).date().isoformat())
    _add(post, "dokumentetsDato", _oslo(record.released_at).date().isoformat())
    if record.sent_at:
        _add(post, "sendtDato", _oslo(record.sent_at))
    _add(post, "offentlighetsvurdertDato", _oslo(record.released_at).date().isoformat())


def _journalpost(folder: ET.Element, record: CaseRecord, what: str) -> ET.Element:
    post = _add(folder, "registrering")
    post.set(f"{{{XSI}}}type", "journalpost")
    _add(post, "systemID", _id(record, what))
    _add(post, "opprettetDato", _oslo(record.registered_at if what == "innsynskrav" else record.released_at))
    _add(post, "opprettetAv", record.registered_by if what == "innsynskrav" else (record.approved_by or SYSTEM))
    return post


def _document(post: ET.Element, record: CaseRecord, what: str, kind: str, title: str, role: str, number: int,
              file: str, files: dict[str, bytes], file_format: str, mime: str, *, screened: bool) -> None:
    description = _add(post, "dokumentbeskrivelse")
    _add(description, "systemID", _id(record, f"dokument/{what}"))
    _add(description, "dokumenttype", kind)
    _add(description, "dokumentstatus", "Dokumentet er ferdigstilt")
    _add(description, "tittel", title)
    _add(description, "tilknyttetRegistreringSom", role)
    _add(description, "dokumentnummer", number)
    if screened:
        screening = _add(description, "skjerming")
        _add(screening, "tilgangsrestriksjon", ACCESS_CODE)
        _add(screening, "skjermingshjemmel", SCREENING_BASIS)
        _add(screening, "skjermingMetadata", "Dokumentbeskrivelse tittel")
        _add(screening, "skjermingDokument", "Hele")
    data = files[file]
    obj = _add(description, "dokumentobjekt")
    _add(obj, "versjonsnummer", 1)
    _add(obj, "variantformat", "Arkivformat")
    _add(obj, "format", file_format)
    if file_format == "PDF/A":
        _add(obj, "formatDetaljer", "PDF/A-2u")
    _add(obj, "mimeType", mime)
    _add(obj, "referanseDokumentfil", file)
    _add(obj, "sjekksum", hashlib.sha256(data).hexdigest())
    _add(obj, "sjekksumAlgoritme", "SHA256")
    _add(obj, "filstoerrelse", len(data))
