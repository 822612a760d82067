"""PDF/A, checked rather than assumed, on every PDF that goes into an archive package.

veraPDF (the reference validator) is not installable here, so the product checks itself,
with pikepdf, what an archive's reception checks first and what a renderer most often gets
wrong. Arkivverket accepts PDF/A-1a, 1b, 2a, 2b and 2u:

- the PDF/A identification in the XMP metadata (pdfaid:part 1 or 2, and a conformance level
  that part has);
- an output intent (GTS_PDFA1) with its ICC profile, so colours mean the same in 50 years;
- every font embedded (a Type 3 font is its own glyphs), in every page and form XObject;
- no encryption, no JavaScript, no action that leaves the file (a URI link, a launch, a
  link to another file, a form submission).

It is not full validation (veraPDF checks hundreds of rules: colour spaces, transparency in
part 1, tagging for level a, …); a failure here is certain, a pass is the checks above.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pikepdf

ACCEPTED = {"1": {"A", "B"}, "2": {"A", "B", "U"}}
EXTERNAL_ACTIONS = {"/URI", "/Launch", "/GoToR", "/GoToE", "/SubmitForm", "/ImportData", "/Movie", "/Sound"}


@dataclass(frozen=True)
class PdfaReport:
    path: str
    part: str | None
    conformance: str | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def level(self) -> str | None:
        return f"PDF/A-{self.part}{(self.conformance or '').lower()}" if self.part else None


def check_pdfa(path: Path) -> PdfaReport:
    """Every problem found, in one line each (names of checks and objects, never content)."""
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PasswordError:
        return PdfaReport(str(path), None, None, ("encrypted (a password is needed to open it)",))
    except pikepdf.PdfError:
        return PdfaReport(str(path), None, None, ("not a readable PDF",))
    with pdf:
        problems: list[str] = []
        if pdf.is_encrypted:
            problems.append("encrypted")
        part, conformance = _identification(pdf, problems)
        _output_intent(pdf, problems)
        _fonts(pdf, problems)
        _actions(pdf, problems)
    return PdfaReport(str(path), part, conformance, tuple(problems))


def _identification(pdf: pikepdf.Pdf, problems: list[str]) -> tuple[str | None, str | None]:
    try:
        meta = pdf.open_metadata()
        part, conformance = meta.get("pdfaid:part"), meta.get("pdfaid:conformance")
    except Exception:  # noqa: BLE001 - XMP that does not parse is no identification
        part = conformance = None
    if not part:
        problems.append("no PDF/A identification (pdfaid:part) in the XMP metadata")
        return None, None
    part, conformance = str(part).strip(), str(conformance or "").strip().upper()
    if conformance not in ACCEPTED.get(part, set()):
        problems.append(f"PDF/A-{part}{conformance.lower()} is not a level the archive accepts "
                        "(PDF/A-1a, 1b, 2a, 2b, 2u)")
    return part, conformance


def _output_intent(pdf: pikepdf.Pdf, problems: list[str]) -> None:
    intents = pdf.Root.get("/OutputIntents")
    pdfa = [intent for intent in (intents or []) if intent.get("/S") == "/GTS_PDFA1"]
    if not pdfa:
        problems.append("no PDF/A output intent (OutputIntents with S GTS_PDFA1)")
    elif "/DestOutputProfile" not in pdfa[0]:
        problems.append("the PDF/A output intent has no ICC profile (DestOutputProfile)")


def _fonts(pdf: pikepdf.Pdf, problems: list[str]) -> None:
    missing: set[str] = set()
    seen: set[tuple[int, int]] = set()
    for page in pdf.pages:
        _fonts_in(page.obj.get("/Resources"), missing, seen)
    for name in sorted(missing):
        problems.append(f"font not embedded: {name}")


def _fonts_in(resources, missing: set[str], seen: set[tuple[int, int]], depth: int = 0) -> None:
    if resources is None or depth > 20:
        return
    fonts = resources.get("/Font") or {}
    for key in fonts.keys():
        _font(fonts[key], missing)
    xobjects = resources.get("/XObject") or {}
    for key in xobjects.keys():
        xobject = xobjects[key]
        identity = xobject.objgen
        if identity in seen or xobject.get("/Subtype") != "/Form":
            continue
        seen.add(identity)
        _fonts_in(xobject.get("/Resources"), missing, seen, depth + 1)


def _font(font, missing: set[str]) -> None:
    subtype = font.get("/Subtype")
    if subtype == "/Type3":
        return
    if subtype == "/Type0":
        for descendant in font.get("/DescendantFonts") or []:
            _font(descendant, missing)
        return
    descriptor = font.get("/FontDescriptor")
    if descriptor is None or not any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")):
        missing.add(str(font.get("/BaseFont", "unnamed")).lstrip("/"))


def _actions(pdf: pikepdf.Pdf, problems: list[str]) -> None:
    javascript = external = 0
    names = pdf.Root.get("/Names")
    if names is not None and "/JavaScript" in names:
        javascript += 1
    for obj in _dictionaries(pdf):
        if obj.get("/S") == "/JavaScript" or "/JS" in obj:
            javascript += 1
        if str(obj.get("/S", "")) in EXTERNAL_ACTIONS:
            external += 1
        if "/AA" in obj:  # additional actions (on open, on page view, on a field): what PDF/A forbids
            javascript += 1
    if javascript:
        problems.append(f"JavaScript or additional actions ({javascript} objects)")
    if external:
        problems.append(f"actions that leave the file (links to the web, other files, launches: {external} objects)")


def _dictionaries(pdf: pikepdf.Pdf):
    """Every dictionary in the file: each indirect object and the direct ones nested in it
    (an action is usually a direct dictionary inside an annotation or the catalog)."""
    for obj in pdf.objects:
        yield from _nested(obj, top=True)


def _nested(obj, *, top: bool = False, depth: int = 0):
    if depth > 50 or (not top and getattr(obj, "is_indirect", False)):
        return  # an indirect object is visited on its own
    if isinstance(obj, pikepdf.Stream):
        obj = obj.stream_dict
    if isinstance(obj, pikepdf.Dictionary):
        yield obj
        for key in obj.keys():
            yield from _nested(obj[key], depth=depth + 1)
    elif isinstance(obj, pikepdf.Array):
        for item in obj:
            yield from _nested(item, depth=depth + 1)
