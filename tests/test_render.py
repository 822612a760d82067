"""The public answer and the review copy, read back from the finished PDFs."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from innsyn.answer import (
    Answer,
    Cell,
    ClassList,
    Ground,
    GuardianLine,
    PupilRow,
    Requester,
    RuleSummary,
    public_view,
)
from innsyn.render import (
    render_public_html,
    render_public_pdf,
    render_review_html,
    render_review_pdf,
)

BASIS = "offentleglova § 13 første ledd, jf. forvaltningsloven § 13 første ledd nr. 1"

# Planted values that must never reach the public answer.
CANARIES = {
    "g-inst-address": "CANARY-ADDR-Hemmeligveien 7",
    "g-hidden-phone": "CANARY-TLF-99887766",
    "s-ghost-name": "CANARY-NAME-Skjult Spøkelse",
    "g-ghost-name": "CANARY-GNAME-Ukjent Forelder",
    "g-ghost-email": "canary-ghost@example.invalid",
    "g-ghost-address": "CANARY-GADDR-Skjulestien 3",
}


def c(item_id: str, value: str, **kw) -> Cell:
    return Cell(item_id=item_id, value=value, **kw)


def withheld(item_id: str, rule: str, **kw) -> Cell:
    return Cell(
        item_id=item_id, value=CANARIES[item_id], withheld=True, rule=rule, legal_basis=BASIS, **kw
    )


def make_answer(*, outcome: str = "delvis_innvilget", pupil_name: str | None = None) -> Answer:
    """Two classes at two schools, æøå and Sámi names, an institution address withheld,
    an unlisted phone withheld, a pupil with a strengt fortrolig address (no trace), a
    guardian who shares nothing but their name."""
    sagene_5b = ClassList(
        class_id="S001-5B",
        school_name="Sagene skole",
        class_name="5B",
        grade=5,
        rows=(
            PupilRow(
                "S1",
                c("s1-name", pupil_name or "Áile Ŋuvttáš Čoarvi"),
                (
                    GuardianLine(
                        "G1",
                        c("g1-name", "Máret Đuvrá Šávrre"),
                        c("g1-email", "maret.duvra.savrre.med.en.veldig.lang.adresse@eksempelpost.no"),
                        c("g1-phone", "41234567"),
                        c("g1-address", "Ŧeahkkágeaidnu 12, 0470 Oslo"),
                    ),
                    GuardianLine(
                        "G2",
                        c("g2-name", "Žaneta Øvrebø"),
                        c("g2-email", "zaneta@example.no"),
                        # unlisted phone: withheld, looks like an unshared field
                        withheld("g-hidden-phone", "unlisted_phone"),
                        None,
                    ),
                ),
            ),
            PupilRow(
                "S2",
                c("s2-name", "Bjørn Ærlig Åsen"),
                (
                    GuardianLine(
                        "G3",
                        c("g3-name", "Kåre Åsen"),
                        c("g3-email", "kare@aasen.no"),
                        c("g3-phone", "92345678"),
                        # a child welfare institution: the address is withheld
                        withheld("g-inst-address", "institution_address"),
                    ),
                ),
            ),
            PupilRow(  # strengt fortrolig: the row leaves no trace
                "S3",
                withheld("s-ghost-name", "graded_address_strict", no_trace=True),
                (
                    GuardianLine(
                        "G4",
                        withheld("g-ghost-name", "graded_address_strict", no_trace=True),
                        withheld("g-ghost-email", "graded_address_strict", no_trace=True),
                        None,
                        withheld("g-ghost-address", "graded_address_strict", no_trace=True),
                    ),
                ),
            ),
            PupilRow(
                "S4",
                c("s4-name", "Ingrid Østby"),
                (GuardianLine("G5", c("g5-name", "Per Østby"), None, None, None),),
            ),
        ),
        flags=("indirect_identification:S001-5B",),
    )
    tasta_7a = ClassList(
        class_id="S002-7A",
        school_name="Tåsen skole",
        class_name="7A",
        grade=7,
        rows=(
            PupilRow(
                "S5",
                c("s5-name", "Đorđe Šantić"),
                (
                    GuardianLine(
                        "G6",
                        c("g6-name", "Ŋánná Ŧuŋŋá"),
                        c("g6-email", "nanna@example.no"),
                        c("g6-phone", "+47 900 11 222"),
                        c("g6-address", "Tåsenveien 5, 0873 Oslo"),
                    ),
                ),
            ),
        ),
    )
    return Answer(
        case_id="2026-1234",
        request_id="2026/1234",
        received_date=date(2026, 11, 23),
        decided_date=date(2026, 11, 24),
        requester=Requester("Kari Nordmann", "kari@avis.no", "journalist", "Avisa Oslo"),
        agency_name="Utdanningsetaten i Oslo kommune",
        scope_text="klasselistene for 5B ved Sagene skole og 7A ved Tåsen skole",
        outcome=outcome,
        grounds=(
            Ground(
                "Det er gjort unntak for opplysninger om adresse og telefonnummer som er "
                "underlagt taushetsplikt fordi de gjelder noens personlige forhold.",
                BASIS,
            ),
        ),
        classes=(sagene_5b, tasta_7a),
        policy_label="innsyn-standard 2026.1 (sha256 3f2a9c)",
        flags=("consent_conflict:G3",),
        rule_summaries=(
            RuleSummary("institution_address", BASIS, "Adressen er en institusjonsadresse.", 1, False),
            RuleSummary("unlisted_phone", BASIS, "Hemmelig telefonnummer.", 1, False),
            RuleSummary("graded_address_strict", BASIS, "Strengt fortrolig adresse.", 4, True),
        ),
        status_label="Til juridisk vurdering",
    )


RELEASED = [
    "Áile Ŋuvttáš Čoarvi",
    "Máret Đuvrá Šávrre",
    "maret.duvra.savrre.med.en.veldig.lang.adresse@eksempelpost.no",
    "41234567",
    "Ŧeahkkágeaidnu 12, 0470 Oslo",
    "Žaneta Øvrebø",
    "zaneta@example.no",
    "Bjørn Ærlig Åsen",
    "Kåre Åsen",
    "kare@aasen.no",
    "92345678",
    "Ingrid Østby",
    "Per Østby",
    "Đorđe Šantić",
    "Ŋánná Ŧuŋŋá",
    "nanna@example.no",
    "+47 900 11 222",
    "Tåsenveien 5, 0873 Oslo",
]


def squash(text: str) -> str:
    """NFC, casefolded, all whitespace removed: table cells wrap across lines."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", text)).casefold()


def page_texts(path: Path) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(path).pages]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pdf")
    answer = make_answer()
    paths = {"public": out / "svar.pdf", "review": out / "intern.pdf"}
    render_public_pdf(public_view(answer), paths["public"])
    render_review_pdf(answer, paths["review"])
    return paths


# --------------------------------------------------------------------------- public


def test_public_has_every_released_value(rendered):
    text = squash("".join(page_texts(rendered["public"])))
    missing = [v for v in RELEASED if squash(v) not in text]
    assert missing == []


def test_public_has_no_withheld_value(rendered):
    text = squash("".join(page_texts(rendered["public"])))
    raw = rendered["public"].read_bytes()
    for item_id, value in CANARIES.items():
        assert squash(value) not in text, item_id
        assert b"CANARY" not in raw and b"canary" not in raw.lower()


def test_public_html_has_no_withheld_value_nor_marker():
    html = render_public_html(public_view(make_answer()))
    for value in CANARIES.values():
        assert value not in html
    assert "unntatt" not in html.lower().replace("begrunnelse for unntak", "").replace(
        "unntaket gjelder", ""
    )
    # no trace of the strengt fortrolig pupil, not even its ids
    assert "S3" not in html and "G4" not in html


def test_letter_elements(rendered):
    pages = page_texts(rendered["public"])
    letter = pages[0]
    flat = " ".join(letter.split())
    assert "Vår referanse: 2026-1234" in flat
    assert "Deres referanse" not in flat  # the requester gave none: our own id is not theirs
    assert "Dato: 24. november 2026" in flat
    assert "mottatt 23. november 2026" in flat
    assert "Kari Nordmann" in flat and "Avisa Oslo" in flat
    assert "Svar på innsynskrav – klasselistene for 5B ved Sagene skole" in flat
    assert "Innsynskravet er delvis innvilget." in flat
    assert "Klasselistene viser bare de opplysningene de foresatte selv har valgt å dele" in flat
    assert "Begrunnelse for unntak" in flat
    assert f"Hjemmel: {BASIS}." in flat
    assert "merinnsyn etter offentleglova § 11" in flat
    assert "opplyser vi ikke hvor mange elever" in flat
    assert "offentleglova § 32" in flat
    assert "tre uker" in flat
    assert "ti arbeidsdager" in flat and "offentleglova § 31 andre ledd" in flat
    assert "Statsforvalteren i Oslo og Akershus, som avgjør klagen" in flat
    assert "forvaltningsloven § 29" in flat
    assert "Klagen sendes til Utdanningsetaten i Oslo kommune." in flat
    assert "Med hilsen" in flat
    assert "ingen håndskrevne signaturer" in flat
    assert "Side 1 av" in flat
    # the letter fits on one page: the lists start on page 2
    assert "Klasseliste 5B – Sagene skole" in " ".join(pages[1].split())


def test_letter_counts_no_pupils(rendered):
    pages = page_texts(rendered["public"])
    letter = " ".join(pages[0].split())
    # remove the numbers the letter legitimately carries: dates, case number, sections, pages
    stripped = re.sub(r"\d{1,2}\. \w+ \d{4}|2026[-/]1234|§ \d+|nr\. \d|Side \d+ av \d+|\b\dA\b|\b\dB\b", "", letter)
    assert not re.search(r"\d", stripped), stripped


def test_no_counts_in_public_document(rendered):
    text = " ".join(" ".join(page_texts(rendered["public"])).split())
    assert not re.search(r"\b\d+ (elever|elev|rader|oppføringer|foresatte)\b", text, re.I)


def test_running_header_and_footer(rendered):
    pages = page_texts(rendered["public"])
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        flat = " ".join(text.split())
        assert f"Side {number} av {len(pages)}" in flat
        if number > 1:
            assert "Saksnr. 2026-1234" in flat
            assert "Utdanningsetaten i Oslo kommune" in flat


def test_each_class_on_its_own_page(rendered):
    pages = [" ".join(t.split()) for t in page_texts(rendered["public"])]
    assert "Klasseliste 5B – Sagene skole" in pages[1]
    assert "Klasseliste 7A – Tåsen skole" in pages[2]
    assert "Elev Foresatt E-post Telefon Adresse" in pages[1]


def test_bookmarks_list_schools_and_classes(rendered):
    reader = PdfReader(rendered["public"])

    def titles(outline, depth=0):
        for item in outline:
            if isinstance(item, list):
                yield from titles(item, depth + 1)
            else:
                yield depth, item.title

    found = list(titles(reader.outline))
    assert found == [
        (0, "Svar på innsynskrav"),
        (0, "Sagene skole"),
        (1, "Klasseliste 5B"),
        (0, "Tåsen skole"),
        (1, "Klasseliste 7A"),
    ]


def test_pdfa_metadata(rendered):
    for path in rendered.values():
        reader = PdfReader(path)
        xmp = reader.xmp_metadata
        assert xmp is not None
        raw = xmp.stream.get_data().decode()
        assert 'pdfaid:part="2"' in raw or "<pdfaid:part>2</pdfaid:part>" in raw
        assert 'pdfaid:conformance="U"' in raw or "<pdfaid:conformance>U</pdfaid:conformance>" in raw
        assert reader.pdf_header.startswith("%PDF-1.7")
        assert reader.trailer["/Root"]["/Lang"] == "nb"
        # OutputIntent (sRGB) is required by PDF/A
        assert reader.trailer["/Root"]["/OutputIntents"]
    info = PdfReader(rendered["public"]).metadata
    assert info.title == "Svar på innsynskrav 2026-1234"
    assert info["/CreationDate"].startswith("D:20261124")


def test_render_is_deterministic(tmp_path):
    answer = make_answer()
    for name, render, view in (
        ("svar", render_public_pdf, public_view),
        ("intern", render_review_pdf, lambda a: a),
    ):
        first, second = tmp_path / f"{name}-1.pdf", tmp_path / f"{name}-2.pdf"
        render(view(answer), first)
        render(view(answer), second)
        assert first.read_bytes() == second.read_bytes(), name


def test_public_render_refuses_withheld_cells(tmp_path):
    with pytest.raises(ValueError, match="withheld"):
        render_public_pdf(make_answer(), tmp_path / "svar.pdf")
    assert not (tmp_path / "svar.pdf").exists()


def test_autoescape_renders_markup_literally(tmp_path):
    evil = "<script>alert(1)</script>{{ 7*7 }}"
    answer = make_answer(pupil_name=evil)
    path = tmp_path / "svar.pdf"
    render_public_pdf(public_view(answer), path)
    text = squash(" ".join(page_texts(path)))  # the name wraps in its table cell
    assert squash("<script>alert(1)</script>{{ 7*7 }}") in text
    assert "49" not in text
    html = render_public_html(public_view(answer))
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(("email", "html"), [
    ("zaneta@example.no", "<td>zaneta@example.no</td>"),                   # fits: no hint
    ("anne-marie.moen@example.no", "anne-marie.moen@<wbr/>example.no"),     # not after "anne-"
    ("maret.duvra.savrre.med.en.veldig.lang.adresse@eksempelpost.no",
     "maret.duvra.savrre.med.en.veldig.lang.adresse@<wbr/>eksempelpost.no"),  # too long to fit
    ("<b>x</b>-y@example.no", "&lt;b&gt;x&lt;/b&gt;-y@<wbr/>example.no"),   # escaped all the same
])
def test_a_long_or_hyphenated_email_may_wrap_only_after_its_at(email, html):
    answer = make_answer()
    first = answer.classes[0]
    guardian = first.rows[0].guardians[0]
    guardian = replace(guardian, email=c(guardian.email.item_id, email))
    row = replace(first.rows[0], guardians=(guardian, *first.rows[0].guardians[1:]))
    answer = replace(answer, classes=(replace(first, rows=(row, *first.rows[1:])), *answer.classes[1:]))
    assert html in render_public_html(public_view(answer))


@pytest.mark.parametrize(
    ("outcome", "sentence"),
    [
        ("innvilget", "Du får innsyn i klasselistene, med unntak av eventuelle opplysninger som er underlagt "
                      f"taushetsplikt, jf. {BASIS}."),
        ("delvis_innvilget", "Innsynskravet er delvis innvilget."),
        ("avslatt", "Innsynskravet er avslått."),
    ],
)
def test_outcome_wording(outcome, sentence):
    answer = make_answer(outcome=outcome)
    if outcome == "innvilget":
        answer = replace(answer, grounds=())
    html = " ".join(render_public_html(public_view(answer)).split())
    assert sentence in html
    # every letter: the provision, the right to fuller reasons, the right to appeal (§ 31 første ledd),
    # since something may have been withheld without a trace
    assert f"jf. {BASIS}." in html
    assert "ti arbeidsdager" in html and "offentleglova § 31 andre ledd" in html
    assert "offentleglova § 32" in html and "Statsforvalteren i Oslo og Akershus" in html
    assert "Klasselistene viser bare de opplysningene" in html
    assert ("Begrunnelse for unntak" in html) is (outcome != "innvilget")
    assert "Innsynskravet er innvilget" not in html  # never a plain grant: a no-trace row may be gone


def test_refusal_has_no_list_pages(tmp_path):
    answer = make_answer(outcome="avslatt")
    answer = replace(answer, classes=tuple(replace(c, rows=()) for c in answer.classes))
    path = tmp_path / "svar.pdf"
    render_public_pdf(public_view(answer), path)
    pages = page_texts(path)
    assert len(pages) == 1
    assert "Klasseliste 5B" not in pages[0] and "Vedlegg" not in pages[0]


def test_anonymous_requester():
    answer = replace(make_answer(), requester=Requester("", None, "anonymous", None))
    html = render_public_html(public_view(answer))
    assert "Anonym innsynsbegjærer" in html


# --------------------------------------------------------------------------- review copy


def test_review_has_withheld_values_and_banner_on_every_page(rendered):
    pages = page_texts(rendered["review"])
    assert len(pages) >= 4
    for text in pages:
        flat = " ".join(text.split())
        assert "Unntatt offentlighet – internt arbeidsdokument" in flat
        assert "forvaltningsloven § 13 første ledd nr. 1" in flat
    text = squash("".join(pages))
    for item_id, value in CANARIES.items():
        assert squash(value) in text, item_id
    for value in RELEASED:
        assert squash(value) in text, value


def test_review_marks_and_summaries(rendered):
    flat = " ".join(" ".join(page_texts(rendered["review"])).split())
    assert "Ingen spor i offentlig versjon" in flat
    assert "Til juridisk vurdering" in flat
    assert "innsyn-standard 2026.1 (sha256 3f2a9c)" in flat
    assert "Samtykkekonflikt for G3" in flat  # flags in bokmål, never as codes
    assert "Fare for indirekte identifisering i 5B – Sagene skole" in flat
    assert "consent_conflict" not in flat and "indirect_identification" not in flat
    assert "Sammendrag per regel" in flat
    assert "institution_address" in flat and "unlisted_phone" in flat
    assert "Strengt fortrolig adresse." in flat
    assert "offl. § 13" in flat  # short legal basis under withheld values


def test_review_html_highlights_withheld_cells():
    html = render_review_html(make_answer())
    assert html.count('class="unntatt"') == len(CANARIES)


# --------------------------------------------------------------------------- public_view


def test_public_view_redacts_in_the_data():
    answer = make_answer()
    public = public_view(answer)
    assert not any(cell.withheld for cell in public.cells())
    assert public.flags == () and public.rule_summaries == () and public.status_label == ""
    assert all(c.flags == () for c in public.classes)
    five_b = public.classes[0]
    assert [r.student_id for r in five_b.rows] == ["S1", "S2", "S4"]  # order kept, S3 gone
    g2 = five_b.rows[0].guardians[1]
    assert g2.phone is None and g2.address is None  # withheld and unshared look the same
    assert five_b.rows[1].guardians[0].address is None


def test_public_view_drops_empty_guardians_and_rows():
    row = PupilRow(
        "S9",
        c("s9", "Navn", withheld=True, rule="r"),
        (GuardianLine("G9", c("g9", "Foresatt", withheld=True, rule="r"), None, None, None),),
    )
    partial = PupilRow(
        "S8",
        None,
        (
            GuardianLine("G8a", None, c("g8a", "a@b.no"), None, None),
            GuardianLine("G8b", c("g8b", "Skjult", withheld=True, rule="r"), None, None, None),
        ),
    )
    answer = replace(
        make_answer(), classes=(replace(make_answer().classes[0], rows=(row, partial)),)
    )
    rows = public_view(answer).classes[0].rows
    assert [r.student_id for r in rows] == ["S8"]
    assert [g.guardian_id for g in rows[0].guardians] == ["G8a"]


def test_pdftotext_reads_the_public_answer(rendered):
    try:
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(rendered["public"]), "-"],
            check=True, capture_output=True, text=True,
        ).stdout
    except FileNotFoundError:
        pytest.skip("poppler-utils not installed")
    assert "Áile Ŋuvttáš Čoarvi" in text
    assert "Svar på innsynskrav" in text


def test_render_is_deterministic_across_processes(tmp_path):
    """Same Answer, fresh interpreters with different hash seeds: same bytes."""
    import os
    import sys

    script = (
        "import sys; sys.path.insert(0, sys.argv[2]);"
        "from test_render import make_answer;"
        "from innsyn.answer import public_view;"
        "from innsyn.render import render_public_pdf;"
        "render_public_pdf(public_view(make_answer()), sys.argv[1])"
    )
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"svar-{seed}.pdf"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        env.pop("SOURCE_DATE_EPOCH", None)
        subprocess.run(
            [sys.executable, "-c", script, str(out), str(Path(__file__).parent)],
            check=True, env=env, capture_output=True,
        )
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_file_modes(rendered):
    assert rendered["public"].stat().st_mode & 0o777 == 0o644
    assert rendered["review"].stat().st_mode & 0o777 == 0o600  # owner only


def _tree(element) -> list:
    """An element tree as a list: tag, attributes, text and tail of every element in order."""
    if not isinstance(element.tag, str):  # a comment: only its tail is the document's text
        return [("comment tail", element.tail or "")]
    return [(element.tag, sorted(element.attrib.items()), element.text or "", element.tail or ""),
            *(line for child in element for line in _tree(child))]


@pytest.mark.parametrize("document", ["public", "review"])
@pytest.mark.parametrize("part", [{}, {"front": False}, {"lists": False}], ids=["whole", "lists", "front"])
def test_our_markup_is_read_by_expat_as_the_html_parser_reads_it(document, part):
    # render.parsed_as_xml reads our documents with expat, forty times faster than WeasyPrint's
    # HTML parser: it must build the very tree the HTML parser builds, hostile names and all
    import tinyhtml5

    from innsyn import render

    answer = make_answer(pupil_name='<b>Ål</b> & "Ø" \'x\' {{ 7*7 }} <!-- ]]> --> &amp;')
    html = (render_public_html(public_view(answer), **part) if document == "public"
            else render_review_html(answer, **part))
    ours = render.parsed_as_xml(html)
    assert ours is not None, "a template writes markup expat refuses (an unclosed void element?)"
    assert _tree(ours) == _tree(tinyhtml5.parse(html, namespace_html_elements=False))


def test_markup_expat_refuses_goes_to_the_html_parser(tmp_path, monkeypatch):
    from innsyn import render

    assert render.parsed_as_xml("<html><head></head><body><p>a<br>b</p></body></html>") is None  # unclosed
    assert render.parsed_as_xml("<html><head></head><body><table><tr><td>x</td></tr></table></body></html>") is None
    tabbed = make_answer()  # a school's name is an attribute (its bookmark): XML would make the tab a space
    tabbed = replace(tabbed, classes=(replace(tabbed.classes[0], school_name="Sagene\tskole"), *tabbed.classes[1:]))
    assert 'data-skole="Sagene\tskole"' in render_public_html(public_view(tabbed))
    assert render.parsed_as_xml(render_public_html(public_view(tabbed))) is None
    answer = make_answer(pupil_name="Ola\x0bNordmann")  # a character XML forbids
    assert render.parsed_as_xml(render_public_html(public_view(answer))) is None
    render_public_pdf(public_view(answer), tmp_path / "svar.pdf")
    text = subprocess.run(["pdftotext", str(tmp_path / "svar.pdf"), "-"], capture_output=True, text=True).stdout
    assert "Nordmann" in text.split("Klasseliste", 1)[1]  # the pupil's name, in the list


@pytest.mark.parametrize("document", ["public", "review"])
def test_both_parsers_give_the_same_pdf(tmp_path, monkeypatch, document):
    from innsyn import render

    answer = make_answer()
    draw = (lambda path: render_public_pdf(public_view(answer), path)) if document == "public" \
        else (lambda path: render_review_pdf(answer, path))
    draw(tmp_path / "expat.pdf")
    monkeypatch.setattr(render, "parsed_as_xml", lambda html: None)
    draw(tmp_path / "html5.pdf")
    assert (tmp_path / "expat.pdf").read_bytes() == (tmp_path / "html5.pdf").read_bytes()


def test_no_cell_carries_pseudo_element_styles_it_never_uses():
    # WeasyPrint's own stylesheet gives every element ::marker and the footnote pseudo-elements;
    # ours gives ::marker to list items only (a quarter of a class list's cascade)
    from weasyprint.css import get_all_computed_styles

    from innsyn import render

    html_class, fonts, _ = render._weasy()
    document = html_class(string="<ul><li>punkt</li></ul><table><tr><td>celle</td></tr></table>")
    styles = get_all_computed_styles(document, font_config=fonts)
    pseudo = {(element.tag, kind) for element, kind in styles._computed_styles if kind}
    assert ("li", "marker") in pseudo
    assert not any(tag in ("td", "tr", "table", "p") for tag, _ in pseudo)


def test_every_row_of_a_shaded_pupil_is_shaded():
    # every other pupil is shaded, guardians and all, so a second guardian's row is never
    # read as the next pupil's (a shade on the row group covered only its first row)
    from weasyprint.formatting_structure.boxes import TableRowGroupBox

    from innsyn import render

    answer = make_answer()
    first = answer.classes[0]
    two_guardians = next(row for row in first.rows if len(row.guardians) == 2)
    others = tuple(row for row in first.rows if row is not two_guardians)
    # the pupil with two guardians second: the even pupils are the shaded ones
    answer = replace(answer, classes=(replace(first, rows=(others[0], two_guardians, *others[1:])),))
    html_class, fonts, stylesheets = render._weasy()
    document = html_class(string=render.render_public_html(public_view(answer)),
                          base_url=str(render.TEMPLATES_DIR)).render(stylesheets=[stylesheets["svar"]],
                                                                     font_config=fonts)
    pupils = [box for page in document.pages for box in page._page_box.descendants()
              if isinstance(box, TableRowGroupBox) and "elev" in (box.element.get("class") or "")]
    shaded = [[row.style["background_color"].alpha > 0 for row in pupil.children] for pupil in pupils]
    assert shaded[:2] == [[False], [True, True]]
    assert all(len(set(rows)) == 1 for rows in shaded)
