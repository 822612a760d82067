"""One request, end to end, the way a case handler runs it: the installed `innsyn` command.

A tiny export is planted with canary values in every place the policy withholds. The
request goes through the real CLI, the real Prefect flow and the real renderer; the public
PDF, read back with pypdf, holds every released value and none of the canaries.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest

from conftest import FIXED_NOW, write_request

INNSYN = str(Path(sys.executable).with_name("innsyn"))

CANARIES = {
    "fortrolig pupil": "Kanarifortrolig",
    "fortrolig guardian email": "kanari.fortrolig@example.no",
    "strengt fortrolig pupil": "Kanaristrengt",
    "strengt fortrolig address": "Kanarihemmeligveien 66",
    "institution address": "Thereses gt. 12b",
    "special group pupil": "Kanarispesial",
}
RELEASED = ["Åse Sæther", "Ánte Somby", "Mohammed Ali", "solveig.haugen@example.no", "Sandakerveien 7", "912 34 567"]


def _write_csv(path: Path, header: str, rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header.split(","))
        writer.writerows(rows)


def canary_export(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _write_csv(folder / "schools.csv", "school_id,name,special_school", [["S001", "Sagene skole", "false"]])
    _write_csv(folder / "classes.csv", "class_id,school_id,name,grade,special_group",
               [["S001-5B", "S001", "5B", "5", "false"], ["S001-FA", "S001", "Forsterket avdeling", "5", "true"]])
    _write_csv(folder / "students.csv", "student_id,class_id,first_name,last_name,address_protection", [
        ["E1", "S001-5B", "Åse", "Sæther", ""],
        ["E2", "S001-5B", "Ánte", "Somby", "ugradert"],
        ["E3", "S001-5B", "Mohammed", "Ali", "ugradert"],
        ["E4", "S001-5B", "Kari", CANARIES["fortrolig pupil"], "fortrolig"],
        ["E5", "S001-5B", "Per", CANARIES["strengt fortrolig pupil"], "strengt_fortrolig"],
        ["E6", "S001-FA", "Ola", CANARIES["special group pupil"], "ugradert"],
    ])
    header = ("guardian_id,student_id,first_name,last_name,email,phone,phone_unlisted,street_address,"
              "postal_code,postal_city,address_protection,share_names,share_email,share_phone,share_address")
    everything = ["true", "true", "true", "true"]
    _write_csv(folder / "guardians.csv", header, [
        ["F1", "E1", "Solveig", "Haugen", "solveig.haugen@example.no", "912 34 567", "false", "Sandakerveien 7", "0477", "OSLO", "", *everything],
        ["F2", "E2", "Máret", "Somby", "maret.somby@example.no", "913 00 000", "true", CANARIES["institution address"], "0358", "OSLO", "", *everything],
        ["F3", "E3", "Amina", "Ali", "amina.ali@example.no", "914 00 000", "false", "Grefsenveien 3", "0482", "OSLO", "", *everything],
        ["F4", "E4", "Liv", CANARIES["fortrolig pupil"], CANARIES["fortrolig guardian email"], "915 00 000", "false", "Skjult gate 1", "0170", "OSLO", "fortrolig", *everything],
        ["F5", "E5", "Anne", CANARIES["strengt fortrolig pupil"], "anne.k@example.no", "916 00 000", "false", CANARIES["strengt fortrolig address"], "0170", "OSLO", "strengt_fortrolig", *everything],
        ["F6", "E6", "Eva", CANARIES["special group pupil"], "eva.k@example.no", "917 00 000", "false", "Vogts gate 9", "0474", "OSLO", "", *everything],
    ])
    _write_csv(folder / "institutions.csv", "institution_id,name,street_address,postal_code,kind",
               [["I001", "Bjølsen ungdomshjem", "Thereses gate 12 B", "0358", "barnevernsinstitusjon"]])
    return folder


@pytest.fixture
def workdir(tmp_path: Path, prefect_home: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="session")
def prefect_home(tmp_path_factory) -> Path:
    """One Prefect home for every CLI run of the session: its database migrates once."""
    return tmp_path_factory.mktemp("prefect-home")


def innsyn(workdir: Path, prefect_home: Path, *args: str, user: str = "saksbehandler") -> subprocess.CompletedProcess:
    env = {**os.environ, "INNSYN_NOW": FIXED_NOW, "INNSYN_USER": user, "PREFECT_HOME": str(prefect_home),
           "INNSYN_DB": str(workdir / "innsyn.duckdb"), "INNSYN_OUT": str(workdir / "out")}
    return subprocess.run([INNSYN, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=600)


def pdf_text(path: Path) -> str:
    reader = pypdf.PdfReader(path)
    text = "\n".join(page.extract_text() for page in reader.pages)
    return text + "\n" + json.dumps({k: str(v) for k, v in (reader.metadata or {}).items()}, ensure_ascii=False)


def squeeze(text: str) -> str:
    return "".join(text.split()).casefold()


def test_a_request_is_screened_reviewed_and_released_without_a_leak(workdir, prefect_home):
    assert innsyn(workdir, prefect_home, "db", "import", str(canary_export(workdir / "export"))).returncode == 0
    request = write_request(workdir / "request.json")

    processed = innsyn(workdir, prefect_home, "process", str(request))
    assert processed.returncode == 0, processed.stderr
    case = json.loads(processed.stdout)
    assert case["case_id"] == "2026-1234"
    assert case["status"] == "awaiting_review"  # a graded address and an institution: a lawyer must look
    assert case["outcome"] == "delvis_innvilget" and case["public_pdf"] is None
    review_text = squeeze(pdf_text(Path(case["review_pdf"])))
    assert squeeze(CANARIES["fortrolig pupil"]) in review_text  # the reviewer sees what is withheld
    assert not (workdir / "out" / "public").exists() or not any((workdir / "out" / "public").rglob("*.pdf"))

    approved = innsyn(workdir, prefect_home, "review", "approve", "2026-1234", "--reviewer", "Lise Jurist")
    assert approved.returncode == 0, approved.stderr
    released = json.loads(approved.stdout)
    assert released["status"] == "released"
    public = squeeze(pdf_text(Path(released["public_pdf"])))
    for value in RELEASED:
        assert squeeze(value) in public, value
    for where, canary in CANARIES.items():
        assert squeeze(canary) not in public, where
    assert "offentleglova§13førsteledd,jf.forvaltningsloven§13førsteleddnr.1" in public

    again = innsyn(workdir, prefect_home, "process", str(request))
    assert again.returncode == 0 and json.loads(again.stdout)["unchanged"] is True
    assert "nothing changed" in again.stderr


def test_the_reviewer_cannot_be_the_case_handler_who_registered_the_case(workdir, prefect_home):
    innsyn(workdir, prefect_home, "db", "import", str(canary_export(workdir / "export")))
    innsyn(workdir, prefect_home, "process", str(write_request(workdir / "request.json")), user="lise")
    refused = innsyn(workdir, prefect_home, "review", "approve", "2026-1234", "--reviewer", "Lise")
    assert refused.returncode == 2
    assert "four eyes" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def test_a_special_group_is_refused_and_nothing_remains(workdir, prefect_home):
    innsyn(workdir, prefect_home, "db", "import", str(canary_export(workdir / "export")))
    request = write_request(workdir / "request.json", request_id="2026/77",
                            scope={"school_id": "S001", "classes": ["Forsterket avdeling"]})
    case = json.loads(innsyn(workdir, prefect_home, "process", str(request)).stdout)
    assert case["outcome"] == "avslatt" and case["status"] == "awaiting_review"


@pytest.mark.parametrize("change, message", [
    ({"scope": {"school_id": "S999", "classes": ["5B"]}}, "unknown school"),
    ({"scope": {"school_id": "S001", "classes": ["9Z"]}}, "unknown class"),
    ({"request_id": "../../etc/passwd"}, "request_id"),
    ({"received_at": "2026-11-23T09:15:00"}, "time zone"),
    ({"requester": {"name": "", "kind": "spy"}}, "requester.kind"),
])
def test_bad_requests_exit_2_with_one_line_and_write_nothing(workdir, prefect_home, change, message):
    innsyn(workdir, prefect_home, "db", "import", str(canary_export(workdir / "export")))
    before = (workdir / "innsyn.duckdb").read_bytes()
    result = innsyn(workdir, prefect_home, "process", str(write_request(workdir / "bad.json", **change)))
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert (workdir / "innsyn.duckdb").read_bytes() == before
    assert not (workdir / "out").exists()


def test_a_file_that_is_not_json_is_bad_input(workdir, prefect_home):
    bad = workdir / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    result = innsyn(workdir, prefect_home, "process", str(bad))
    assert result.returncode == 2 and "not valid JSON" in result.stderr
