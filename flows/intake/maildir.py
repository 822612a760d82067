"""`innsyn intake maildir DIR`: every new message in a Maildir becomes a case or a triage entry.

A Maildir (what getmail, fetchmail and Dovecot deliver) has `new/` for messages nobody has
seen and `cur/` for the rest. Each message in `new/` is read (innsyn.intake.mail) and:

- an eInnsyn order whose documents are class lists of one school (innsyn.intake.mapping)
  becomes a request, which is processed as `innsyn process` processes one: the case is
  registered, screened, and released or held for review. eInnsyn's retry of the same order
  finds the same case;
- anything else (another e-mail, an order the mapping cannot place, hostile mail) becomes a
  triage entry with the reason in one line.

Only once the case or the triage entry is committed, together with a record that the message
(by the sha256 of its bytes) was handled, is the message moved to `cur/`. A run that dies in
between leaves the message in `new/`; the next run finds the record (or the case) and only
moves it. Two runs on one Maildir take turns (a lock on the folder).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from innsyn import clock
from innsyn.db import init_schema, open_db, transaction
from innsyn.intake import mapping, triage
from innsyn.intake.mail import MAX_MESSAGE_BYTES, Message, read_message
from innsyn.request import BadInput

#: processes a request file as `innsyn process` does; returns the case's JSON summary
Processor = Callable[[Path], dict]
#: checks a request file as `innsyn process` does before anything is written (BadInput)
Checker = Callable[[Path], object]


def check_maildir(folder: Path) -> None:
    for sub in ("new", "cur"):
        if not (folder / sub).is_dir():
            raise BadInput(f"{folder}: not a Maildir (no {sub}/ folder)")


def handle_maildir(folder: Path, *, db: Path, out: Path, process: Processor, check: Checker) -> dict:
    """Handle every message now in DIR/new; a summary with one line per message (ids only)."""
    check_maildir(folder)
    with open_db(db) as con:
        init_schema(con)
    handled = []
    with _one_run_at_a_time(folder):
        for path in sorted((folder / "new").iterdir()):
            if not path.name.startswith(".") and not path.is_dir():
                handled.append(_handle(path, folder, db=db, out=out, process=process, check=check))
    return {"maildir": str(folder), "messages": handled,
            "cases": sorted({m["case_id"] for m in handled if m.get("case_id")}),
            "triaged": sum(1 for m in handled if m["outcome"] == "triage")}


def _handle(path: Path, folder: Path, *, db: Path, out: Path, process: Processor, check: Checker) -> dict:
    if not stat.S_ISREG(os.lstat(path).st_mode):
        # a link or a device in new/ is no delivered message: never opened (it could point
        # anywhere, or never end), recorded by its name, and moved out of the way
        sha = hashlib.sha256(b"not-a-file:" + os.fsencode(path.name)).hexdigest()
        return _triage(path, folder, db, sha, Message("", None, "", "", None, None, None),
                       "not a regular file (a link or a device): not read")
    raw, size, sha = _read(path)
    with open_db(db, read_only=True) as con:
        done = con.execute("SELECT outcome, case_id, triage_id FROM intake_messages WHERE message_sha256 = ?",
                           [sha]).fetchone()
    if done:
        _move_to_cur(path, folder)
        return {"file": path.name, "outcome": done[0], "case_id": done[1], "triage_id": done[2],
                "already_handled": True}
    message = read_message(raw, size=size)
    reason = message.problem
    if reason is None:
        with open_db(db, read_only=True) as con:
            matched = mapping.match_order(con, message.order)
        if isinstance(matched, mapping.Unmapped):
            reason = matched.reason
        else:
            request = mapping.order_request(message.order, *matched)
            request_file = mapping.write_request_file(out, request)
            try:
                check(request_file)
            except BadInput as refused:  # a date in the future, a class gone since the mapping was made, …
                reason = f"the order's request was refused: {str(refused).removeprefix(str(request_file) + ': ')}"
            else:
                result = process(request_file)
                _record(db, sha, path.name, "case", case_id=result["case_id"])
                _move_to_cur(path, folder)
                return {"file": path.name, "outcome": "case", "case_id": result["case_id"],
                        "status": result["status"]}
    return _triage(path, folder, db, sha, message, reason)


def _triage(path: Path, folder: Path, db: Path, sha: str, message: Message, reason: str) -> dict:
    triage_id = triage.triage_id_for(sha)
    _record(db, sha, path.name, "triage", triage_id=triage_id, message=message, reason=reason)
    _move_to_cur(path, folder)
    return {"file": path.name, "outcome": "triage", "triage_id": triage_id, "reason": reason}


def _record(db: Path, sha: str, file_name: str, outcome: str, *, case_id: str | None = None,
            triage_id: str | None = None, message: Message | None = None, reason: str | None = None) -> None:
    now = clock.now()
    with open_db(db) as con, transaction(con):
        if triage_id is not None and not con.execute("SELECT 1 FROM intake_triage WHERE triage_id = ?",
                                                     [triage_id]).fetchone():
            triage.add_entry(con, triage_id, message, reason, message.sent_at or now)
        con.execute("INSERT INTO intake_messages VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [sha, file_name, now, outcome, case_id, triage_id])


def _read(path: Path) -> tuple[bytes, int, str]:
    """The message's bytes (no more than the limit and one), its size, and its sha256."""
    digest = hashlib.sha256()
    kept = bytearray()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
            if len(kept) <= MAX_MESSAGE_BYTES:
                kept += chunk[: MAX_MESSAGE_BYTES + 1 - len(kept)]
    return bytes(kept), size, digest.hexdigest()


def _move_to_cur(path: Path, folder: Path) -> None:
    """Seen: into cur/ with the Maildir info ':2,S' (the message is read)."""
    name = path.name if ":2," in path.name else f"{path.name}:2,S"
    os.replace(path, folder / "cur" / name)


@contextmanager
def _one_run_at_a_time(folder: Path) -> Iterator[None]:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
