"""eInnsyn's order.xml, v1 and v2: read safely, checked, and (for now) refused as a request.

The CLI's answer to every order in tests/bad_input/requests/ is in test_bad_input.py; here is
what the parser reads out of an order, and that a hostile one is refused before any entity
is expanded.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from innsyn.einnsyn import OrderedDocument, read_order
from innsyn.request import BadInput, parse_request

ORDERS = Path(__file__).parent / "bad_input" / "requests"


def order(name: str):
    path = ORDERS / name
    return read_order(path, path.read_bytes())


def test_a_v1_order_has_a_day_month_year_date():
    parsed = order("einnsyn_order_v1.xml")
    assert (parsed.version, parsed.order_id, parsed.ordered_on) == (
        1, "e7a2c1d0-0000-4000-8000-000000000001", date(2026, 11, 23))
    assert parsed.email == "kari@avis.example"
    assert parsed.documents == (OrderedDocument("2026/1234", "3"),)


def test_a_v2_order_is_namespaced_and_has_an_iso_date():
    parsed = order("einnsyn_order_v2.xml")
    assert (parsed.version, parsed.ordered_on) == (2, date(2026, 11, 23))
    assert parsed.documents == (OrderedDocument("2026/1234", "3"),)


@pytest.mark.parametrize("name", ["einnsyn_order_xxe.xml", "einnsyn_order_entity_bomb.xml"])
def test_entities_are_refused_before_anything_is_expanded(name):
    started = time.monotonic()
    with pytest.raises(BadInput, match="declares a document type or entities") as refused:
        order(name)
    assert time.monotonic() - started < 1  # no billion laughs were expanded
    assert "root:" not in str(refused.value)  # nothing of /etc/passwd


def test_an_order_is_not_yet_a_class_list_request():
    with pytest.raises(BadInput, match="names journal documents, not a class list"):
        parse_request(ORDERS / "einnsyn_order_v2.xml")
