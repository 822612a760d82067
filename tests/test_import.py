"""`innsyn db import DIR`: the school system's export replaces the school data, all or nothing.

Every test starts from tests/fixtures/export_small, a tiny good export, and changes one thing.
The database is a real DuckDB file: empty (`empty_db`), or already holding the good export and
a case (`loaded_db`), which a bad export must leave exactly as it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from innsyn import db, resources
from innsyn.importer import ImportFailed, import_export

FIXTURE = Path(__file__).parent / "fixtures" / "export_small"
# Personal data in the fixture that no error message may repeat.
PERSONAL = ("Nordmann", "Kjær", "Hansen", "Berg", "Liv", "Mona", "example.no", "9000000",
            "Trondheimsveien", "Sognsveien", "Storgt", "1512345")


def good(file: str) -> str:
    """The text of one file of the good export."""
    return (FIXTURE / f"{file}.csv").read_text(encoding="utf-8")


def edit(file: str, old: str, new: str) -> str:
    """The good export's text of `file`, with `old` (which must be there) replaced by `new`."""
    text = good(file)
    assert old in text
    return text.replace(old, new, 1)


def export(tmp_path: Path, **files: str | bytes | None) -> Path:
    """A copy of the good export in tmp_path; each keyword replaces that file's content
    (text, or raw bytes), or deletes the file (None)."""
    folder = tmp_path / "export"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(FIXTURE, folder)
    for file, content in files.items():
        path = folder / f"{file}.csv"
        if content is None:
            path.unlink()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


def dump(con) -> dict[str, list[tuple]]:
    """Every row of every table in the database file, sorted: its whole content."""
    tables = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() ORDER BY table_name"
    ).fetchall()
    return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for (t,) in tables}


@pytest.fixture
def empty_db(tmp_path):
    """A new database file with the schema and no data."""
    with db.open_db(tmp_path / "innsyn.duckdb") as con:
        db.init_schema(con)
        yield con


@pytest.fixture
def loaded_db(empty_db):
    """A database file holding the good export and one case."""
    import_export(empty_db, FIXTURE)
    empty_db.execute(
        "INSERT INTO cases (case_id, request_id, received_at, requester_name, requester_kind,"
        " scope_school_id, scope_classes, registered_by, status, registered_at)"
        " VALUES ('2026-1', '2026/1', now(), 'Avisa', 'journalist', 'S001', '[\"5B\"]',"
        " 'test', 'released', now())"
    )
    return empty_db


# --- a good export --------------------------------------------------------------------------


def test_a_good_export_is_imported_with_counts_and_types(empty_db):
    counts = import_export(empty_db, FIXTURE)

    assert counts == {"schools": 2, "classes": 3, "students": 6, "guardians": 6,
                      "institutions": 1, "journal_documents": 0}
    assert empty_db.execute("SELECT * FROM classes WHERE class_id = 'C003'").fetchone() == (
        "C003", "S002", "Gruppe 1", 7, True)
    assert empty_db.execute("SELECT * FROM schools ORDER BY school_id").fetchall() == [
        ("S001", "Bjølsen skole", False), ("S002", "Aurora skole", True)]


def test_booleans_ignore_case_and_spaces(loaded_db):
    # guardians.csv line 4 has "TRUE" and " False " for share_names and share_email
    assert loaded_db.execute(
        "SELECT share_names, share_email, share_phone, share_address, phone_unlisted "
        "FROM guardians WHERE guardian_id = 'G003'"
    ).fetchone() == (True, False, True, False, True)


def test_values_are_kept_as_written_and_empty_is_null(loaded_db):
    assert loaded_db.execute(
        "SELECT street_address, postal_code, email FROM guardians WHERE guardian_id = 'G003'"
    ).fetchone() == ("Trondheimsveien 2, leil. 301", "0560", "liv@example.no")
    assert loaded_db.execute(
        "SELECT email, phone FROM guardians WHERE guardian_id = 'G002'"
    ).fetchone() == (None, None)


def test_empty_address_protection_means_ugradert(loaded_db):
    assert loaded_db.execute(
        "SELECT student_id, address_protection FROM students ORDER BY student_id"
    ).fetchall() == [("P001", "ugradert"), ("P002", "ugradert"), ("P003", "fortrolig"),
                     ("P004", "strengt_fortrolig"), ("P005", "ugradert"), ("P006", "ugradert")]


def test_a_guardian_of_two_pupils_and_a_pupil_without_guardians(loaded_db):
    assert loaded_db.execute(
        "SELECT student_id FROM guardians WHERE guardian_id = 'G005' ORDER BY 1"
    ).fetchall() == [("P004",), ("P005",)]
    assert loaded_db.execute(
        "SELECT count(*) FROM guardians WHERE student_id = 'P006'"
    ).fetchone() == (0,)


def test_unknown_columns_are_ignored_and_the_fodselsnummer_is_never_stored(loaded_db):
    # students.csv has a fodselsnummer column, second, between the contract's columns
    assert "fodselsnummer" in good("students").splitlines()[0]
    assert loaded_db.execute(
        "SELECT count(*) FROM information_schema.columns WHERE column_name ILIKE '%fodsel%'"
    ).fetchone() == (0,)
    assert "1512345" not in repr(dump(loaded_db))
    # nor is anything of the import left over in the connection
    assert loaded_db.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = 'temp'"
    ).fetchone() == (0,)


def test_a_utf8_bom_and_windows_line_ends_are_accepted(empty_db, tmp_path):
    windows_text = good("schools").replace("\n", "\r\n")
    folder = export(tmp_path, schools=b"\xef\xbb\xbf" + windows_text.encode())
    import_export(empty_db, folder)
    assert empty_db.execute("SELECT * FROM schools ORDER BY 1").fetchall() == [
        ("S001", "Bjølsen skole", False), ("S002", "Aurora skole", True)]


def test_a_line_break_inside_a_quoted_value_of_a_windows_file_is_text_not_a_line_end(empty_db, tmp_path):
    # a spreadsheet saves rows with CRLF and a line break inside a cell as LF: one kind of line end
    windows_text = good("guardians").replace("\n", "\r\n").replace(
        '"Trondheimsveien 2, leil. 301"', '"Trondheimsveien 2\nleil. 301"')
    import_export(empty_db, export(tmp_path, guardians=windows_text))
    assert empty_db.execute("SELECT street_address FROM guardians WHERE guardian_id = 'G003'").fetchone() == (
        "Trondheimsveien 2\nleil. 301",)


def test_institutions_may_have_no_rows(empty_db, tmp_path):
    folder = export(tmp_path, institutions="institution_id,name,street_address,postal_code,kind\n")
    assert import_export(empty_db, folder)["institutions"] == 0


def test_rows_with_every_value_empty_are_skipped(empty_db, tmp_path):
    folder = export(tmp_path, schools=good("schools") + ",,\n")
    assert import_export(empty_db, folder)["schools"] == 2


def test_a_new_import_replaces_the_school_data_and_leaves_cases_alone(loaded_db, tmp_path):
    folder = export(
        tmp_path,
        schools=edit("schools", "Aurora skole", "Aurora oppvekstsenter"),
        students=edit("students", "P006,06061512345,C001,Nora,Lie,\n", ""),
        institutions="institution_id,name,street_address,postal_code,kind\n",
    )
    cases_before = {t: rows for t, rows in dump(loaded_db).items() if t.startswith("case")}

    counts = import_export(loaded_db, folder)

    assert counts == {"schools": 2, "classes": 3, "students": 5, "guardians": 6,
                      "institutions": 0, "journal_documents": 0}
    assert loaded_db.execute("SELECT name FROM schools WHERE school_id = 'S002'").fetchone() == (
        "Aurora oppvekstsenter",)
    assert {t: rows for t, rows in dump(loaded_db).items() if t.startswith("case")} == cases_before


# --- a bad export: a clear problem, and nothing imported ---------------------------------------

GUARDIAN_G003 = ("G003,P002,Liv,Kjær,liv@example.no,90000001,true,"
                 '"Trondheimsveien 2, leil. 301",0560,OSLO,ugradert,TRUE, False ,true,false')

BAD_EXPORTS = {
    "missing file": (
        {"students": None},
        "students.csv: file is missing or empty"),
    "empty file": (
        {"schools": ""},
        "schools.csv: file is missing or empty"),
    "missing column": (
        {"classes": "class_id,school_id,name,special_group\nC001,S001,5B,false\n"},
        "classes.csv line 1, column grade: column is missing from the header"),
    "column twice": (
        {"schools": "school_id,name,name,special_school\nS001,A,B,false\n"},
        "schools.csv line 1, column name: column appears more than once in the header"),
    "semicolons": (
        {"schools": "school_id;name;special_school\nS001;Bjølsen skole;false\n"},
        "schools.csv line 1: columns must be separated by commas, not semicolons"),
    "bad boolean": (
        {"guardians": edit("guardians", "TRUE, False ,", "TRUE,ja,")},
        "guardians.csv line 4, column share_email: expected true or false"),
    "empty boolean": (
        {"schools": edit("schools", "Aurora skole,true", "Aurora skole,")},
        "schools.csv line 3, column special_school: is empty"),
    "grade out of range": (
        {"classes": edit("classes", "10A,10,", "10A,14,")},
        "classes.csv line 3, column grade: expected a grade from 1 to 13"),
    "grade not an integer": (
        {"classes": edit("classes", "10A,10,", "10A,5.5,")},
        "classes.csv line 3, column grade: expected a grade from 1 to 13"),
    "bad address_protection": (
        {"students": edit("students", "Hansen,fortrolig", "Hansen,hemmelig")},
        "students.csv line 4, column address_protection: expected ugradert, fortrolig, "
        "strengt_fortrolig, strengt_fortrolig_utland or empty"),
    "empty id": (
        {"institutions": edit("institutions", "I001,", " ,")},
        "institutions.csv line 2, column institution_id: is empty"),
    "empty name (personal data, not echoed)": (
        {"students": edit("students", "Åse,Kjær", "Åse,")},
        "students.csv line 3, column last_name: is empty"),
    "duplicate school_id": (
        {"schools": good("schools") + "S001,Ny skole,false\n"},
        "schools.csv line 4, column school_id: duplicate school_id (first on line 2)"),
    "duplicate class_id": (
        {"classes": good("classes") + " C001 ,S002,6A,6,false\n"},
        "classes.csv line 5, column class_id: duplicate class_id (first on line 2)"),
    "duplicate student_id": (
        {"students": good("students") + "P001,,C002,Ida,Moe,\n"},
        "students.csv line 8, column student_id: duplicate student_id (first on line 2)"),
    "duplicate guardian for the same student": (
        {"guardians": good("guardians") + GUARDIAN_G003.replace("G003,P002", "G001,P001") + "\n"},
        "guardians.csv line 8, column guardian_id: duplicate guardian_id+student_id "
        "(first on line 2)"),
    "duplicate institution_id": (
        {"institutions": good("institutions") + "I001,Annet senter,Gata 1,0150,barnevern\n"},
        "institutions.csv line 3, column institution_id: duplicate institution_id "
        "(first on line 2)"),
    "class of an unknown school": (
        {"classes": edit("classes", "C003,S002", "C003,S009")},
        "classes.csv line 4, column school_id: not found in schools.csv"),
    "student in an unknown class": (
        {"students": edit("students", "P005,05051112345,C003", "P005,05051112345,C009")},
        "students.csv line 6, column class_id: not found in classes.csv"),
    "guardian of an unknown student": (
        {"guardians": edit("guardians", "G004,P003", "G004,P009")},
        "guardians.csv line 5, column student_id: not found in students.csv"),
    "not UTF-8": (
        {"students": good("students").encode().replace("Åse".encode(), "Åse".encode("latin-1"))},
        "students.csv line 3, column first_name: not valid UTF-8 "
        "(the file must be saved as UTF-8)"),
    "too many fields (an unquoted comma)": (
        {"guardians": edit("guardians", '"Trondheimsveien 2, leil. 301"',
                           "Trondheimsveien 2, leil. 301")},
        "guardians.csv line 4: expected 15 fields (as in the header), found 16"),
    "too few fields": (
        {"classes": edit("classes", "C002,S001,10A,10,false", "C002,S001,10A")},
        "classes.csv line 3: expected 5 fields (as in the header), found 3"),
    "a value too long to be real (not echoed)": (
        {"guardians": edit("guardians", "Sognsveien 1,", "Sognsveien 1" + " B" * 150 + ",")},
        "guardians.csv line 2, column street_address: is 312 characters long; "
        "at most 256 are allowed"),
    "a quote left open": (
        {"guardians": good("guardians") + 'G006,P006,"Nora,Lie\n'},
        "guardians.csv line 8, column first_name: a quoted value is not closed, "
        "or a quote is misplaced"),
    # values are never repeated: a shifted column puts personal data where an id or a boolean
    # belongs, and a value may hold bytes a terminal acts on
    "a phone number in a boolean column (not echoed)": (
        {"guardians": edit("guardians", "90000001,true,", "90000001,90000001,")},
        "guardians.csv line 4, column phone_unlisted: expected true or false"),
    "a terminal escape in a boolean (not echoed)": (
        {"schools": edit("schools", "Aurora skole,true", "Aurora skole,\x1b[2Jtrue")},
        "schools.csv line 3, column special_school: holds a control character (U+001B), "
        "which no value may hold"),
    "an unknown reference (not echoed)": (
        {"guardians": edit("guardians", "G004,P003", "G004,Hansen")},
        "guardians.csv line 5, column student_id: not found in students.csv"),
    "a NUL byte in a name": (
        {"students": edit("students", "Åse,Kjær", "Å\x00se,Kjær")},
        "students.csv line 3, column first_name: holds a control character (U+0000), "
        "which no value may hold"),
    "a C1 control character in an address": (
        {"guardians": edit("guardians", "Sognsveien 1,0451", "Sognsveien\x9b1,0451")},
        "guardians.csv line 2, column street_address: holds a control character (U+009B), "
        "which no value may hold"),
    "mixed line endings": (
        {"students": good("students").replace("\n", "\r\n", 3)},
        "students.csv line 4: the line ends in LF, but line 1 in CRLF: "
        "save the file with one kind of line ending"),
    "mixed line endings, LF first": (
        {"classes": good("classes").replace("C002,S001,10A,10,false\n", "C002,S001,10A,10,false\r\n")},
        "classes.csv line 3: the line ends in CRLF, but line 1 in LF: "
        "save the file with one kind of line ending"),
    "mixed line endings after a line break in a quoted value": (
        {"guardians": good("guardians").replace("\n", "\r\n", 3).replace(
            '"Trondheimsveien 2, leil. 301"', '"Trondheimsveien 2\r\nleil. 301"')},
        "guardians.csv line 5: the line ends in LF, but line 1 in CRLF: "
        "save the file with one kind of line ending"),
}


@pytest.mark.parametrize("files, problem", BAD_EXPORTS.values(), ids=BAD_EXPORTS.keys())
def test_a_bad_export_names_file_line_and_column_and_changes_nothing(
    loaded_db, tmp_path, files, problem
):
    before = dump(loaded_db)

    with pytest.raises(ImportFailed) as failed:
        import_export(loaded_db, export(tmp_path, **files))

    assert failed.value.problems[0] == problem
    assert str(failed.value).startswith(problem)
    assert str(failed.value).isprintable()  # no line break, no escape: nothing a terminal acts on
    assert not [word for word in PERSONAL if word in str(failed.value)]
    assert dump(loaded_db) == before


def test_a_folder_that_is_not_there(loaded_db, tmp_path):
    before = dump(loaded_db)
    with pytest.raises(ImportFailed, match="no such folder"):
        import_export(loaded_db, tmp_path / "nowhere")
    assert dump(loaded_db) == before


def test_the_first_problem_in_reading_order_comes_first_and_all_are_listed(loaded_db, tmp_path):
    folder = export(
        tmp_path,
        classes=edit("classes", "5B,5,false", "5B,5,nei"),
        students=None,
    )
    with pytest.raises(ImportFailed) as failed:
        import_export(loaded_db, folder)

    assert isinstance(failed.value, ValueError)
    problems = failed.value.problems
    assert problems[:2] == [
        "classes.csv line 2, column special_group: expected true or false",
        "students.csv: file is missing or empty",
    ]
    # guardians.csv now points at pupils that are not there
    assert "guardians.csv line 2, column student_id: not found in students.csv" in problems
    assert str(failed.value) == f"{problems[0]} (and {len(problems) - 1} more problems)"


def test_line_numbers_count_the_lines_inside_quoted_values(loaded_db, tmp_path):
    two_line_address = '"Trondheimsveien 2\nleil. 301"'
    guardians = edit("guardians", '"Trondheimsveien 2, leil. 301"', two_line_address)
    bad_value = guardians.replace("G005,P004,Mona,Berg,mona@example.no,90000003,false",
                                  "G005,P004,Mona,Berg,mona@example.no,90000003,nei")
    with pytest.raises(ImportFailed, match=r"^guardians.csv line 7, column phone_unlisted: "):
        import_export(loaded_db, export(tmp_path, guardians=bad_value))

    # also for a row DuckDB cannot parse
    too_short = guardians.replace("G004,P003,Jon,Hansen,", "G004,P003,")
    with pytest.raises(ImportFailed, match=r"^guardians.csv line 6: expected 15 fields \(as in the header\), found 13$"):
        import_export(loaded_db, export(tmp_path, guardians=too_short))


def test_a_failure_while_loading_rolls_everything_back(loaded_db, tmp_path, monkeypatch):
    original = resources.sql

    def sql_failing_at_the_end_of_the_load(name):
        return original(name) + ("SELECT error('disk full');" if name == "import_load" else "")

    monkeypatch.setattr(resources, "sql", sql_failing_at_the_end_of_the_load)
    before = dump(loaded_db)
    folder = export(tmp_path, schools=edit("schools", "Aurora skole", "Aurora oppvekstsenter"))

    with pytest.raises(Exception) as failed:
        import_export(loaded_db, folder)

    assert not isinstance(failed.value, ImportFailed)
    assert dump(loaded_db) == before
