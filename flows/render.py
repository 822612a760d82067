"""Render an `Answer` to PDF/A: the public answer and the internal review copy.

Templates are Jinja2 (autoescape, StrictUndefined) under `templates/`; the stylesheets are
parsed once per process into `weasyprint.CSS` objects and shared, with a single
`FontConfiguration`, so rendering thousands of classes does not re-parse CSS.

Nothing is ever fetched from the network: the only URLs WeasyPrint may resolve are files
inside the templates folder.

Determinism: the same `Answer` gives the same bytes. The PDF dates come from
`decided_date` (`dcterms.created`/`dcterms.modified` in the HTML head), the file identifier
is a hash of the content (WeasyPrint's `pdf_identifier=True` under PDF/A), and the one
clock reading WeasyPrint's fontTools fallback would embed is pinned (clock.SOURCE_DATE_EPOCH).
"""

from __future__ import annotations

import gc
import os
import re
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from innsyn.answer import (
    Answer,
    PupilRow,
    assert_public,
    public_row,
    public_view,
    row_leaves_no_trace,
)
from innsyn import fonts
from innsyn.clock import SOURCE_DATE_EPOCH
from innsyn.files import atomic_write_bytes
from innsyn.leak_gate import Excused
from innsyn.resources import TEMPLATES_DIR
from innsyn.weasyprint_loader import load_weasyprint
from innsyn.wording import consent_state_text, flag_text

#: PDF/A-2u: PDF/A-2 level B plus Unicode text for every glyph, so the archived document's
#: text can always be extracted (and checked by the leak gate). WeasyPrint writes a
#: ToUnicode map for every embedded (subset) font, which is what level U requires.
PDF_VARIANT = "pdf/a-2u"

MONTHS = (
    "januar", "februar", "mars", "april", "mai", "juni",
    "juli", "august", "september", "oktober", "november", "desember",
)



def norsk_dato(value: date) -> str:
    """`28. november 2026`."""
    return f"{value.day}. {MONTHS[value.month - 1]} {value.year}"


def kort_hjemmel(text: str) -> str:
    """A short form of a legal basis for the review table: `offl. § 13 første ledd, jf. fvl. …`."""
    for long, short in (("offentleglova", "offl."), ("forvaltningsloven", "fvl.")):
        text = text.replace(long, short)
    return text


def uten_punktum(text: str) -> str:
    return text.strip().rstrip(".")


#: An e-mail this long may not fit its column (8.5 pt condensed, 27 % of A4's width).
_EPOST_MAY_WRAP = 24


def epost(value: str) -> Markup | str:
    """An e-mail address that, if it must wrap, wraps after its "@".

    Without a hint the line breaker breaks after a hyphen ("anne-" / "marie.moen@…", read
    as a hyphenated word) or, under overflow-wrap, anywhere. The hint is an extra inline box,
    so only the addresses that may need it get it.
    """
    local, at, domain = value.partition("@")
    if not at or ("-" not in local and len(value) <= _EPOST_MAY_WRAP):
        return value  # escaped by autoescape, like any value
    return Markup("{}@<wbr/>{}").format(local, domain)


_BETWEEN_TAGS = re.compile(r">\s+<")


def kompakt(html: str) -> Markup:
    """Markup without the whitespace between tags (for tables, where it is never shown)."""
    return Markup(_BETWEEN_TAGS.sub("><", str(html)))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(["html", "htm", "xml"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
        auto_reload=False,
    )
    env.filters["dato"] = norsk_dato
    env.filters["kort_hjemmel"] = kort_hjemmel
    env.filters["samtykke"] = consent_state_text
    env.filters["flagg"] = flag_text
    env.filters["uten_punktum"] = uten_punktum
    env.filters["kompakt"] = kompakt
    env.filters["epost"] = epost
    return env


@cache
def environment() -> jinja2.Environment:
    """The process's one Jinja2 environment (templates are compiled once and cached)."""
    return _environment()




@cache
def code_fingerprint() -> str:
    """A hash of the templates, the stylesheets and the code that renders them: a part of a
    document kept between two runs of a case (the review copy's lists, innsyn.render_answer)
    is used again only by the code that rendered it."""
    import hashlib

    digest = hashlib.sha256()
    package = Path(__file__).parent
    for path in sorted([*TEMPLATES_DIR.rglob("*"), *package.glob("*.py")]):
        if path.is_file():
            digest.update(str(path.relative_to(path.parent.parent)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@cache
def _weasy():
    """WeasyPrint objects shared by every render in the process: the HTML class, fonts and
    parsed CSS."""
    os.environ.setdefault("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
    weasyprint = load_weasyprint()
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    html_class = _html_without_unused_pseudo_elements(weasyprint)
    stylesheets = {
        name: weasyprint.CSS(
            filename=str(TEMPLATES_DIR / folder / f"{name}.css"),
            font_config=fonts,
            url_fetcher=_local_fetcher,
        )
        for folder, name in (("svar", "svar"), ("intern", "intern"), ("felles", "del"),
                             ("svar", "svar-forside"), ("intern", "intern-forside"))
    }
    return html_class, fonts, stylesheets


def _html_without_unused_pseudo_elements(weasyprint):
    """`weasyprint.HTML` with a user-agent stylesheet that gives pseudo-elements only to the
    elements that can have them.

    WeasyPrint's stylesheet says `::marker { ... }` and `::footnote-call { ... }` (and four
    more notes) for every element, so each `<td>` of a class list carries six pseudo-element
    styles it never uses, a quarter of the cascade. Here `::marker` is given to list items
    only and the footnote and note rules, which only `float: footnote` uses, are left out:
    our templates have neither, and a list item still gets its marker. Another WeasyPrint
    version that spells these rules otherwise gets its stylesheet with whatever matched
    changed, the rest as it is: slower at worst, never different.
    """
    from importlib.resources import files

    import cssselect2
    from weasyprint.css.counters import CounterStyle
    from weasyprint.html import UA_FORM_STYLESHEET

    text = (files(weasyprint) / "css" / "html5_ua.css").read_text("utf-8")
    text = re.sub(r"^::(footnote|note)-[a-z]+ \{[^}]*\}\n", "", text, flags=re.MULTILINE)
    text = re.sub(r"^::marker \{", "li::marker {", text, flags=re.MULTILINE)
    # the counter styles it defines are WeasyPrint's own (weasyprint.html.UA_COUNTER_STYLE)
    stylesheet = weasyprint.CSS(string=text, counter_style=CounterStyle())

    class HTML(weasyprint.HTML):
        def __init__(self, *, string: str, base_url: str | None = None, url_fetcher=None):
            tree = parsed_as_xml(string)
            if tree is None:  # not our well-formed markup: WeasyPrint's own HTML parser
                super().__init__(string=string, base_url=base_url, url_fetcher=url_fetcher)
                return
            # WeasyPrint sets itself up from an empty document; the tree is then swapped in
            super().__init__(string="<html></html>", base_url=base_url, url_fetcher=url_fetcher)
            self.wrapper_element = cssselect2.ElementWrapper.from_html_root(tree, content_language=None)
            self.etree_element = self.wrapper_element.etree_element

        def _ua_stylesheets(self, forms=False):
            return [stylesheet, UA_FORM_STYLESHEET] if forms else [stylesheet]

    return HTML


def parsed_as_xml(html: str):
    """The element tree WeasyPrint's HTML parser would build from `html`, built by expat; None
    where it might not be the same.

    WeasyPrint parses HTML with tinyhtml5, in pure Python: 5-7 % of a class list's render
    (benchmarks/README.md). Our templates write well-formed markup (void elements closed,
    every table row in an explicit row group, no named entities but XML's), which expat reads
    forty times faster. The HTML parser drops the whitespace before <head> and moves that
    after </body> into the body; so does this. Any markup expat refuses (a template edited
    carelessly, a character XML forbids) or would read otherwise (a tab or line end in an
    attribute value, which XML makes a space) goes to the HTML parser, and tests/test_render.py
    checks that both parsers build the same tree for every document the product renders.
    """
    import xml.etree.ElementTree as ElementTree

    if _WHITESPACE_IN_ATTRIBUTE.search(html):
        return None  # XML reads a tab or line end in an attribute value as a space; HTML keeps it
    try:
        root = ElementTree.fromstring(html)
    except ElementTree.ParseError:
        return None
    body = root.find("body")
    if root.tag != "html" or body is None or root.find("head") is None or _has_bare_rows(root):
        return None
    if root.text is not None and not root.text.strip():
        root.text = None
    if body.tail is not None and not body.tail.strip():
        if len(body):
            body[-1].tail = (body[-1].tail or "") + body.tail
        else:
            body.text = (body.text or "") + body.tail
        body.tail = None
    return root


#: An attribute value (always double-quoted in our templates; autoescape writes a value's own
#: quotes as &#34;) with a tab or a line end in it.
_WHITESPACE_IN_ATTRIBUTE = re.compile(r'="[^"<>]*[\t\n\r]')


def _has_bare_rows(root) -> bool:
    """A <tr> straight under a <table>: the HTML parser would put it into a <tbody> of its own."""
    return any(child.tag == "tr" for table in root.iter("table") for child in table)


def _local_fetcher(url: str, timeout: int = 10, ssl_context=None):
    """Resolve only files inside the templates folder; never touch the network."""
    from urllib.parse import unquote, urlparse

    import weasyprint

    parsed = urlparse(url)
    if parsed.scheme == "file":
        target = Path(unquote(parsed.path)).resolve()
        if target.is_relative_to(TEMPLATES_DIR.resolve()):
            return weasyprint.default_url_fetcher(url, timeout=timeout, ssl_context=ssl_context)
    raise ValueError(f"innsyn renders offline: refusing to fetch {url!r}")


def recipient_block(answer: Answer) -> Excused:
    """The letter's recipient block as templates/felles/brev.html prints it, with the fixed
    text around it: the references' last rows before, the title after. The leak gate excuses
    the requester's own words there, and only there (`leak_gate.Excused`)."""
    requester = answer.requester
    pieces: list[tuple[str, bool]] = []
    if requester.reference:
        pieces += [("Deres referanse:", False), (requester.reference, True)]
    pieces += [("Dato:", False), (norsk_dato(answer.decided_date), False)]
    pieces += [(text, kind != "anonymous") for kind, text in requester.address_lines()]
    pieces.append(("Svar på innsynskrav", False))
    return Excused(tuple(pieces))


def _vedlegg(answer: Answer):
    """The class lists attached to the public answer: none when the request is refused."""
    if answer.letter_outcome == "avslatt":
        return ()
    return answer.classes


# --------------------------------------------------------------------------- HTML


def render_public_html(answer: Answer, *, css_href: str | None = None, front: bool = True,
                       lists: bool = True) -> str:
    """The public answer as HTML. `answer` must be `public_view(...)`'s result.

    `front` (the letter) and `lists` (the class lists) select the part to render; a bulk
    case renders them separately and merges the PDFs.
    """
    assert_public(answer)
    template = environment().get_template("svar/svar.html")
    return template.render(answer=answer, vedlegg=_vedlegg(answer), css_href=css_href, front=front, lists=lists)


def _dropped(row: PupilRow) -> str | None:
    if row_leaves_no_trace(row):
        return "Ingen spor i offentlig versjon"
    if public_row(row) is None:
        return "Fjernet fra offentlig versjon: ingen opplysninger igjen"
    return None


#: The review copy's flag for values with characters no installed font can draw (item ids only).
UNDRAWABLE_FLAG = ("Tegn som ingen installert skrift kan vise (de blir tomme bokser i svaret og i denne "
                   "kopien; kontroller verdiene i registeret)")
_REQUESTER_FIELDS = (("name", "navn"), ("organisation", "organisasjon"), ("email", "e-post"),
                     ("reference", "referanse"))


def with_font_flags(answer: Answer) -> Answer:
    """`answer` with a flag on each class list whose values hold characters no installed font
    can draw (naming the item ids, never the characters), and one on the case when the
    requester's own words do. One set lookup per character (`innsyn.fonts`)."""
    classes, changed = [], False
    for class_list in answer.classes:
        ids = [cell.item_id for row in class_list.rows for cell in row.cells() if fonts.undrawable(cell.value)]
        if ids:
            class_list = replace(class_list, flags=(*class_list.flags, f"{UNDRAWABLE_FLAG}: {', '.join(ids)}"))
            changed = True
        classes.append(class_list)
    fields = [label for field, label in _REQUESTER_FIELDS if fonts.undrawable(getattr(answer.requester, field))]
    flags = answer.flags
    if fields:
        flags = (*flags, f"{UNDRAWABLE_FLAG}: innsynskreverens {', '.join(fields)}")
    if not changed and not fields:
        return answer
    return replace(answer, classes=tuple(classes), flags=flags)


def render_review_html(answer: Answer, *, css_href: str | None = None, front: bool = True,
                       lists: bool = True, with_remarks: frozenset[str] | None = None) -> str:
    """The internal review copy as HTML: every value, withheld ones highlighted.

    `with_remarks` (a bulk case): the ids of the classes where a rule withheld something or
    asks for review. Only those lists are shown in full; the front names the others, which
    are released whole. A reviewer of every class in Oslo reads hundreds of lists, not
    thousands of pages of lists nothing was taken from.
    """
    dropped = {
        row.student_id: status
        for class_list in answer.classes
        for row in class_list.rows
        if (status := _dropped(row))
    }
    public = public_view(answer)
    answer = with_font_flags(answer)
    shown = answer.classes if with_remarks is None else tuple(
        c for c in answer.classes if c.class_id in with_remarks)
    template = environment().get_template("intern/intern.html")
    return template.render(
        answer=answer,
        klasser=shown,
        uten_merknader=None if with_remarks is None else _by_school(
            c for c in answer.classes if c.class_id not in with_remarks),
        dropped=dropped,
        vedlegg=_vedlegg(public),
        public=public,
        css_href=css_href,
        front=front,
        lists=lists,
    )


def _by_school(classes) -> list[tuple[str, list[str]]]:
    """Class names grouped by school, in the answer's order."""
    grouped: dict[str, list[str]] = {}
    for class_list in classes:
        grouped.setdefault(class_list.school_name, []).append(class_list.class_name)
    return list(grouped.items())


# --------------------------------------------------------------------------- PDF


@contextmanager
def _cyclic_gc_paused():
    """No cyclic garbage collection while WeasyPrint builds and writes one document.

    A class list is tens of thousands of short-lived boxes; each few hundred allocations
    would start a collection that walks every object in the process (Prefect, DuckDB and
    WeasyPrint's own are a quarter million). Paused for one document and resumed after it,
    the garbage of that document is collected at once: memory stays bounded by one
    document, and the render is 5-10 % faster (benchmarks/README.md).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _write_pdf(html: str, stylesheet: str, path: Path, *, front: bool, lists: bool, private: bool) -> None:
    """A whole document, or a part of one to be merged: its lists (felles/del.css) or its
    front, which counts its own pages (`{stylesheet}-forside.css`)."""
    html_class, fonts, stylesheets = _weasy()
    sheets = [stylesheets[stylesheet]]
    if lists and not front:
        sheets.append(stylesheets["del"])
    elif front and not lists:
        sheets.append(stylesheets[f"{stylesheet}-forside"])
    with _cyclic_gc_paused():
        document = html_class(
            string=html, base_url=str(TEMPLATES_DIR), url_fetcher=_local_fetcher
        ).render(stylesheets=sheets, font_config=fonts)
        pdf = document.write_pdf(pdf_variant=PDF_VARIANT)
        del document
    atomic_write_bytes(Path(path), pdf, private=private)


def render_public_pdf(answer: Answer, path: Path, *, front: bool = True, lists: bool = True) -> None:
    """Write the public answer (PDF/A). Raises ValueError if any cell is withheld."""
    html = render_public_html(answer, front=front, lists=lists)
    _write_pdf(html, "svar", path, front=front, lists=lists, private=False)


def render_review_pdf(answer: Answer, path: Path, *, front: bool = True, lists: bool = True,
                      with_remarks: frozenset[str] | None = None) -> None:
    """Write the internal review copy (PDF/A, marked 'Unntatt offentlighet' on every page)."""
    html = render_review_html(answer, front=front, lists=lists, with_remarks=with_remarks)
    _write_pdf(html, "intern", path, front=front, lists=lists, private=True)
