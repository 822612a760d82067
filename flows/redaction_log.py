"""The redaction log: one row per withheld item (and per reviewer override), exportable.

Each case keeps its own CSV beside its review copy; `innsyn review log` exports any case or
period as CSV and Parquet for the archive or a lawyer's spreadsheet. The CSV cells are
spreadsheet-safe (innsyn.spreadsheet): a reason or an id that begins like a formula is
written with a quote in front; the Parquet file keeps the values as they are.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from innsyn.files import atomic_target
from innsyn.request import BadInput
from innsyn.resources import sql
from innsyn.spreadsheet import write_csv


def redaction_log(con: duckdb.DuckDBPyConnection, *, case_id: str | None = None,
                  date_from: date | None = None, date_to: date | None = None) -> duckdb.DuckDBPyRelation:
    return con.sql(sql("redaction_log"), params={"case_id": case_id, "date_from": date_from, "date_to": date_to})


def _write_log_csv(log: duckdb.DuckDBPyRelation, path: Path) -> None:
    write_csv(path, log.columns, log.fetchall())


def write_case_log(con: duckdb.DuckDBPyConnection, case_id: str, path: Path) -> None:
    with atomic_target(path, private=True) as tmp:
        _write_log_csv(redaction_log(con, case_id=case_id), tmp)


def export_redaction_log(con: duckdb.DuckDBPyConnection, out: Path, *, case_id: str | None,
                         date_from: date | None, date_to: date | None) -> dict:
    """Write the log for one case or a period as CSV and Parquet under out/internal/logs/."""
    name = f"redaction-log-{case_id}" if case_id else f"redaction-log-{date_from or 'start'}-{date_to or 'end'}"
    if Path(name).name != name or "\x00" in name:  # a case id is a file name (contract): never a path
        raise BadInput(f"--case: {case_id!r} is not a case number")
    log = redaction_log(con, case_id=case_id, date_from=date_from, date_to=date_to)
    folder = out / "internal" / "logs"
    written = {}
    for kind in ("csv", "parquet"):
        target = folder / f"{name}.{kind}"
        with atomic_target(target, private=True) as tmp:
            if kind == "csv":
                _write_log_csv(log, tmp)
            else:
                log.write_parquet(str(tmp))
        written[kind] = str(target)
    ((rows,),) = log.aggregate("count(*)").fetchall()
    return {"rows": rows, **written}
