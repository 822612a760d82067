"""`innsyn archive CASE`: the Noark 5 package, validated; PDF/A checked, not assumed.

The arkivmelding is validated with xmlschema against the subset schema the project keeps
(flows/archive/schema/), whose element order follows the published arkivmelding v1; the
PDF/A checks are shown to catch each thing they look for, on PDFs broken on purpose, and to
pass the product's own PDFs, the merged bulk answer too.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pikepdf
import pytest
import xmlschema

from conftest import (CANARIES, canary_case_awaiting_review, canary_export, released_canary_case, innsyn, squeeze,
                      write_request)
from innsyn.archive.package import NAMESPACE, SCHEMA, SCREENING_BASIS, validation_problem
from innsyn.archive.pdfa import check_pdfa

N = {"a": NAMESPACE}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


@pytest.fixture(scope="module")
def released_case(tmp_path_factory, prefect_api_url) -> Path:
    return released_canary_case(tmp_path_factory.mktemp("archive"), prefect_api_url, "2026/6001")


@pytest.fixture
def workdir(tmp_path: Path, released_case: Path) -> Path:
    copy = tmp_path / "case"
    shutil.copytree(released_case, copy, symlinks=True)
    return copy


def archive(workdir: Path, prefect_api_url: str, case: str = "2026-6001"):
    return innsyn(workdir, prefect_api_url, "archive", case)


def test_the_package_validates_and_files_the_request_in_and_the_answer_out(workdir, prefect_api_url):
    result = archive(workdir, prefect_api_url)

    assert result.returncode == 0, result.stderr
    package = Path(json.loads(result.stdout)["archive"])
    assert sorted(p.name for p in package.iterdir()) == ["arkivmelding.xml", "innsynskrav.txt", "intern.pdf", "svar.pdf"]
    xml = (package / "arkivmelding.xml").read_bytes()
    xmlschema.XMLSchema(str(SCHEMA)).validate(xml.decode())
    root = ET.fromstring(xml)
    (folder,) = root.findall("a:mappe", N)
    assert folder.get(XSI_TYPE) == "saksmappe"
    incoming, outgoing = folder.findall("a:registrering", N)
    assert [post.get(XSI_TYPE) for post in (incoming, outgoing)] == ["journalpost", "journalpost"]
    assert incoming.findtext("a:journalposttype", namespaces=N) == "Inngående dokument"
    assert outgoing.findtext("a:journalposttype", namespaces=N) == "Utgående dokument"
    answer, review = outgoing.findall("a:dokumentbeskrivelse", N)
    assert answer.findtext("a:tilknyttetRegistreringSom", namespaces=N) == "Hoveddokument"
    assert answer.find("a:skjerming", N) is None
    assert answer.findtext("a:dokumentobjekt/a:referanseDokumentfil", namespaces=N) == "svar.pdf"
    assert review.findtext("a:skjerming/a:skjermingshjemmel", namespaces=N) == SCREENING_BASIS
    assert review.findtext("a:skjerming/a:tilgangsrestriksjon", namespaces=N) == "13"
    assert review.findtext("a:dokumentobjekt/a:referanseDokumentfil", namespaces=N) == "intern.pdf"
    for obj in root.iter(f"{{{NAMESPACE}}}dokumentobjekt"):
        data = (package / obj.findtext("a:referanseDokumentfil", namespaces=N)).read_bytes()
        assert obj.findtext("a:sjekksum", namespaces=N) == hashlib.sha256(data).hexdigest()
        assert int(obj.findtext("a:filstoerrelse", namespaces=N)) == len(data)
    assert (package / "svar.pdf").read_bytes() == (workdir / "out/public/2026-6001/svar.pdf").read_bytes()
    assert int(root.findtext("a:antallFiler", namespaces=N)) == 3


def test_public_titles_name_no_person_and_nothing_withheld_is_in_the_xml(workdir, prefect_api_url):
    assert archive(workdir, prefect_api_url).returncode == 0
    xml = (workdir / "out/archive/2026-6001/arkivmelding.xml").read_text(encoding="utf-8")
    titles = [t.text for t in ET.fromstring(xml).iter(f"{{{NAMESPACE}}}offentligTittel")]
    assert titles == ["Innsynskrav i klasselisten for 5B ved Sagene skole"] * 2 + [
        "Svar på innsynskrav i klasselisten for 5B ved Sagene skole"]
    for title in titles:
        assert "Kari" not in title and "Nordmann" not in title  # the requester is not in a public title
    for label, canary in CANARIES.items():
        assert squeeze(canary) not in squeeze(xml), label


def test_archiving_again_gives_the_same_package(workdir, prefect_api_url):
    assert archive(workdir, prefect_api_url).returncode == 0
    first = {p.name: p.read_bytes() for p in (workdir / "out/archive/2026-6001").iterdir()}
    assert archive(workdir, prefect_api_url).returncode == 0
    assert {p.name: p.read_bytes() for p in (workdir / "out/archive/2026-6001").iterdir()} == first


def test_a_case_not_yet_released_is_not_archived(tmp_path, prefect_api_url):
    workdir = canary_case_awaiting_review(tmp_path, prefect_api_url, "2026/6002")
    result = archive(workdir, prefect_api_url, "2026-6002")
    assert result.returncode == 2 and "not released: only an answered case is archived" in result.stderr
    assert not (workdir / "out" / "archive").exists()


def test_an_answer_that_is_not_pdfa_is_not_archived(workdir, prefect_api_url):
    public = workdir / "out/public/2026-6001/svar.pdf"
    with pikepdf.open(public, allow_overwriting_input=True) as pdf:
        del pdf.Root["/OutputIntents"]
        pdf.save(public)
    result = archive(workdir, prefect_api_url)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "innsyn: error: case 2026-6001: svar.pdf is not PDF/A as the archive needs: "
        "no PDF/A output intent (OutputIntents with S GTS_PDFA1)")
    assert not (workdir / "out/archive/2026-6001").exists()


def test_the_schema_is_not_a_rubber_stamp(workdir, prefect_api_url):
    """Two elements swapped, or a required one gone, and the package does not validate."""
    assert archive(workdir, prefect_api_url).returncode == 0
    xml = (workdir / "out/archive/2026-6001/arkivmelding.xml").read_text(encoding="utf-8")
    assert validation_problem(xml.encode()) is None
    swapped = re.sub(r"(<journalposttype>Utgående dokument</journalposttype>)(\s*)(<journalstatus>\w+</journalstatus>)",
                     r"\3\2\1", xml)
    assert swapped != xml and validation_problem(swapped.encode()) is not None
    without = xml.replace("<skjermingshjemmel>" + SCREENING_BASIS + "</skjermingshjemmel>", "")
    assert without != xml and validation_problem(without.encode()) is not None


# ----------------------------------------------------------------------------- PDF/A checks


def _broken(source: Path, target: Path, how) -> Path:
    with pikepdf.open(source) as pdf:
        extra = how(pdf) or {}
        pdf.save(target, **extra)
    return target


def _no_xmp(pdf):
    del pdf.Root["/Metadata"]


def _no_output_intent(pdf):
    del pdf.Root["/OutputIntents"]


def _web_link(pdf):
    link = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10],
        A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://example.net/"))))
    pdf.pages[0].obj["/Annots"] = pdf.make_indirect(pikepdf.Array([link]))


def _javascript(pdf):
    pdf.Root["/OpenAction"] = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))


def _encrypted(pdf):
    return {"encryption": pikepdf.Encryption(owner="eier", user="", R=6)}


def _font_not_embedded(pdf):
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    page = pdf.pages[0].obj
    resources = page.get("/Resources")
    fonts = resources.get("/Font")
    fonts["/Fx"] = font


def _pdfa_1a(pdf):
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["pdfaid:part"] = "3"


BREAKAGES = {
    "no PDF/A identification": _no_xmp,
    "no PDF/A output intent": _no_output_intent,
    "actions that leave the file": _web_link,
    "JavaScript": _javascript,
    "encrypted": _encrypted,
    "font not embedded: Helvetica": _font_not_embedded,
    "is not a level the archive accepts": _pdfa_1a,
}


@pytest.mark.parametrize("expected", sorted(BREAKAGES))
def test_each_pdfa_check_catches_what_it_looks_for(expected, released_case, tmp_path):
    source = released_case / "out/public/2026-6001/svar.pdf"
    assert check_pdfa(source).ok, check_pdfa(source).problems
    report = check_pdfa(_broken(source, tmp_path / "broken.pdf", BREAKAGES[expected]))
    assert not report.ok
    assert any(expected in problem for problem in report.problems), report.problems


def test_the_merged_bulk_answer_and_its_review_copy_are_pdfa(tmp_path, prefect_api_url):
    """A request for every class at every school: the parts merged behind the letter with pypdf.

    Two schools make it a bulk case (a part per school, merged): the canary register, whose
    review copy withholds graded and institution values, and a second school of one class."""
    export = canary_export(tmp_path / "export")
    for name, row in (("schools.csv", ["S002", "Bjølsen skole", "false"]),
                      ("classes.csv", ["S002-3A", "S002", "3A", "3", "false"]),
                      ("students.csv", ["E21", "S002-3A", "Ingrid", "Berg", ""]),
                      ("guardians.csv", ["F21", "E21", "Tone", "Berg", "tone.berg@example.no", "921 00 000", "false",
                                         "Bjølsenveien 2", "0468", "OSLO", "", "true", "true", "true", "true"])):
        with (export / name).open("a", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow(row)
    assert innsyn(tmp_path, prefect_api_url, "db", "import", str(export)).returncode == 0
    write_request(tmp_path / "all.json", request_id="2026/6100", scope={"school_id": "all", "classes": "all"})
    processed = innsyn(tmp_path, prefect_api_url, "process", "all.json")
    assert processed.returncode == 0, processed.stderr
    if json.loads(processed.stdout)["status"] == "awaiting_review":
        approved = innsyn(tmp_path, prefect_api_url, "review", "approve", "2026-6100", "--reviewer", "Lise Jurist")
        assert approved.returncode == 0, approved.stderr
    result = archive(tmp_path, prefect_api_url, "2026-6100")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pdfa"] == {"svar.pdf": "PDF/A-2u", "intern.pdf": "PDF/A-2u"}
    for name in ("svar.pdf", "intern.pdf"):
        assert check_pdfa(tmp_path / "out/archive/2026-6100" / name).ok
