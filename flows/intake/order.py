"""eInnsyn orders: the `order.xml` an innsyn request arrives with when it comes by eInnsyn.

eInnsyn e-mails each agency an order in one of two schemas (domain.md, "Requests that
arrive through eInnsyn"; eInnsyn's own templates, order-v1.xml and order-v2.xml):

- v1: a root `<bestilling>`, `bestillingsdato` written dd.MM.yyyy, per `dokument` the
  `saksnr`, `dokumentnr` and `journalnr`;
- v2: a root `bestilling` in the namespace http://einnsyn.no/schema/order/v2 (any prefix),
  `bestillingsdato` written yyyy-MM-dd, and per `dokument` also the journal system's
  `systemId` and `fagsysteminfo/id`.

The file comes from outside, so it is read with defusedxml and no document type at all is
allowed: a DTD is where both external entities (XXE: "read /etc/passwd into this field")
and entity bombs ("a billion laughs") live, and an order never needs one. Such a file is
refused before any entity is expanded.

An order names journal documents, not a school and classes: `innsyn.intake.mapping` finds
the class lists they are through the register's journal mapping (journal_documents.csv).
A request file given to `innsyn process` cannot be an order (it has no register to look in):
it is read, checked and refused with one line pointing to `innsyn intake`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from innsyn.request import BadInput, InnsynRequest

V2_NAMESPACE = "http://einnsyn.no/schema/order/v2"
DATE_FORMATS = {1: "%d.%m.%Y", 2: "%Y-%m-%d"}
MAX_ORDER_BYTES = 1_000_000
MAX_DOCUMENTS = 500
#: a journal reference or an id: what eInnsyn writes (UUIDs, "2026/1234", "3"), nothing longer
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:/{}\-]{0,99}$")
_EMAIL = re.compile(r"^[^\s@<>\"(),;:\\\[\]]{1,64}@[A-Za-z0-9.\-]{1,189}\.[A-Za-z]{2,63}$")


@dataclass(frozen=True)
class OrderedDocument:
    case_number: str  # saksnr, e.g. "2026/1234"
    document_number: str  # dokumentnr
    # v2 only; not part of equality, so a document is its saksnr + dokumentnr as in v1
    system_id: str | None = field(default=None, compare=False)
    journal_number: str | None = field(default=None, compare=False)  # journalnr

    def as_json(self) -> dict:
        return {"saksnr": self.case_number, "dokumentnr": self.document_number, "system_id": self.system_id,
                "journalnr": self.journal_number}


@dataclass(frozen=True)
class EInnsynOrder:
    version: int
    order_id: str
    ordered_on: date
    email: str | None
    documents: tuple[OrderedDocument, ...]


def read_order(path: Path | str, raw: bytes) -> EInnsynOrder:
    """Parse an eInnsyn order.xml (v1 or v2); BadInput names the file and what is wrong.

    The message never repeats a value from the file: it is the requester's text."""
    if len(raw) > MAX_ORDER_BYTES:
        raise BadInput(f"{path}: order is larger than the limit of {MAX_ORDER_BYTES} bytes")
    root = _parse(path, raw)
    version = _version(path, root)
    order_id = _text(root, "id")
    if not order_id:
        raise BadInput(f"{path}: bestilling/id: is missing")
    if not _REFERENCE.fullmatch(order_id):
        raise BadInput(f"{path}: bestilling/id: expected letters, digits and '-' (at most 100)")
    ordered = _text(root, "bestillingsdato")
    try:
        ordered_on = datetime.strptime(ordered or "", DATE_FORMATS[version]).date()
    except ValueError:
        expected = "dd.MM.yyyy" if version == 1 else "yyyy-MM-dd"
        raise BadInput(f"{path}: bestilling/bestillingsdato: expected a date written {expected} (order v{version})") from None
    contact = _child(root, "kontaktinfo")
    email = _text(contact, "e-post") if contact is not None else None
    if email is not None and not _EMAIL.fullmatch(email):
        raise BadInput(f"{path}: bestilling/kontaktinfo/e-post: not an e-mail address")
    documents = tuple(
        _document(path, document, number)
        for number, document in enumerate(
            (document for listing in _children(root, "dokumenter") for document in _children(listing, "dokument")),
            start=1)
    )
    if not documents:
        raise BadInput(f"{path}: bestilling/dokumenter: the order names no documents")
    if len(documents) > MAX_DOCUMENTS:
        raise BadInput(f"{path}: bestilling/dokumenter: more than {MAX_DOCUMENTS} documents")
    return EInnsynOrder(version, order_id, ordered_on, email, documents)


def parse_order_request(path: Path, raw: bytes) -> InnsynRequest:
    """An order as a request file: read and checked, then refused (intake maps orders)."""
    order = read_order(path, raw)
    raise BadInput(
        f"{path}: eInnsyn order {order.order_id!r} (v{order.version}) names journal documents, not a class "
        "list; give it to `innsyn intake` (its e-mail, in a Maildir), or register it as a JSON request"
    )


def _document(path: Path | str, document: Element, number: int) -> OrderedDocument:
    where = f"{path}: bestilling/dokumenter/dokument[{number}]"
    values = {}
    for name in ("saksnr", "dokumentnr", "journalnr", "systemId"):
        value = _text(document, name)
        if value is not None and not _REFERENCE.fullmatch(value):
            raise BadInput(f"{where}/{name}: expected a journal reference (letters, digits, '/', '-', at most 100)")
        values[name] = value
    if not values["systemId"] and not (values["saksnr"] and values["dokumentnr"]):
        raise BadInput(f"{where}: needs systemId, or saksnr and dokumentnr")
    return OrderedDocument(values["saksnr"] or "", values["dokumentnr"] or "", values["systemId"], values["journalnr"])


# ----------------------------------------------------------------------------- reading


def _parse(path: Path | str, raw: bytes) -> Element:
    try:
        return fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise BadInput(f"{path}: refused: the XML declares a document type or entities, which an order never has") from None
    except ParseError as error:
        line, column = error.position
        raise BadInput(f"{path}: not well-formed XML at line {line}, column {column}") from None


def _version(path: Path | str, root: Element) -> int:
    namespace, _, name = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if name == "bestilling" and namespace == V2_NAMESPACE:
        return 2
    if name == "bestilling" and namespace == "":
        return 1
    raise BadInput(f"{path}: not an eInnsyn order (expected <bestilling>, v1, or in the namespace {V2_NAMESPACE})")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(parent: Element, name: str) -> list[Element]:
    """Children by local name: v2 orders qualify the root, and some writers the children too."""
    return [child for child in parent if _local(child.tag) == name]


def _child(parent: Element, name: str) -> Element | None:
    found = _children(parent, name)
    return found[0] if found else None


def _text(parent: Element | None, name: str) -> str | None:
    child = _child(parent, name) if parent is not None else None
    text = (child.text or "").strip() if child is not None else ""
    return text or None
