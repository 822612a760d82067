"""One request, end to end, the way a case handler runs it: the installed `innsyn` command.

A tiny export is planted with canary values in every place the policy withholds. The
request goes through the real CLI, the real Prefect flow and the real renderer; the public
PDF, read back with pypdf, holds every released value and none of the canaries.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CANARIES, RELEASED, canary_export, innsyn, pdf_text, squeeze, write_request


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def test_a_request_is_screened_reviewed_and_released_without_a_leak(workdir, prefect_api_url):
    assert innsyn(workdir, prefect_api_url, "db", "import", str(canary_export(workdir / "export"))).returncode == 0
    request = write_request(workdir / "request.json")

    processed = innsyn(workdir, prefect_api_url, "process", str(request))
    assert processed.returncode == 0, processed.stderr
    case = json.loads(processed.stdout)
    assert case["case_id"] == "2026-1234"
    assert case["status"] == "awaiting_review"  # a graded address and an institution: a lawyer must look
    assert case["outcome"] == "delvis_innvilget" and case["public_pdf"] is None
    review_text = squeeze(pdf_text(Path(case["review_pdf"])))
    assert squeeze(CANARIES["fortrolig pupil"]) in review_text  # the reviewer sees what is withheld
    assert not (workdir / "out" / "public").exists() or not any((workdir / "out" / "public").rglob("*.pdf"))

    # an institution stands in one parent's place: its whole entry is withheld, and the pupil's
    # name waits for the reviewer, who releases it beside the other parent
    released_name = innsyn(workdir, prefect_api_url, "review", "release", "2026-1234", "E2/pupil_name",
                           "--reviewer", "Lise Jurist", "--reason", "Den andre forelderen er oppført; navnet røper ikke plasseringen")
    assert released_name.returncode == 0, released_name.stderr
    approved = innsyn(workdir, prefect_api_url, "review", "approve", "2026-1234", "--reviewer", "Lise Jurist")
    assert approved.returncode == 0, approved.stderr
    released = json.loads(approved.stdout)
    assert released["status"] == "released"
    public = squeeze(pdf_text(Path(released["public_pdf"])))
    for value in RELEASED:
        assert squeeze(value) in public, value
    for where, canary in CANARIES.items():
        assert squeeze(canary) not in public, where
    assert "offentleglova§13førsteledd,jf.forvaltningsloven§13førsteleddnr.1" in public

    again = innsyn(workdir, prefect_api_url, "process", str(request))
    assert again.returncode == 0 and json.loads(again.stdout)["unchanged"] is True
    assert "nothing changed" in again.stderr


def test_the_reviewer_cannot_be_the_case_handler_who_registered_the_case(workdir, prefect_api_url):
    innsyn(workdir, prefect_api_url, "db", "import", str(canary_export(workdir / "export")))
    innsyn(workdir, prefect_api_url, "process", str(write_request(workdir / "request.json")), user="lise")
    refused = innsyn(workdir, prefect_api_url, "review", "approve", "2026-1234", "--reviewer", "Lise")
    assert refused.returncode == 2
    assert "four eyes" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def test_a_special_group_is_refused_and_nothing_remains(workdir, prefect_api_url):
    innsyn(workdir, prefect_api_url, "db", "import", str(canary_export(workdir / "export")))
    request = write_request(workdir / "request.json", request_id="2026/77",
                            scope={"school_id": "S001", "classes": ["Forsterket avdeling"]})
    case = json.loads(innsyn(workdir, prefect_api_url, "process", str(request)).stdout)
    assert case["outcome"] == "avslatt" and case["status"] == "awaiting_review"


@pytest.mark.parametrize("change, message", [
    ({"scope": {"school_id": "S999", "classes": ["5B"]}}, "unknown school"),
    ({"scope": {"school_id": "S001", "classes": ["9Z"]}}, "unknown class"),
    ({"request_id": "../../etc/passwd"}, "request_id"),
    ({"received_at": "2026-11-23T09:15:00"}, "time zone"),
    ({"requester": {"name": "", "kind": "spy"}}, "requester.kind"),
])
def test_bad_requests_exit_2_with_one_line_and_write_nothing(workdir, prefect_api_url, change, message):
    innsyn(workdir, prefect_api_url, "db", "import", str(canary_export(workdir / "export")))
    before = (workdir / "innsyn.duckdb").read_bytes()
    result = innsyn(workdir, prefect_api_url, "process", str(write_request(workdir / "bad.json", **change)))
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert (workdir / "innsyn.duckdb").read_bytes() == before
    assert not (workdir / "out").exists()


def test_a_file_that_is_not_json_is_bad_input(workdir, prefect_api_url):
    bad = workdir / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    result = innsyn(workdir, prefect_api_url, "process", str(bad))
    assert result.returncode == 2 and "not valid JSON" in result.stderr
