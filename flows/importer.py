"""`innsyn db import DIR`: replace the school data with the school system's export.

The export is a folder of CSV files (contract.md, "Import format"). DuckDB reads and checks
them itself, set-wise, in sql/import_*.sql; this module only drives it:

1. import_setup: scratch TEMP tables, and the contract's columns as data;
2. per file: its header row (import_header), its cells (import_stage), the rows DuckDB could
   not parse (import_collect_rejects);
3. import_problems: every problem, in reading order; any problem refuses the whole export;
4. import_load: in one transaction, delete the old school data and insert the new.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb

from innsyn import resources
from innsyn.db import transaction
from innsyn.screening import key_street_addresses


class ImportFailed(ValueError):
    """The export was refused and nothing was imported.

    str() is one line: the first problem in reading order (files parents first, then line,
    then column), with a count of the others. `problems` holds all of them.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = len(problems) - 1
        super().__init__(problems[0] + (f" (and {more} more problems)" if more else ""))


def import_export(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Replace schools, classes, students, guardians and institutions with the export in
    `folder`, all or nothing. Returns the number of rows now in each of those tables."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImportFailed([f"{folder}: no such folder"])
    try:
        files = [file for (file,) in con.execute(resources.sql("import_setup")).fetchall()]
        for file in files:
            _stage(con, file, folder / f"{file}.csv")
        problems = [text for (text,) in con.execute(resources.sql("import_problems")).fetchall()]
        if problems:
            raise ImportFailed(problems)
        with transaction(con):
            result = con.execute(resources.sql("import_load"))
            counts = result.fetchone()
            names = [column[0] for column in result.description]
            key_street_addresses(con)
        return dict(zip(names, counts, strict=True))
    finally:
        con.execute(resources.sql("import_cleanup"))


def _stage(con: duckdb.DuckDBPyConnection, file: str, path: Path) -> None:
    header = _header(path)
    if not header:
        return  # import_problems reports the file as missing or empty
    con.execute(resources.sql("import_header"), {"file": file, "header": header})
    mixed = _mixed_line_endings(path)
    if mixed:  # DuckDB's parser stops with an error of its own, or misreads rows: say what it is
        line, kinds = mixed
        con.execute(resources.sql("import_reject_file"),
                    {"file": file, "line": line, "error_type": "MIXED LINE ENDINGS", "detail": kinds})
        return
    columns = {f"c{position}": "VARCHAR" for position in range(1, len(header) + 1)}
    try:
        con.execute(
            resources.sql("import_stage"),
            {"file": file, "path": str(path), "columns": columns},
        )
    except duckdb.Error as error:
        # DuckDB's message may quote the line it stopped at (personal data): name the file only
        raise ImportFailed([f"{file}.csv: cannot be read as CSV ({type(error).__name__})"]) from None
    con.execute(resources.sql("import_collect_rejects"))


_QUOTED = re.compile(rb'"[^"]*"')
_QUOTED_OR_LINE_END = re.compile(rb'"[^"]*"|\r\n|\r|\n')
_LINE_END_NAMES = {b"\r\n": "CRLF", b"\n": "LF", b"\r": "CR"}


def _mixed_line_endings(path: Path) -> tuple[int, str] | None:
    """(line, "LF CRLF") when the file's rows end in more than one way, else None.

    The line is the first whose end differs from line 1's; the text names the two kinds. A
    line break inside a quoted value is part of the value, not a line end: a spreadsheet
    writes LF inside a cell of a CRLF file, and DuckDB reads that well. A file without any
    carriage return is LF throughout and is not read here.
    """
    with path.open("rb") as handle:
        if not any(b"\r" in chunk for chunk in iter(lambda: handle.read(1 << 20), b"")):
            return None
    data = path.read_bytes()
    outside = _QUOTED.sub(b"", data)
    crlf, cr, lf = outside.count(b"\r\n"), outside.count(b"\r"), outside.count(b"\n")
    if cr == crlf == lf:
        return None  # CRLF throughout (or CR throughout, which DuckDB reads too)
    if lf == 0:
        return None
    first, line = None, 1
    for match in _QUOTED_OR_LINE_END.finditer(data):
        token = match.group()
        if token.startswith(b'"'):
            line += token.count(b"\n") + token.count(b"\r") - token.count(b"\r\n")
            continue
        first = first or token
        if token != first:
            return line, f"{_LINE_END_NAMES[token]} {_LINE_END_NAMES[first]}"
        line += 1
    return None


def _header(path: Path) -> list[str] | None:
    """The names in the file's header row, or None if there is no file or no header.

    Only this row is read here, so DuckDB can be told the columns rather than guess them.
    A UTF-8 BOM is dropped. Bytes that are not UTF-8 are replaced here (in a header they
    make a column name that is not the contract's); DuckDB reports them in the rows.
    """
    if not path.is_file():
        return None
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        row = next(csv.reader(f), None)
    return [name.strip() for name in row] if row else None
