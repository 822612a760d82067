"""The leak gate: read a finished PDF back and look for withheld values in it.

The last check before a public answer may leave the building. It reads everything a
recipient could read out of the file:

- the text of every page, extracted twice by poppler's `pdftotext` (raw content order,
  and reading order), so a value is found whichever way a table cell wrapped, from a copy
  whose pages cover the whole plane, so text drawn off the page is read too;
- the document information dictionary and the XMP metadata;
- outline (bookmark) titles;
- annotations (contents, titles, link URIs) and embedded file names and descriptions.

Both sides are normalised (NFC, casefold, compatibility forms folded, all whitespace,
invisible and format characters such as bidi controls removed) before comparing, so "Hemmelig-\\nveien 7" in a wrapped cell
still matches "Hemmeligveien 7"'s squashed form. The gate fails closed: a withheld value
that happens to be a substring of released text is reported too (a reviewer decides).
Messages name item ids only, never the values.

A withheld value that is also released elsewhere in the same answer (the same address, e-mail
or phone under a co-resident) is a conflict, not an excuse: screening withholds such values
together (sql/case_decisions_consistent.sql), so the gate fails the case if one is printed.
Only a name may be another person's (a namesake): a withheld name that is also released as a
name is excused, as before.

A withheld value is also looked for in the shorter forms that would still give it away
(`value_parts`): an address as its street and number ("Kanariveien 7" of "Kanariveien 7,
0170 OSLO"), a name as first + last name without middle names, and last name first with a
comma ("Kanari, Kari"). Parts are shorter, so they meet released text more often: a part
found only inside released values (a neighbour at "Kanariveien 71") is not a leak.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, IndirectObject, NameObject

MIN_LENGTH = 3

# Whitespace, plus characters that do not show but may sit inside extracted words.
_INVISIBLE = re.compile(r"[\s\u00ad\u200b\u200c\u200d\u2060\ufeff]+")


class LeakFound(Exception):
    """Withheld values were found in a PDF. `item_ids` lists them; the message has ids only."""

    def __init__(self, pdf_path: Path, item_ids: list[str]):
        self.pdf_path = Path(pdf_path)
        self.item_ids = list(item_ids)
        super().__init__(
            f"{len(self.item_ids)} withheld item(s) found in {self.pdf_path.name}: "
            + ", ".join(self.item_ids)
        )

    def __reduce__(self):
        # a bulk case gates its parts in worker processes: the error must cross back whole
        return (LeakFound, (self.pdf_path, self.item_ids))


def normalise(text: str) -> str:
    """NFC, casefolded, compatibility forms folded (ligatures), no whitespace at all, and no
    format characters (bidi controls, joiners: Unicode category Cf), which change how a value
    is stored but not how it reads."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf") if not text.isascii() else text
    return _INVISIBLE.sub("", text)


# --------------------------------------------------------------------------- reading


def _require_pdftotext() -> None:
    if shutil.which("pdftotext") is None:
        raise RuntimeError(
            "the leak gate needs poppler's pdftotext: install poppler-utils "
            "(e.g. `apt-get install -y poppler-utils`)"
        )


def _pdftotext_all(pdf_path: Path, orders: list[tuple[str, ...]], *, name: str | None = None) -> list[str]:
    """Run pdftotext once per order, concurrently; the texts in the same order."""
    _require_pdftotext()
    runs = [
        subprocess.Popen(["pdftotext", "-q", "-enc", "UTF-8", *args, str(pdf_path), "-"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for args in orders
    ]
    texts = []
    for run in runs:
        stdout, _ = run.communicate()
        texts.append((run.returncode, stdout))
    for code, _ in texts:
        if code != 0:
            raise RuntimeError(f"pdftotext could not read {name or Path(pdf_path).name} (exit {code})")
    return [stdout.decode("utf-8", errors="replace") for _, stdout in texts]


#: Every page of the copy poppler reads is this big (points from the origin, each way), so
#: text drawn off the page (a negative margin, an absolutely placed box) is read as well:
#: `pdftotext` reads only what lies inside a page's crop box.
_EVERYWHERE = 1_000_000


def _poppler_texts(pdf_path: Path) -> list[str]:
    """The pages' text in raw content order and in reading order, read by poppler.

    Poppler reads a copy made as an incremental update (every font and content stream byte
    for byte the original's) with two changes: each page's boxes cover the whole plane, so
    no text escapes by being drawn outside the page; and the catalog drops the PDF/A output
    intent (an ICC colour profile), for which poppler would build colour transforms on
    every page: 90 % of its time on our answers, for no text at all. The original's own
    catalog, metadata and outline are read by pypdf in `pdf_texts`.
    """
    everywhere = ArrayObject([FloatObject(-_EVERYWHERE), FloatObject(-_EVERYWHERE),
                              FloatObject(_EVERYWHERE), FloatObject(_EVERYWHERE)])
    with tempfile.TemporaryDirectory(prefix="innsyn-gate-") as folder:
        copy = Path(folder) / "text-only.pdf"
        writer = PdfWriter(pdf_path, incremental=True)
        writer.root_object.pop(NameObject("/OutputIntents"), None)
        for page in writer.pages:
            for box in ("/MediaBox", "/CropBox"):
                page[NameObject(box)] = everywhere
            for box in ("/BleedBox", "/TrimBox", "/ArtBox"):
                page.pop(NameObject(box), None)
        with open(copy, "wb") as handle:
            writer.write(handle)
        return _pdftotext_all(copy, [("-raw",), ()], name=Path(pdf_path).name)


def _resolve(obj):
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _strings(obj, depth: int = 0) -> Iterator[str]:
    """Every string inside a PDF object (dicts and arrays walked, bounded depth)."""
    obj = _resolve(obj)
    if depth > 6 or obj is None:
        return
    if isinstance(obj, DictionaryObject):
        for key, value in obj.items():
            if key in ("/Parent", "/P", "/Page", "/Dest", "/D"):
                continue
            yield from _strings(value, depth + 1)
    elif isinstance(obj, ArrayObject):
        for value in obj:
            yield from _strings(value, depth + 1)
    elif isinstance(obj, (str, bytes)):
        yield obj if isinstance(obj, str) else obj.decode("latin-1", errors="replace")


def _outline_titles(outline) -> Iterator[str]:
    for item in outline:
        if isinstance(item, list):
            yield from _outline_titles(item)
        else:
            title = getattr(item, "title", None)
            if title:
                yield str(title)


def pdf_texts(pdf_path: Path, *, page_text: bool = True) -> Iterator[str]:
    """Every piece of text a reader could get out of the PDF.

    `page_text=False` skips the pages' text (not their annotations): for a merged bulk
    answer whose parts were each checked whole before merging.
    """
    reader = PdfReader(pdf_path)
    if page_text:
        yield from _poppler_texts(Path(pdf_path))
    for page in reader.pages:
        annotations = _resolve(page.get("/Annots"))
        if annotations:
            for annotation in annotations:
                yield from _strings(annotation)

    if reader.metadata:
        for key, value in reader.metadata.items():
            yield str(key)
            yield str(value)
    xmp = reader.trailer["/Root"].get("/Metadata")
    if xmp is not None:
        yield _resolve(xmp).get_data().decode("utf-8", errors="replace")
    try:
        yield from _outline_titles(reader.outline)
    except Exception:  # a broken outline must not hide the rest
        pass
    for name, contents in reader.attachments.items():
        yield name
    names = _resolve(reader.trailer["/Root"].get("/Names"))
    if names is not None and "/EmbeddedFiles" in names:
        yield from _strings(names["/EmbeddedFiles"])


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class Excused:
    """Text a document may show in one place only, whatever it equals: the letter's recipient
    block, which prints what the requester typed.

    `pieces` is a run of (text, excused) read back one right after the other: our own fixed
    text (`excused=False`, e.g. "Dato: 24. november 2026" before the block and the title after
    it) around the requester's words (`excused=True`). In each text read out of the PDF the
    first place where the whole run is found (normalised) loses its excused pieces before any
    withheld value is looked for; every other place keeps them. So a requester who names
    themselves as a withheld pupil gets their answer, and learns nothing from it, while the
    same name printed anywhere else (a released cell, the title) still fails the case. Where
    the run is not found whole, nothing is excused: the gate fails closed.
    """

    pieces: tuple[tuple[str, bool], ...]

    def apply(self, text: str) -> str:
        """`text` (normalised) with the excused pieces of the run's first occurrence taken out."""
        run = "".join(normalise(piece) for piece, _ in self.pieces)
        if not run or not any(excused for _, excused in self.pieces):
            return text
        at = text.find(run)
        if at == -1:
            return text
        kept = "\x00".join(normalise(piece) for piece, excused in self.pieces if not excused)
        return text[:at] + "\x00" + kept + "\x00" + text[at + len(run):]



# An address as the export writes it: "street number[, postal code city]".
_STREET_AND_NUMBER = re.compile(r"^\s*([^,]*?\d[^,]*?)\s*,")
# One word of a person's name: letters, with inner hyphens or apostrophes (Anne-Lise, O'Neil).
_NAME_WORD = re.compile(r"^[^\W\d_]+(?:[-'’][^\W\d_]+)*$")


def value_parts(value: str) -> set[str]:
    """The shorter forms in which a withheld value would still give itself away.

    - an address: its street and number, "Kanariveien 7" of "Kanariveien 7, 0170 OSLO";
    - a name of two or more words: first + last name ("Kari Kanari" of "Kari Anne Kanari"),
      and last name first with a comma ("Kanari, Kari", "Kanari, Kari Anne").
    A name with the last name first and no comma is not a part: in a table it is what two
    neighbouring cells look like ("... Hansen" "Per ..."). A single name (first or last
    alone) is not a part either: it is shared by too many people to be evidence.
    """
    parts: set[str] = set()
    if street := _STREET_AND_NUMBER.match(value):
        parts.add(street.group(1))
    words = value.split()
    if len(words) >= 2 and all(_NAME_WORD.match(word) for word in words):
        first, last, given = words[0], words[-1], " ".join(words[:-1])
        parts |= {f"{first} {last}", f"{last}, {first}", f"{last}, {given}"}
    parts.discard(value.strip())
    return parts


def find_leaks(
    pdf_path: Path, withheld: Mapping[str, str], released: Iterable[str] = (), *, page_text: bool = True,
    namesakes: Iterable[str] = (), excused_runs: Iterable[Excused] = (),
) -> list[str]:
    """The sorted item ids of withheld values that can be read out of the PDF.

    `withheld` maps item id -> value. A value shorter than three characters once normalised
    is skipped: too short to be evidence. A value also in `released` is a conflict: found in
    the PDF, it is a leak, whoever it was printed for; unless it is one of `namesakes` (the
    released names: another person may have the same name). Each value's parts
    (`value_parts`) are looked for too; a part counts only where no released value explains it.
    `excused_runs`: text (the letter's recipient block) whose requester-typed pieces are taken
    out of one place before looking (`Excused`).
    """
    released = list(released)
    released_norm = {normalise(v) for v in released}
    excused = {normalise(v) for v in namesakes} & released_norm
    wanted: dict[str, set[str]] = {}
    wanted_parts: dict[str, set[str]] = {}
    for item_id, value in withheld.items():
        norm = normalise(value or "")
        if len(norm) < MIN_LENGTH or norm in excused:
            continue
        wanted.setdefault(norm, set()).add(item_id)
        for part in value_parts(value):
            part_norm = normalise(part)
            if len(part_norm) >= MIN_LENGTH and part_norm not in released_norm:
                wanted_parts.setdefault(part_norm, set()).add(item_id)
    if not wanted:
        return []
    texts = [normalise(text) for text in pdf_texts(Path(pdf_path), page_text=page_text)]
    for run in excused_runs:
        texts = [run.apply(text) for text in texts]
    haystack = "\x00".join(texts)
    explained = _ReleasedText(released)
    # a value found only inside released values ("petter.berg@…" in "hans-petter.berg@…") is
    # another person's value, not a leak: every occurrence must be accounted for
    found = {item_id for norm, ids in wanted.items()
             if norm in haystack and not explained.accounts_for(norm, haystack) for item_id in ids}
    hits = [part for part in wanted_parts if part in haystack]
    found |= {item_id for part in hits if not explained.accounts_for(part, haystack)
              for item_id in wanted_parts[part]}
    return sorted(found)


class _ReleasedText:
    """Released values (and their parts), to tell a part that leaked from one that is only
    a piece of a released value: "kanariveien7" inside a neighbour's "kanariveien71,0170oslo"."""

    def __init__(self, released: list[str]):
        self._released = released
        self._forms: set[str] | None = None

    def forms(self) -> set[str]:
        # built only when a part was found: most answers never need it
        if self._forms is None:
            self._forms = {normalise(form) for value in self._released
                           for form in (value, *value_parts(value))}
        return self._forms

    def accounts_for(self, part: str, haystack: str) -> bool:
        """True when every occurrence of `part` is made of released text.

        An occurrence is explained when released values cover it: one that contains it (a
        neighbour's "kanariveien71,0170oslo" holds "kanariveien7"), or neighbouring cells
        whose text runs into each other once whitespace is gone ("Omar Mustafa" beside
        "omar.mustafa@…" reads "mustafaomar", a withheld Mustafa Omar). Each covering value
        must reach beyond the occurrence, so released words found inside a leaked cell (a
        released "Kari" within "Kari Kanari") never explain it.
        """
        # a released value that *is* the withheld one explains nothing: that is the conflict
        containing = sorted((form for form in self.forms() if part in form and form != part), key=len, reverse=True)
        remaining = haystack
        for form in containing:
            remaining = remaining.replace(form, "\x00")
        if part not in remaining:
            return True
        start = haystack.find(part)
        while start != -1:
            if not self._covered(start, start + len(part), haystack):
                return False
            start = haystack.find(part, start + 1)
        return True

    def _covered(self, start: int, end: int, haystack: str) -> bool:
        """Released text covers haystack[start:end], each piece reaching beyond it."""
        pieces = []
        for form in self.forms():
            if not form:
                continue
            at = haystack.find(form, max(0, start - len(form) + 1), end + len(form) - 1)
            while at != -1 and at < end:
                if at < start or at + len(form) > end:  # reaches beyond the occurrence
                    pieces.append((max(at, start), min(at + len(form), end)))
                at = haystack.find(form, at + 1, end + len(form) - 1)
        reached = start
        for piece_start, piece_end in sorted(pieces):
            if piece_start > reached:
                return False
            reached = max(reached, piece_end)
        return reached >= end


def check_pdf(
    pdf_path: Path, withheld: Mapping[str, str], released: Iterable[str] = (), *, page_text: bool = True,
    namesakes: Iterable[str] = (), excused_runs: Iterable[Excused] = (),
) -> None:
    """Raise LeakFound (naming item ids only) if any withheld value is in the PDF."""
    leaks = find_leaks(pdf_path, withheld, released, page_text=page_text, namesakes=namesakes,
                       excused_runs=excused_runs)
    if leaks:
        raise LeakFound(Path(pdf_path), leaks)
