"""Writing files so that a reader never sees half of one.

Everything is written under a temporary name in the target folder and renamed into place:
a crash leaves at most a hidden `.part` file, never a truncated PDF under its real name.
Internal documents (review copies, redaction logs) are readable by the owner only.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_target(path: Path, *, private: bool) -> Iterator[Path]:
    """A temporary path to write to; renamed to `path` when the block ends without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if private:
        os.chmod(path.parent, 0o700)
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


def atomic_write_bytes(path: Path, data: bytes, *, private: bool) -> None:
    with atomic_target(path, private=private) as tmp:
        tmp.write_bytes(data)


def move_into_place(source: Path, target: Path, *, private: bool) -> None:
    """Rename a finished file (on the same file system) to where readers will find it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if private:
        os.chmod(target.parent, 0o700)
    os.chmod(source, 0o600 if private else 0o644)
    os.replace(source, target)
