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
    columns = {f"c{position}": "VARCHAR" for position in range(1, len(header) + 1)}
    con.execute(
        resources.sql("import_stage"),
        {"file": file, "path": str(path), "columns": columns},
    )
    con.execute(resources.sql("import_collect_rejects"))


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
