"""One e-mail message, read as hostile input: who sent it, its subject, its eInnsyn order.

Mail comes from anyone. A message larger than MAX_MESSAGE_BYTES is not parsed beyond its
head; headers that do not parse, bytes that are not UTF-8 and control characters become
plain, printable text (the sender and subject are shown to a case handler in the triage
list, never to Prefect); MIME that Python's parser has to repair is noted; and the order
attachment is read by `innsyn.intake.order` (defusedxml, no DTD, a size limit). Nothing here
raises on a bad message: it comes back with a `problem`, the reason it goes to triage.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from innsyn import clock
from innsyn.intake.order import MAX_ORDER_BYTES, EInnsynOrder, read_order
from innsyn.request import BadInput

MAX_MESSAGE_BYTES = 10_000_000
HEAD_BYTES = 64_000
MAX_HEADER_CHARS = 200
#: MIME defects that leave the message's structure unknown (others, such as a missing
#: MIME-Version, are harmless and common)
SERIOUS_DEFECTS = ("StartBoundaryNotFoundDefect", "MultipartInvariantViolationDefect",
                   "NoBoundaryInMultipartDefect", "CloseBoundaryNotFoundDefect", "InvalidBase64PaddingDefect",
                   "InvalidBase64CharactersDefect", "InvalidBase64LengthDefect", "MissingHeaderBodySeparatorDefect")


@dataclass(frozen=True)
class Message:
    sender: str
    sender_address: str | None
    subject: str
    message_id: str
    sent_at: datetime | None
    order: EInnsynOrder | None
    problem: str | None  # why the message cannot become a case by itself; None for a good order


def read_message(raw: bytes, *, size: int) -> Message:
    """Read one message. `raw` is the message, or its first HEAD_BYTES when `size` is over the limit."""
    too_large = size > MAX_MESSAGE_BYTES
    try:
        parsed = email.message_from_bytes(raw[:HEAD_BYTES] if too_large else raw, policy=email.policy.default)
    except Exception:  # noqa: BLE001 - the parser is meant not to raise; a message that makes it is triaged
        return Message("", None, "", "", None, None, "the message cannot be parsed as e-mail")
    sender = _header(parsed, "From")
    address = email.utils.parseaddr(sender)[1] or None
    head = dict(sender=sender, sender_address=address if address and "@" in address else None,
                subject=_header(parsed, "Subject"), message_id=_header(parsed, "Message-ID"),
                sent_at=_date(_header(parsed, "Date")))
    if too_large:
        return Message(**head, order=None, problem=f"the message is larger than the limit of {MAX_MESSAGE_BYTES} bytes")
    defects = sorted({type(defect).__name__ for part in parsed.walk() for defect in part.defects}
                     | {type(defect).__name__ for defect in parsed.defects})
    serious = [name for name in defects if name in SERIOUS_DEFECTS]
    attachments = _order_attachments(parsed)
    if not attachments:
        problem = (f"malformed MIME ({serious[0]}) and no order.xml found" if serious
                   else "not an eInnsyn order: no order.xml attached")
        return Message(**head, order=None, problem=problem)
    if len(attachments) > 1:
        return Message(**head, order=None, problem="more than one order.xml attached")
    data = attachments[0]
    if data is None:
        return Message(**head, order=None, problem="order.xml: the attachment cannot be decoded")
    try:
        order = read_order("order.xml", data)
    except BadInput as error:
        return Message(**head, order=None, problem=str(error))
    return Message(**head, order=order, problem=None)


def _order_attachments(parsed) -> list[bytes | None]:
    found = []
    for part in parsed.walk():
        if part.is_multipart():
            continue
        try:
            name = (part.get_filename() or "").strip().lower()
        except Exception:  # noqa: BLE001 - a filename parameter that does not decode
            name = ""
        if name.endswith(".xml") and "order" in name:
            try:
                payload = part.get_payload(decode=True)
            except Exception:  # noqa: BLE001
                payload = None
            found.append(payload[: MAX_ORDER_BYTES + 1] if payload is not None else None)
    return found


def _header(parsed, name: str) -> str:
    """A header as one printable line (at most MAX_HEADER_CHARS), whatever its bytes were."""
    try:
        value = parsed.get(name)
        text = str(value) if value is not None else ""
    except Exception:  # noqa: BLE001 - a header the policy cannot parse
        text = ""
    return printable(text)


def printable(text: str) -> str:
    """Text without control, format or undecodable characters, whitespace collapsed, capped."""
    text = text.encode("utf-8", "replace").decode("utf-8", "replace")
    kept = "".join(" " if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") else char for char in text)
    return " ".join(kept.split())[:MAX_HEADER_CHARS]


def _date(text: str) -> datetime | None:
    """The Date header as an aware time; None when missing, unparsable or in the future."""
    try:
        sent = email.utils.parsedate_to_datetime(text) if text else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if sent is None or sent.tzinfo is None or sent > clock.now() or sent.year < 2000:
        return None
    return sent
