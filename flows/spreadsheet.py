"""CSV files that a spreadsheet opens as data, never as formulas (CSV/formula injection).

Excel, LibreOffice and Google Sheets run a cell that begins with `=`, `+`, `-` or `@` as a
formula (and a leading tab or carriage return can hide one), so a reviewer's reason or an id
from the school system such as `=HYPERLINK("http://…")` would run on the lawyer's machine.
Every text cell that begins with one of those characters is written with a single quote in
front (the OWASP treatment): a spreadsheet shows the text as written, a program reading the
CSV sees the quote. A phone number "+47 412 34 567" is then written "'+47 412 34 567".

Used by every CSV innsyn writes for people to open: the redaction logs and the compliance
report. Parquet keeps the values as they are (typed data, never read as formulas).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """One CSV cell: nothing as empty, dates in ISO form, text that could start a formula quoted."""
    if value is None:
        return ""
    if isinstance(value, datetime):  # as DuckDB writes it: 2026-11-24 10:00:00, 2026-11-24 10:00:00.5
        text = value.isoformat(sep=" ")
        text = text.rstrip("0") if "." in text and value.tzinfo is None else text
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _quoted(text: str) -> str:
    # quoted when it holds a comma, a quote or any line break: the csv module of Python 3.11
    # leaves a lone carriage return unquoted, and a reader then splits the row there
    if any(char in text for char in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document (comma-separated, quoted where needed, "\\n" line ends) of safe cells."""
    lines = [",".join(_quoted(cell(value)) for value in row) for row in (header, *rows)]
    return "".join(line + "\n" for line in lines)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write the CSV to `path` (a temporary file of innsyn.files.atomic_target) as UTF-8."""
    Path(path).write_text(csv_text(header, rows), encoding="utf-8", newline="")
