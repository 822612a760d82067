"""`innsyn db backup --to FILE` and `innsyn db restore FILE`: the database survives.

A database with school data, cases, decisions and events is backed up, wiped, and restored:
every table comes back identical, and the event sequence goes on where it was. A backup is
taken while another process holds the database, and is owner-only; a bad backup file is
refused and changes nothing.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from innsyn import cases, db as innsyn_db
from innsyn.policy import load_policy
from innsyn.screening import screen_case

from conftest import FIXED_NOW, canary_export, dump_tables, innsyn, open_case

NO_PREFECT = "http://127.0.0.1:9/api"  # db commands never talk to Prefect


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A database with the canary export and two screened cases with events."""
    assert innsyn(tmp_path, NO_PREFECT, "db", "import", str(canary_export(tmp_path / "export"))).returncode == 0
    now = datetime.fromisoformat(FIXED_NOW)
    with innsyn_db.open_db(tmp_path / "innsyn.duckdb") as con:
        for request_id, classes in (("2026/1", ["5B"]), ("2026/2", ["Forsterket avdeling"])):
            case_id = open_case(con, tmp_path, classes=classes, request_id=request_id)
            screen_case(con, case_id, load_policy(), now)
            cases.record_event(con, case_id, "screened", "saksbehandler", now)
    return tmp_path


def run(workdir: Path, *args: str):
    return innsyn(workdir, NO_PREFECT, "db", *args)


def test_backup_wipe_restore_gives_back_every_table(workdir):
    db = workdir / "innsyn.duckdb"
    before = dump_tables(db)
    assert len(before["case_items"]) > 20 and len(before["case_events"]) >= 4

    backed_up = run(workdir, "backup", "--to", str(workdir / "backup.duckdb"))
    assert backed_up.returncode == 0, backed_up.stderr
    assert json.loads(backed_up.stdout)["tables"]["case_items"] == len(before["case_items"])

    db.unlink()  # the wipe: the database is gone
    assert run(workdir, "init").returncode == 0
    assert dump_tables(db)["cases"] == []

    restored = run(workdir, "restore", str(workdir / "backup.duckdb"))
    assert restored.returncode == 0, restored.stderr
    assert dump_tables(db) == before

    # the event ids go on after the restored ones
    with innsyn_db.open_db(db) as con:
        cases.record_event(con, "2026-1", "note", "saksbehandler", datetime.fromisoformat(FIXED_NOW))
        (newest,) = con.execute("SELECT max(event_id) FROM case_events").fetchone()
    assert newest > max(row[0] for row in before["case_events"])


def test_restore_undoes_every_change_since_the_backup(workdir):
    db = workdir / "innsyn.duckdb"
    before = dump_tables(db)
    assert run(workdir, "backup", "--to", str(workdir / "backup.duckdb")).returncode == 0
    with innsyn_db.open_db(db) as con:
        con.execute("DELETE FROM case_items WHERE case_id = '2026-1'")
        con.execute("UPDATE schools SET name = 'Endret skole'")
        cases.record_event(con, "2026-2", "note", "saksbehandler", datetime.fromisoformat(FIXED_NOW))
    assert dump_tables(db) != before

    assert run(workdir, "restore", str(workdir / "backup.duckdb")).returncode == 0
    assert dump_tables(db) == before


def test_the_backup_is_readable_by_its_owner_only(workdir):
    assert run(workdir, "backup", "--to", str(workdir / "backup.duckdb")).returncode == 0
    assert stat.S_IMODE(os.stat(workdir / "backup.duckdb").st_mode) == 0o600
    assert [path.name for path in workdir.iterdir() if ".part" in path.name] == []


def test_a_backup_waits_for_a_process_that_holds_the_database(workdir):
    """Another process holds the write lock for two seconds; the backup waits, then copies."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time, duckdb; con = duckdb.connect(sys.argv[1]); "
        "con.execute(\"UPDATE schools SET name = 'Holdt skole'\"); print('held', flush=True); time.sleep(2)"
    ), str(workdir / "innsyn.duckdb")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    started = time.monotonic()

    backed_up = run(workdir, "backup", "--to", str(workdir / "backup.duckdb"))

    holder.wait(timeout=30)
    assert backed_up.returncode == 0, backed_up.stderr
    assert "lock" not in backed_up.stderr.lower()
    assert time.monotonic() - started > 1.0  # it really waited for the holder
    assert dump_tables(workdir / "backup.duckdb")["schools"] == [("S001", "Holdt skole", False)]


@pytest.mark.parametrize("args, message", [
    (["backup", "--to", "existing.duckdb"], "already exists; a backup never overwrites a file"),
    (["backup", "--to", "no/such/folder/backup.duckdb"], "no such folder"),
    (["restore", "missing.duckdb"], "missing.duckdb: no such backup file"),
    (["restore", "export/schools.csv"], "not a DuckDB database file"),
    (["restore", "other.duckdb"], "not an innsyn backup (no table 'schools')"),
])
def test_a_bad_backup_or_restore_is_refused_and_changes_nothing(workdir, args, message):
    (workdir / "existing.duckdb").write_bytes(b"keep me")
    with innsyn_db.open_db(workdir / "other.duckdb") as other:
        other.execute("CREATE TABLE cases (case_id VARCHAR)")
    before = dump_tables(workdir / "innsyn.duckdb")

    result = run(workdir, *args)

    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr
    assert dump_tables(workdir / "innsyn.duckdb") == before
    assert (workdir / "existing.duckdb").read_bytes() == b"keep me"
