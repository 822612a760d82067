"""The leak gate reads a finished PDF back and finds planted withheld values."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
import weasyprint
from pypdf import PdfReader, PdfWriter

from innsyn.answer import public_view
from innsyn.leak_gate import LeakFound, check_pdf, find_leaks, normalise, value_parts
from innsyn.render import render_public_pdf, render_review_pdf

sys.path.insert(0, str(Path(__file__).parent))
from test_render import CANARIES, make_answer  # noqa: E402

SECRET = "Hemmeligveien 7, 0470 Oslo"


def pdf(tmp_path: Path, body: str, head: str = "", name: str = "doc.pdf") -> Path:
    html = f"""<!DOCTYPE html><html lang="nb"><head><meta charset="utf-8">{head}</head>
    <body style="font-family: 'DejaVu Sans'">{body}</body></html>"""
    path = tmp_path / name
    weasyprint.HTML(string=html).write_pdf(path)
    return path


def test_clean_pdf_passes(tmp_path):
    path = pdf(tmp_path, "<p>Ola Nordmann, Storgata 1</p>")
    assert find_leaks(path, {"g1-address": SECRET}) == []
    check_pdf(path, {"g1-address": SECRET})


def test_value_in_body_text(tmp_path):
    path = pdf(tmp_path, f"<p>Adresse: {SECRET}</p>")
    assert find_leaks(path, {"g1-address": SECRET, "g2-phone": "99887766"}) == ["g1-address"]


def test_value_case_and_normalisation_insensitive(tmp_path):
    # decomposed å (a + ring) in the PDF, composed in the value; different case
    path = pdf(tmp_path, "<p>KA\u030aRE A\u030aSEN</p>")
    assert find_leaks(path, {"n": "Kåre Åsen"}) == ["n"]


def test_value_in_wrapped_table_cell(tmp_path):
    body = f"""<table style="width: 60mm; table-layout: fixed; border-collapse: collapse">
      <tr><td style="width: 20mm">Ola</td><td style="width: 18mm; overflow-wrap: anywhere">{SECRET}</td>
          <td style="width: 22mm">ola@example.no 41234567</td></tr>
      <tr><td>Kari</td><td style="overflow-wrap: anywhere">maret.duvra.savrre@eksempelpost.no</td><td>x</td></tr>
    </table>"""
    path = pdf(tmp_path, body)
    # the cell really wraps
    text = PdfReader(path).pages[0].extract_text()
    assert SECRET not in text
    leaks = find_leaks(
        path, {"addr": SECRET, "mail": "maret.duvra.savrre@eksempelpost.no", "other": "Pål Sværd"}
    )
    assert leaks == ["addr", "mail"]


@pytest.mark.parametrize("where", [
    "position: absolute; left: -150mm; top: 20mm",     # off the left edge
    "position: absolute; left: 10mm; top: 400mm",      # below the page
    "margin-left: 260mm",                              # off the right edge
    "position: absolute; left: -20000mm; top: 5mm",    # very far away
    "color: white",                                    # on the page, unseen
    "font-size: 0.5pt",                                # on the page, too small to see
])
def test_value_drawn_where_nobody_looks(tmp_path, where):
    path = pdf(tmp_path, f'<p>Innsiden</p><p style="{where}">{SECRET}</p>')
    assert find_leaks(path, {"g1-address": SECRET}) == ["g1-address"]


def test_value_in_title_metadata(tmp_path):
    path = pdf(tmp_path, "<p>Ingenting her</p>", head=f"<title>Svar om {SECRET}</title>")
    assert find_leaks(path, {"addr": SECRET}) == ["addr"]


def test_value_in_other_metadata_and_xmp(tmp_path):
    path = pdf(
        tmp_path,
        "<p>Ingenting her</p>",
        head='<meta name="author" content="Skjult Spøkelse"><meta name="keywords" content="Tåkeveien 3">',
    )
    assert find_leaks(path, {"a": "Skjult Spøkelse", "k": "Tåkeveien 3"}) == ["a", "k"]


def test_value_in_bookmark(tmp_path):
    body = f"""<h1 style="bookmark-label: '{SECRET}'">Klasseliste 5B</h1><p>tekst</p>"""
    path = pdf(tmp_path, body)
    assert [o.title for o in PdfReader(path).outline] == [SECRET]
    page_text = PdfReader(path).pages[0].extract_text()
    assert "Hemmeligveien" not in page_text
    assert find_leaks(path, {"addr": SECRET}) == ["addr"]


def test_value_in_link_annotation(tmp_path):
    path = pdf(tmp_path, '<p><a href="mailto:skjult.person@example.no">kontakt</a></p>')
    assert find_leaks(path, {"mail": "skjult.person@example.no"}) == ["mail"]


def test_value_in_embedded_file_name(tmp_path):
    source = pdf(tmp_path, "<p>tekst</p>", name="source.pdf")
    writer = PdfWriter(clone_from=source)
    writer.add_attachment("Hemmeligveien-7.txt", b"data")
    path = tmp_path / "attached.pdf"
    writer.write(path)
    assert find_leaks(path, {"addr": "Hemmeligveien-7"}) == ["addr"]


def test_short_values_are_skipped(tmp_path):
    path = pdf(tmp_path, "<p>Ola Nordmann, 0470 Oslo, tlf 12</p>")
    withheld = {"phone": "12", "blank": "  ", "city": "0470 Oslo"}
    assert find_leaks(path, withheld) == ["city"]


def test_a_withheld_value_also_released_is_a_conflict_and_fails_the_case(tmp_path):
    """The same address under a co-resident: the gate cannot tell whose it is, so it does not
    excuse it (screening withholds such values together)."""
    path = pdf(tmp_path, "<p>Ola Nordmann, Kanariveien 7, 0170 OSLO</p>")
    withheld = {"E1/pupil_name": "Ola Nordmann", "E2/F3/address": "Kanariveien 7, 0170 OSLO"}
    released = ["ola  NORDMANN", "Kanariveien 7, 0170 OSLO"]
    assert find_leaks(path, withheld, released=released) == ["E1/pupil_name", "E2/F3/address"]
    # only a name released as a name may be another person's: a namesake is not a leak
    assert find_leaks(path, withheld, released=released, namesakes=["Ola Nordmann"]) == ["E2/F3/address"]
    assert find_leaks(path, withheld, released=released, namesakes=["Kanariveien 9, 0170 OSLO"]) == [
        "E1/pupil_name", "E2/F3/address"]


def test_a_value_inside_a_longer_released_value_is_still_not_a_leak(tmp_path):
    path = pdf(tmp_path, "<p>hans-petter.berg@example.no, Kanariveien 71, 0170 OSLO</p>")
    withheld = {"a": "petter.berg@example.no", "b": "Kanariveien 7, 0170 OSLO"}
    assert find_leaks(path, withheld, released=["hans-petter.berg@example.no", "Kanariveien 71, 0170 OSLO"]) == []


def test_bidi_and_format_characters_do_not_hide_a_withheld_value(tmp_path):
    """A value stored with a right-to-left mark or a zero-width joiner reads the same: the gate
    compares both sides without format characters."""
    path = pdf(tmp_path, "<p>Kari Kanari, Kanariveien 7</p>")
    assert find_leaks(path, {"x": "Kari\u200f Kanari", "y": "Kanari\u2066veien\u2069 7"}) == ["x", "y"]
    printed = pdf(tmp_path, "<p>Kari\u2066 Kan\u200dari\u2069</p>", name="bidi.pdf")
    assert find_leaks(printed, {"x": "Kari Kanari"}) == ["x"]


def test_message_has_ids_only(tmp_path):
    path = pdf(tmp_path, f"<p>{SECRET}</p><p>Skjult Spøkelse</p>")
    with pytest.raises(LeakFound) as caught:
        check_pdf(path, {"g1-address": SECRET, "s3-name": "Skjult Spøkelse"})
    message = str(caught.value)
    assert "g1-address" in message and "s3-name" in message
    assert "Hemmelig" not in message and "Spøkelse" not in message and "Skjult" not in message
    assert caught.value.item_ids == ["g1-address", "s3-name"]


def test_normalise():
    assert normalise(" Kå\u00adre\nÅ  sen ") == "kåreåsen"
    assert normalise("A\u030a") == "å"
    assert normalise("ﬁne") == "fine"


def test_missing_pdftotext_is_a_clear_error(tmp_path, monkeypatch):
    path = pdf(tmp_path, "<p>tekst</p>")
    monkeypatch.setattr("innsyn.leak_gate.shutil.which", lambda name: None)
    with pytest.raises(RuntimeError, match="poppler-utils"):
        find_leaks(path, {"addr": SECRET})


# --------------------------------------------------------------------------- real answers


def test_public_answer_passes_and_review_copy_is_caught(tmp_path):
    answer = make_answer()
    public, review = tmp_path / "svar.pdf", tmp_path / "intern.pdf"
    render_public_pdf(public_view(answer), public)
    render_review_pdf(answer, review)
    check_pdf(public, CANARIES)
    assert find_leaks(review, CANARIES) == sorted(CANARIES)


def test_gate_catches_a_public_answer_built_wrongly(tmp_path):
    """If a withheld value slipped into a released cell, the gate sees it."""
    answer = public_view(make_answer())
    five_b = answer.classes[0]
    row = five_b.rows[1]
    guardian = replace(row.guardians[0], address=replace(row.guardians[0].email, value=CANARIES["g-inst-address"]))
    bad = replace(
        answer,
        classes=(replace(five_b, rows=(five_b.rows[0], replace(row, guardians=(guardian,)), *five_b.rows[2:])),
                 *answer.classes[1:]),
    )
    path = tmp_path / "svar.pdf"
    render_public_pdf(bad, path)
    assert find_leaks(path, CANARIES) == ["g-inst-address"]


# --------------------------------------------------------------------------- parts of a value


def test_value_parts_of_an_address_and_a_name():
    assert value_parts("Kanariveien 7, 0170 OSLO") == {"Kanariveien 7"}
    assert value_parts("Trondheimsveien 2, leil. 301, 0560 OSLO") == {"Trondheimsveien 2"}
    assert value_parts("Kari Anne Kanari") == {"Kari Kanari", "Kanari, Kari", "Kanari, Kari Anne"}
    assert value_parts("Anne-Lise O'Neil") == {"O'Neil, Anne-Lise"}
    # e-mail, phone and one-word values have no shorter form that is evidence
    assert value_parts("kari@example.no") == value_parts("412 34 567") == value_parts("Kari") == set()


def test_an_address_leaks_as_its_street_and_number(tmp_path):
    path = pdf(tmp_path, "<p>Eleven bor i Kanariveien 7.</p>")
    assert find_leaks(path, {"g1/address": "Kanariveien 7, 0170 OSLO"}) == ["g1/address"]


def test_a_neighbours_released_address_is_not_a_leak(tmp_path):
    """Kanariveien 71 holds "Kanariveien 7"; a released value explains it, even wrapped."""
    neighbour = "Kanariveien 71, 0170 OSLO"
    body = f"""<table style="width: 50mm; table-layout: fixed">
      <tr><td style="width: 25mm">Ola Nordmann</td><td style="width: 18mm">{neighbour}</td></tr></table>"""
    path = pdf(tmp_path, body)
    withheld = {"g1/address": "Kanariveien 7, 0170 OSLO"}
    assert find_leaks(path, withheld, released=["Ola Nordmann", neighbour]) == []
    # without the released value to explain it, the same text is a leak: the gate fails closed
    assert find_leaks(path, withheld) == ["g1/address"]


def test_the_street_and_number_elsewhere_is_a_leak_even_beside_a_neighbour(tmp_path):
    neighbour = "Kanariveien 71, 0170 OSLO"
    path = pdf(tmp_path, f"<p>{neighbour}</p><p>Levert til Kanariveien 7 i går.</p>")
    assert find_leaks(path, {"g1/address": "Kanariveien 7, 0170 OSLO"}, released=[neighbour]) == ["g1/address"]


@pytest.mark.parametrize("shown", ["Kari Kanari", "KANARI, KARI", "Kanari, Kari Anne"])
def test_a_name_leaks_without_its_middle_name_or_last_name_first(tmp_path, shown):
    path = pdf(tmp_path, f"<p>Elev: {shown}</p>")
    assert find_leaks(path, {"s1/pupil_name": "Kari Anne Kanari"}) == ["s1/pupil_name"]


def test_a_released_person_with_the_short_name_is_not_a_leak(tmp_path):
    path = pdf(tmp_path, "<p>Kari Kanari</p>")
    assert find_leaks(path, {"s1/pupil_name": "Kari Anne Kanari"}, released=["Kari Kanari"]) == []


def test_neighbouring_cells_are_not_a_name_last_name_first(tmp_path):
    """"Ola Hansen" beside "Per Olsen" reads "Hansen Per": not the withheld Per Hansen."""
    body = "<table><tr><td>Ola Hansen</td><td>Per Olsen</td><td>Storgata 1, 0155 OSLO</td></tr></table>"
    path = pdf(tmp_path, body)
    released = ["Ola Hansen", "Per Olsen", "Storgata 1, 0155 OSLO"]
    assert find_leaks(path, {"s2/pupil_name": "Per Hansen", "g2/address": "Storgata 12, 0155 OSLO"},
                      released=released) == []


def test_a_name_spelled_across_two_neighbouring_released_cells_is_not_a_leak(tmp_path):
    """"Omar Mustafa" beside "omar.mustafa@…" reads "…mustafaomar…" without its whitespace."""
    body = ("<table><tr><td>Omar Mustafa</td><td>omar.mustafa@example.no</td></tr>"
            "<tr><td>Kari Kanari</td><td>Kari</td></tr></table>")
    path = pdf(tmp_path, body)
    released = ["Omar Mustafa", "omar.mustafa@example.no", "Kari"]
    withheld = {"s1/pupil_name": "Mustafa Omar", "s2/pupil_name": "Kari Kanari"}
    # the released "Kari" lies inside the leaked cell: it does not explain the cell
    assert find_leaks(path, withheld, released=released) == ["s2/pupil_name"]
    # the withheld name in a cell of its own is a leak, neighbours or not
    path = pdf(tmp_path, body.replace("<td>Kari</td>", "<td>Mustafa Omar</td>"), name="leak.pdf")
    assert find_leaks(path, withheld, released=released) == ["s1/pupil_name", "s2/pupil_name"]
