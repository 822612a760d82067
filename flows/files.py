"""Writing files so that a reader never sees half of one.

Everything is written under a temporary name in the target folder and renamed into place:
a crash leaves at most a hidden `.part` file, never a truncated PDF under its real name.
Internal documents (review copies, redaction logs) are readable by the owner only.

A process killed while writing (SIGKILL, power loss) cannot remove its part-file, so the
next write of the same file removes it: a writer holds a shared lock on the folder while
its part-file exists, and a part-file in a folder no one holds that lock on belongs to a
writer that is gone. Writers in the same folder at the same time never remove each other's.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from innsyn.private import make_folders, shared_mode


def _make_folder(folder: Path, *, private: bool) -> None:
    """The folder of a file about to be written: owner-only for an internal document; folders
    leading to it, and a public answer's, as readable as the process's first umask made them
    (the process itself creates owner-only by default: innsyn.private)."""
    make_folders(folder, mode=0o700 if private else shared_mode(), parents_mode=shared_mode())
    if private:
        os.chmod(folder, 0o700)


@contextmanager
def atomic_target(path: Path, *, private: bool) -> Iterator[Path]:
    """A temporary path to write to; renamed to `path` when the block ends without error."""
    _make_folder(path.parent, private=private)
    with _writing_in(path.parent, path.name):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        os.close(fd)
        try:
            yield Path(tmp)
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600 if private else 0o644)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)


def part_files(folder: Path, name: str) -> list[Path]:
    """The part-files of `name` in `folder`, as atomic_target names them (mkstemp's 8 random
    characters): `.intern.pdf.k2x9_a7q.part`, and the part-files of that part-file when a
    writer wrote it with atomic_target too (`..intern.pdf.k2x9_a7q.part.0b3jz8w1.part`)."""
    pattern = re.compile(rf"\.+{re.escape(name)}(?:\.[a-z0-9_]{{8}}\.part)+")
    with os.scandir(folder) as entries:
        return [Path(entry.path) for entry in entries
                if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False)]


@contextmanager
def _writing_in(folder: Path, name: str) -> Iterator[None]:
    """Hold a shared lock on `folder` while writing there; first, when no other process is
    writing there, remove the part-files of `name` that a killed run left behind."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # a folder we may write to but not open: write, and leave what is there
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass  # someone writes here right now (or no locks here): their part-files are not stale
        else:
            for stale in part_files(folder, name):
                stale.unlink(missing_ok=True)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # from before our part-file exists until it is gone
        except OSError:
            pass  # a file system without locks: write all the same
        yield
    finally:
        os.close(fd)  # releases the lock


def atomic_write_bytes(path: Path, data: bytes, *, private: bool) -> None:
    with atomic_target(path, private=private) as tmp:
        tmp.write_bytes(data)


def move_into_place(source: Path, target: Path, *, private: bool) -> None:
    """Rename a finished file (on the same file system) to where readers will find it."""
    _make_folder(target.parent, private=private)
    os.chmod(source, 0o600 if private else 0o644)
    os.replace(source, target)
