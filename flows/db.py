"""The DuckDB file: opening it, creating the schema, and short transactions.

DuckDB lets one process write to a file at a time. Every command opens the file for the
shortest time it can and retries while another process holds the lock, so concurrent
`innsyn` processes queue instead of failing.

The file holds the register's personal data: a database innsyn creates is owner-only
(0600), and so is a folder it creates for one (0700, e.g. `data/`). A process that opens
the database creates everything owner-only from then on (innsyn.private), so the
write-ahead log DuckDB creates at each first write after a checkpoint is 0600 too.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

from innsyn import resources
from innsyn.private import make_folders, owner_only_by_default

if TYPE_CHECKING:
    import duckdb

DEFAULT_DB = Path("data/innsyn.duckdb")
LOCK_WAIT_SECONDS = 60.0


def default_db_path() -> Path:
    return Path(os.environ.get("INNSYN_DB") or DEFAULT_DB)


def _is_lock_error(error: duckdb.Error) -> bool:
    text = str(error)
    return "lock" in text.lower() or "Conflicting lock" in text


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the database file, waiting while another process holds its write lock."""
    import duckdb  # here, not above: a command handed to the background service never opens the file

    path = Path(path)
    owner_only_by_default()  # the database, its WAL, DuckDB's spill files
    if read_only and not path.exists():
        raise FileNotFoundError(f"no database at {path} (run `innsyn db init` first)")
    make_folders(path.parent, mode=0o700)  # only a folder innsyn makes: an existing one stays as it is
    created = not path.exists()
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            if created:
                os.chmod(path, 0o600)
            # DuckDB draws a progress bar on stdout for queries over 2 s (a municipal case
            # has some): stdout is the command's one JSON object and nothing else
            con.execute("SET enable_progress_bar = false")
            return con
        except duckdb.IOException as error:
            if not _is_lock_error(error) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.05, 0.25))
        except duckdb.ConnectionException as error:
            # this process has the file open already in the other mode (another thread's
            # one_connection): a reader shares the writer's instance; a writer waits its turn
            if "different configuration" not in str(error) or time.monotonic() > deadline:
                raise
            if read_only:
                read_only = False
                continue
            time.sleep(random.uniform(0.05, 0.25))


#: The connection every `open_db` of one file uses inside `one_connection` (path, connection).
_held: ContextVar[tuple[Path, duckdb.DuckDBPyConnection] | None] = ContextVar("innsyn_held_db", default=None)


@contextmanager
def open_db(path: Path | str, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    held = _held.get()
    if held is not None and held[0] == Path(path).resolve():
        yield held[1]  # one_connection's: it closes it
        return
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def one_connection(path: Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    """One connection for every `open_db(path)` in this block (this thread and what it starts).

    A one-school command opens the file a dozen times, once per check and step, and each
    open costs a few hundredths of a second (the catalog read again): in front of a case
    handler waiting for one class list, a tenth of a second or more. The background service
    runs its commands one at a time on one connection each (innsyn.warm_worker). Not for a
    command alone: sixteen processes at once would each hold the file's lock for their whole
    run instead of taking turns step by step. Never around a flow run that pauses. Each
    step's transaction still commits or rolls back on its own. Inside another for the same
    file: that one."""
    held = _held.get()
    if held is not None and held[0] == Path(path).resolve():
        yield held[1]
        return
    con = connect(path)
    token = _held.set((Path(path).resolve(), con))
    try:
        yield con
    finally:
        _held.reset(token)
        con.close()


_in_transaction: set[int] = set()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: commit when the block ends, roll back if it raises. Inside another
    transaction of the same connection (one_connection), it is part of that one."""
    if id(con) in _in_transaction:
        yield con
        return
    con.begin()
    _in_transaction.add(id(con))
    try:
        yield con
    except BaseException:
        _in_transaction.discard(id(con))
        con.rollback()
        raise
    _in_transaction.discard(id(con))
    con.commit()


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(resources.sql("schema"))


def init_db(path: Path | str) -> None:
    with open_db(path) as con:
        init_schema(con)
