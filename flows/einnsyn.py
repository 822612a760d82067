"""eInnsyn orders: the `order.xml` an innsyn request arrives with when it comes by eInnsyn.

eInnsyn e-mails each agency an order in one of two schemas (domain.md, "Requests that
arrive through eInnsyn"):

- v1: a root `<bestilling>`, `bestillingsdato` written dd.MM.yyyy;
- v2: a root `bestilling` in the namespace http://einnsyn.no/schema/order/v2,
  `bestillingsdato` written yyyy-MM-dd.

The file comes from outside, so it is read with defusedxml and no document type at all is
allowed: a DTD is where both external entities (XXE: "read /etc/passwd into this field")
and entity bombs ("a billion laughs") live, and an order never needs one. Such a file is
refused before any entity is expanded.

An order names journal documents (case and document numbers), not a school and classes,
and there is no agreed way yet to say which class list it asks for. So a well-formed order
is read and checked here, and then refused with one line saying so: the case handler
registers it as a JSON request (contract.md, "A request: JSON"). Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from innsyn.request import BadInput, InnsynRequest

V2_NAMESPACE = "http://einnsyn.no/schema/order/v2"
DATE_FORMATS = {1: "%d.%m.%Y", 2: "%Y-%m-%d"}


@dataclass(frozen=True)
class OrderedDocument:
    case_number: str  # saksnr, e.g. "2026/1234"
    document_number: str  # dokumentnr


@dataclass(frozen=True)
class EInnsynOrder:
    version: int
    order_id: str
    ordered_on: date
    email: str | None
    documents: tuple[OrderedDocument, ...]


def read_order(path: Path, raw: bytes) -> EInnsynOrder:
    """Parse an eInnsyn order.xml (v1 or v2); BadInput names the file and what is wrong."""
    root = _parse(path, raw)
    version = _version(path, root)
    order_id = _text(root, "id")
    if not order_id:
        raise BadInput(f"{path}: bestilling/id: is missing")
    ordered = _text(root, "bestillingsdato")
    try:
        ordered_on = datetime.strptime(ordered or "", DATE_FORMATS[version]).date()
    except ValueError:
        expected = "dd.MM.yyyy" if version == 1 else "yyyy-MM-dd"
        raise BadInput(f"{path}: bestilling/bestillingsdato: expected a date written {expected} (order v{version})") from None
    contact = _child(root, "kontaktinfo")
    documents = tuple(
        OrderedDocument(_text(document, "saksnr") or "", _text(document, "dokumentnr") or "")
        for listing in _children(root, "dokumenter")
        for document in _children(listing, "dokument")
    )
    return EInnsynOrder(version, order_id, ordered_on, _text(contact, "e-post") if contact is not None else None,
                        documents)


def parse_order_request(path: Path, raw: bytes) -> InnsynRequest:
    """An order as a request: read and checked, then refused until orders can name a class list."""
    order = read_order(path, raw)
    raise BadInput(
        f"{path}: eInnsyn order {order.order_id!r} (v{order.version}) names journal documents, not a class "
        "list; register it as a JSON request (contract.md, \"A request: JSON\")"
    )


# ----------------------------------------------------------------------------- reading


def _parse(path: Path, raw: bytes) -> Element:
    try:
        return fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise BadInput(f"{path}: refused: the XML declares a document type or entities, which an order never has") from None
    except ParseError as error:
        line, column = error.position
        raise BadInput(f"{path}: not well-formed XML at line {line}, column {column}") from None


def _version(path: Path, root: Element) -> int:
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
