"""`innsyn db backup` and `innsyn db restore`: the database file, copied whole and put back.

A backup is a DuckDB file of its own, written with `COPY FROM DATABASE` (tables, rows,
sequences, macros) while the backup holds a read-only connection to the live file. DuckDB
lets no process write while another reads, so the copy is one consistent moment even
while other `innsyn` processes are working: they wait for the lock, as they always do. The
copy is checked table by table against the live file, then renamed into place; it holds
personal data, so it is readable by its owner only.

A restore replaces the live file's content with the backup's, in one transaction on the
live file (the file itself is never swapped, so no process can keep writing to a stale
copy): drop every table, sequence, view and macro, copy the backup in, check the row
counts, commit. Anything that fails rolls back and leaves the database as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from innsyn.db import open_db
from innsyn.request import BadInput

# Without these a file is not an innsyn database.
REQUIRED_TABLES = ("schools", "classes", "students", "guardians", "institutions",
                   "cases", "case_classes", "case_items", "case_events")


def backup(db: Path, target: Path) -> dict[str, int]:
    """Write a consistent copy of `db` to `target` (a new file); the row count per table."""
    if not db.is_file():
        raise BadInput(f"no database at {db}")
    if target.exists():
        raise BadInput(f"{target}: already exists; a backup never overwrites a file")
    if not target.parent.is_dir():
        raise BadInput(f"{target.parent}: no such folder")
    part = target.with_name(f".{target.name}.part")
    part.unlink(missing_ok=True)
    try:
        with open_db(db, read_only=True) as con:
            source = con.execute("SELECT current_database()").fetchone()[0]
            con.execute("ATTACH ? AS innsyn_backup (READ_ONLY false)", [str(part)])
            try:
                con.execute(f'COPY FROM DATABASE "{source}" TO innsyn_backup')
                counts = _row_counts(con, source)
                copied = _row_counts(con, "innsyn_backup")
            finally:
                con.execute("DETACH innsyn_backup")
        if copied != counts:
            raise RuntimeError(f"the backup of {db} does not match it: {copied} != {counts}")
        os.chmod(part, 0o600)
        _fsync(part)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
        Path(f"{part}.wal").unlink(missing_ok=True)
    return counts


def restore(db: Path, source: Path) -> dict[str, int]:
    """Replace the content of `db` with the backup in `source`; the row count per table."""
    if not source.is_file():
        raise BadInput(f"{source}: no such backup file")
    with open_db(db) as con:
        live = con.execute("SELECT current_database()").fetchone()[0]
        try:
            con.execute("ATTACH ? AS innsyn_backup (READ_ONLY)", [str(source)])
        except duckdb.Error:
            raise BadInput(f"{source}: not a DuckDB database file") from None
        try:
            wanted = _row_counts(con, "innsyn_backup")
            missing = [table for table in REQUIRED_TABLES if table not in wanted]
            if missing:
                raise BadInput(f"{source}: not an innsyn backup (no table {missing[0]!r})")
            con.begin()
            try:
                _drop_everything(con, live)
                con.execute(f'COPY FROM DATABASE innsyn_backup TO "{live}"')
                restored = _row_counts(con, live)
                if restored != wanted:
                    raise RuntimeError(f"the restored database does not match {source}: {restored} != {wanted}")
            except BaseException:
                con.rollback()
                raise
            con.commit()
            con.execute("CHECKPOINT")
        finally:
            con.execute("DETACH innsyn_backup")
    return restored


# ----------------------------------------------------------------------------- helpers


def _row_counts(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, int]:
    tables = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY table_name",
        [database],
    ).fetchall()
    return {table: con.execute(f'SELECT count(*) FROM "{database}"."{schema}"."{table}"').fetchone()[0]
            for schema, table in tables}


def _drop_everything(con: duckdb.DuckDBPyConnection, database: str) -> None:
    """Drop every user object of `database`: views, then tables (children before the tables
    their foreign keys point to), then sequences and macros."""
    for schema, view in con.execute(
        "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = ? AND NOT internal", [database]
    ).fetchall():
        con.execute(f'DROP VIEW "{database}"."{schema}"."{view}"')
    tables = {table: schema for schema, table in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?", [database]).fetchall()}
    references = con.execute(
        """SELECT table_name, referenced_table FROM duckdb_constraints()
           WHERE database_name = ? AND constraint_type = 'FOREIGN KEY'""", [database]).fetchall()
    while tables:
        referenced = {parent for child, parent in references if child in tables and child != parent}
        leaves = sorted(set(tables) - referenced) or sorted(tables)
        for table in leaves:
            con.execute(f'DROP TABLE "{database}"."{tables.pop(table)}"."{table}"')
    for schema, sequence in con.execute(
        "SELECT schema_name, sequence_name FROM duckdb_sequences() WHERE database_name = ?", [database]
    ).fetchall():
        con.execute(f'DROP SEQUENCE "{database}"."{schema}"."{sequence}"')
    for schema, name, kind in con.execute(
        """SELECT DISTINCT schema_name, function_name, function_type FROM duckdb_functions()
           WHERE database_name = ? AND NOT internal AND function_type IN ('macro', 'table_macro')""", [database]
    ).fetchall():
        keyword = "MACRO TABLE" if kind == "table_macro" else "MACRO"
        con.execute(f'DROP {keyword} "{database}"."{schema}"."{name}"')


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
