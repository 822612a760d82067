"""Which characters the installed fonts can draw, and which values have some they cannot.

WeasyPrint draws text with Pango, which falls back through every font fontconfig knows: a
character no installed font has becomes a box (".notdef") in the PDF, silently. A name in a
script the machine lacks would then reach the requester as boxes and the reviewer would see
boxes too, with nothing telling them so. `undrawable` says so before the render: the review
copy flags the item ids whose values hold such characters (never the characters).

The coverage is read once per process from fontconfig (`fc-list`, the same configuration
Pango uses: every installed font's character set, unioned) and kept as its merged ranges, so
checking a character is a binary search over a few thousand ranges, and plain ASCII costs
nothing at all. (A set of every covered code point, ~76,000 with `make system-deps`' fonts,
cost 0.06 CPU s to build in every process that renders.)
"""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from bisect import bisect_right
from functools import cache

#: Characters that are never drawn as glyphs of their own: controls, format characters (bidi
#: marks, joiners), separators, and variation selectors. A font need not have them.
_NOT_DRAWN = {"Cc", "Cf", "Zs", "Zl", "Zp"}
_VARIATION_SELECTORS = (range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0), range(0x180B, 0x1810))


class Coverage:
    """Code points as sorted, disjoint ranges: `code in coverage` is a binary search."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        self._lows = [low for low, _ in ranges]
        self._highs = [high for _, high in ranges]

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, int):
            return False
        at = bisect_right(self._lows, code) - 1
        return at >= 0 and code <= self._highs[at]

    def __len__(self) -> int:
        return sum(high - low + 1 for low, high in zip(self._lows, self._highs))


@cache
def drawable() -> Coverage:
    """Every code point some installed font can draw (computed once per process)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        raise RuntimeError("innsyn needs fontconfig's fc-list to know which characters the fonts can draw: "
                           "install fontconfig (e.g. `apt-get install -y fontconfig`, or `make system-deps`)")
    listing = subprocess.run([fc_list, "--format", "%{charset}\n"], capture_output=True, text=True,
                             check=True).stdout
    ranges = set()
    for token in listing.split():
        low, _, high = token.partition("-")
        ranges.add((int(low, 16), int(high or low, 16)))
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):  # fonts repeat the same ranges, and overlap and touch
        if merged and low <= merged[-1][1] + 1:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return Coverage(merged)


@cache
def _ascii_drawable() -> bool:
    return all(code in drawable() for code in range(0x20, 0x7F))


def _never_drawn(char: str) -> bool:
    code = ord(char)
    return unicodedata.category(char) in _NOT_DRAWN or any(code in r for r in _VARIATION_SELECTORS)


def undrawable(text: str | None) -> bool:
    """True when `text` holds a character that no installed font can draw."""
    if not text:
        return False
    if text.isascii() and _ascii_drawable():
        return False
    covered = drawable()
    return any(ord(char) not in covered and not _never_drawn(char) for char in text)
