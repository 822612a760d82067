"""An innsyn request as it arrives (contract.md, "A request: JSON"), parsed and checked.

Anything wrong with the file is a `BadInput` with one line saying what and where; it is
raised before anything is written, so a bad request leaves no case and no file.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from innsyn import clock
from innsyn.errors import BadInput  # noqa: F401 - raised here, and imported from here by most modules

MAX_REQUEST_BYTES = 1_000_000
#: No request is older than the product: a date of receipt before this is a typo (0026 for
#: 2026) or a hostile file, and the working-day calendar (innsyn.deadlines) starts here.
EARLIEST_RECEIPT = datetime(2000, 1, 1, tzinfo=clock.OSLO)
# Starts and ends with a letter or digit, so the case number never ends in "." or "-".
REQUEST_ID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9 _.\-/]{0,62}[A-Za-z0-9])?$")


class Requester(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=254)
    kind: Literal["journalist", "private", "commercial", "organisation", "anonymous"]
    organisation: str | None = Field(default=None, max_length=200)
    # the requester's own reference, printed as "Deres referanse" (only when they gave one)
    reference: str | None = Field(default=None, max_length=100)


class Scope(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    school_id: str = Field(min_length=1, max_length=64)
    classes: Literal["all"] | list[str] = Field(min_length=1)

    @field_validator("classes", mode="before")
    @classmethod
    def _all_or_a_list(cls, classes: object) -> object:
        if classes != "all" and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
            raise ValueError('expected "all" or a list of class names')
        return classes

    @field_validator("classes")
    @classmethod
    def _class_names(cls, classes: str | list[str]) -> str | list[str]:
        if isinstance(classes, list):
            if any(not name.strip() or len(name) > 64 for name in classes):
                raise ValueError("class names must be non-empty and at most 64 characters")
            return sorted({name.strip() for name in classes})
        return classes


class InnsynRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    request_id: str | None = None
    received_at: datetime
    requester: Requester
    scope: Scope

    @field_validator("request_id")
    @classmethod
    def _safe_id(cls, request_id: str | None) -> str | None:
        if request_id is None or request_id == "":
            return None
        if not REQUEST_ID.fullmatch(request_id) or ".." in request_id or "//" in request_id:
            raise ValueError(
                "must be 1-64 letters, digits, space, '_', '-', '.', '/' (no '..', no control characters)"
            )
        return request_id

    @field_validator("received_at", mode="before")
    @classmethod
    def _is_text(cls, received_at: object) -> object:
        # a number would be taken for seconds since 1970: say what is expected instead
        if not isinstance(received_at, str):
            raise ValueError("expected a date and time as text, e.g. 2026-11-23T09:15:00+01:00")
        return received_at

    @field_validator("received_at")
    @classmethod
    def _has_time_zone(cls, received_at: datetime) -> datetime:
        if received_at.tzinfo is None:
            raise ValueError("must include a time zone, e.g. 2026-11-23T09:15:00+01:00")
        return received_at

    @field_validator("received_at")
    @classmethod
    def _a_day_we_can_count_from(cls, received_at: datetime) -> datetime:
        # checked here, at the door, for the command and for a served deployment alike: a
        # year-1 or far-future receipt would register a case no deadline can be counted for
        if received_at < EARLIEST_RECEIPT:
            raise ValueError(f"is before {EARLIEST_RECEIPT:%Y-%m-%d}")
        if received_at > clock.now():
            raise ValueError("is in the future")
        return received_at


def case_id_for(request_id: str) -> str:
    """The case number as a file name: '2026/1234' -> '2026-1234'."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "-", request_id)


def parse_request(path: Path) -> InnsynRequest:
    """Read a request file (JSON, or an eInnsyn order.xml); BadInput names the file and field."""
    raw = _read_limited(path)
    if path.suffix.lower() == ".xml":
        from innsyn.intake.order import parse_order_request

        return parse_order_request(path, raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadInput(f"{path}: not UTF-8 (byte {error.start})") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as error:
        raise BadInput(f"{path}: not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except RecursionError:
        raise BadInput(f"{path}: not valid JSON: nested too deeply") from None
    except _DuplicateKey as error:
        raise BadInput(f"{path}: not valid JSON: the key {error.key!r} appears twice in one object") from None
    return validate_request(path, data)


def _read_limited(path: Path) -> bytes:
    """The file's bytes; more than MAX_REQUEST_BYTES is refused (a device or a pipe too)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_REQUEST_BYTES + 1)
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a folder, not a request file") from None
    except OSError as error:
        raise BadInput(f"{path}: cannot read ({error.strerror})") from None
    if len(raw) > MAX_REQUEST_BYTES:
        raise BadInput(f"{path}: request file is larger than the limit of {MAX_REQUEST_BYTES} bytes")
    return raw


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object with a key twice is refused: parsers disagree on which one counts."""
    result = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def validate_request(path: Path, data: object) -> InnsynRequest:
    """Check a request's fields; BadInput names the file and the first wrong field."""
    if not isinstance(data, dict):
        raise BadInput(f"{path}: a request must be a JSON object")
    try:
        return InnsynRequest.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "request"
        raise BadInput(f"{path}: {where}: {_plain(first)}") from None


def _plain(error: dict) -> str:
    """Pydantic's message without echoing the input (it may hold personal data)."""
    message = error["msg"]
    return message.removeprefix("Value error, ")
