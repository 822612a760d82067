"""The redaction log: one row per withheld item (and per reviewer override), exportable.

Each case keeps its own CSV beside its review copy; `innsyn review log` exports any case or
period as CSV and Parquet for the archive or a lawyer's spreadsheet.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from innsyn.files import atomic_target
from innsyn.request import BadInput
from innsyn.resources import sql


def redaction_log(con: duckdb.DuckDBPyConnection, *, case_id: str | None = None,
                  date_from: date | None = None, date_to: date | None = None) -> duckdb.DuckDBPyRelation:
    return con.sql(sql("redaction_log"), params={"case_id": case_id, "date_from": date_from, "date_to": date_to})


def write_case_log(con: duckdb.DuckDBPyConnection, case_id: str, path: Path) -> None:
    with atomic_target(path, private=True) as tmp:
        redaction_log(con, case_id=case_id).write_csv(str(tmp), header=True)


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
                log.write_csv(str(tmp), header=True)
            else:
                log.write_parquet(str(tmp))
        written[kind] = str(target)
    ((rows,),) = log.aggregate("count(*)").fetchall()
    return {"rows": rows, **written}
