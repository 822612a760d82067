"""Owner-only by default: what innsyn creates holds personal data unless it says otherwise.

The database, its write-ahead log (which DuckDB deletes and creates again at every
checkpoint), DuckDB's spill folder and Prefect's home (its database, logs and results) are
created by libraries with whatever mode the umask gives, usually world-readable. So an
`innsyn` process tightens its umask to 077 before it opens the database or imports Prefect:
everything created from then on is its owner's only. What is meant for others, the public
answers and the folders leading to them, is given its mode explicitly (innsyn.files), from
the umask the process was started with, so `out/` and `out/public/` stay as readable as the
administrator's umask made them before.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_inherited_umask: int | None = None


def owner_only_by_default() -> None:
    """From now on this process creates files 0600 and folders 0700 (umask 077). Idempotent."""
    global _inherited_umask
    current = os.umask(0o077)
    if _inherited_umask is None:
        _inherited_umask = current
    os.umask(current | 0o077)


def shared_mode(mode: int = 0o777) -> int:
    """`mode` as the umask the process started with would have left it (0o755 under 022)."""
    if _inherited_umask is None:
        current = os.umask(0)
        os.umask(current)
        return mode & ~current
    return mode & ~_inherited_umask


def make_folders(folder: Path, *, mode: int, parents_mode: int | None = None) -> None:
    """Create `folder` and any missing parents, with exactly these modes (umask aside); folders
    that exist already are left as they are."""
    folder = Path(folder)
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for candidate in reversed(missing):
        try:
            candidate.mkdir()
        except FileExistsError:  # made meanwhile by another process: theirs to set
            continue
        os.chmod(candidate, mode if candidate == folder else (parents_mode if parents_mode is not None else mode))
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)  # the error a caller expects, if it is not a folder


def prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()


def private_prefect_home() -> None:
    """Make Prefect's home owner-only (0700) if it is this user's folder; a home Prefect has
    yet to make is made under this process's umask (owner_only_by_default) when it needs it."""
    home = prefect_home()
    try:
        info = home.stat()
    except OSError:
        return
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and info.st_mode & 0o077:
        os.chmod(home, 0o700)
