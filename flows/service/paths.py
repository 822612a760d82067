"""Where the background pieces live, and how a command tells whether one is its own.

One folder per user (INNSYN_SERVICE_DIR, else `innsyn-<uid>` in the temporary folder),
owner-only, holds for each database a socket, a state file (what `innsyn status` shows), a
log and a lock that lets one command at a time start the service; and the same for the
user's Prefect server. Nothing here imports Prefect: the CLI reads it on its fast path.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Set to 0 to run every command in its own process; `running` to use a service only when
#: one runs already (never start one).
USE_SERVICE = "INNSYN_USE_SERVICE"
#: The folder of sockets, state files and logs (default: innsyn-<uid> in the temporary folder).
SERVICE_DIR = "INNSYN_SERVICE_DIR"
#: Seconds without a command after which a service stops (and, after the last service, the
#: Prefect server it started).
IDLE_SECONDS = "INNSYN_SERVICE_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 900

PREFECT_SERVER = "prefect-server"


def use_service() -> str:
    """`yes` (use or start one), `running` (use one that runs), or `no`."""
    value = os.environ.get(USE_SERVICE, "1").strip().lower()
    if value in ("0", "no", "false", "off"):
        return "no"
    return "running" if value == "running" else "yes"


def idle_seconds() -> float:
    text = os.environ.get(IDLE_SECONDS)
    try:
        value = float(text) if text else DEFAULT_IDLE_SECONDS
    except ValueError:
        value = DEFAULT_IDLE_SECONDS
    return value if value > 0 else DEFAULT_IDLE_SECONDS


def service_dir() -> Path:
    configured = os.environ.get(SERVICE_DIR)
    if configured:
        return Path(configured).expanduser().absolute()
    return Path(tempfile.gettempdir()) / f"innsyn-{os.getuid()}"


def db_key(db: Path) -> str:
    """A short name for a database: a Unix socket's path must stay under 108 bytes."""
    return hashlib.sha256(str(Path(db).resolve()).encode()).hexdigest()[:16]


def socket_path(db: Path) -> Path:
    return service_dir() / f"{db_key(db)}.sock"


def state_path(db: Path) -> Path:
    return service_dir() / f"{db_key(db)}.json"


def log_path(db: Path) -> Path:
    return service_dir() / f"{db_key(db)}.log"


def lock_path(db: Path) -> Path:
    return service_dir() / f"{db_key(db)}.lock"


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """One process at a time in the block (a lock on `lock_file`, created if absent): the
    others wait, then find what the first one started."""
    with open(lock_file, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def server_file(suffix: str) -> Path:
    return service_dir() / f"{PREFECT_SERVER}.{suffix}"


def private_folder(folder: Path, *, create: bool) -> bool:
    """True when `folder` is this user's alone (created so if asked): nobody else may plant
    or reach a socket or state file in it."""
    if create:
        try:
            folder.mkdir(mode=0o700, parents=False, exist_ok=True)
        except FileNotFoundError:
            folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.mkdir(mode=0o700, exist_ok=True)
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def write_state(path: Path, state: dict) -> None:
    """Whole or not at all: a reader never sees half a state file."""
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    os.chmod(part, 0o600)
    os.replace(part, path)


def read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def alive(pid: int | None, marker: str) -> bool:
    """Whether `pid` runs and is ours: its command line names `marker` (a pid may be reused)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes()
        info = Path(f"/proc/{int(pid)}").stat()
    except (OSError, ValueError):
        return False
    if info.st_uid != os.getuid():
        return False
    if b"\0" in cmdline:  # a zombie has an empty command line: not running
        return marker.encode() in cmdline
    return False


def code_fingerprint() -> str:
    """What the installed code is, cheaply: names, sizes and change times of the package's
    Python, SQL, templates and policies. A service that started from other code is stale."""
    from innsyn import resources

    package = Path(resources.__file__).resolve().parent
    digest = hashlib.sha256()
    for folder, pattern in ((package, "*.py"), (package / "service", "*.py"), (resources.SQL_DIR, "*.sql"),
                            (resources.TEMPLATES_DIR, "*/*"), (resources.POLICIES_DIR, "*.toml")):
        for path in sorted(folder.glob(pattern)):
            try:
                info = path.stat()
            except OSError:
                continue
            digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
