"""Small SVG charts for the compliance report, drawn as plain markup (no plotting library).

Each function returns an SVG element as `markupsafe.Markup`, ready to be placed inline in a
Jinja2 template and rendered by WeasyPrint. Every piece of text that goes into a chart is
escaped here; charts carry labels that are ids, dates, rule names and numbers only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from markupsafe import Markup

FONT = 'font-family="DejaVu Sans" font-size="9"'
INK = "#222"
GRID = "#d0d0d0"
STATE_COLOURS = {"within_target": "#2e7d32", "past_target": "#e0a000", "past_limit": "#c62828"}
BAR = "#33658a"


@dataclass(frozen=True)
class CaseBar:
    case_id: str
    received_date: date
    working_days: int
    state: str          # within_target | past_target | past_limit
    is_open: bool


def _svg(width: int, height: int, body: list[str], title: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int | None = None,
          colour: str = INK, rotate: int | None = None, bold: bool = False) -> str:
    font = FONT if size is None else f'font-family="DejaVu Sans" font-size="{size}"'
    turn = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate else ""
    weight = ' font-weight="bold"' if bold else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" {font}{weight} fill="{colour}" text-anchor="{anchor}"{turn}>'
            f"{escape(text)}</text>")


def _nice_max(value: float, at_least: int) -> int:
    top = max(int(value), at_least)
    return top + 1


#: Up to this many cases the chart draws a labelled bar per case; beyond it, a dot per case
#: on a time axis (a bar a pixel wide says nothing).
MAX_BARS = 40


def working_days_per_case(cases: Sequence[CaseBar], *, target: int, limit: int,
                          width: int = 640, height: int = 230) -> Markup:
    """Working days used per case in order of receipt, coloured by the deadline kept, with
    dashed lines at the target and the five-day limit. Open cases are hatched bars (or hollow
    dots when there are more than MAX_BARS cases and each is a dot on a time axis)."""
    title = "Arbeidsdager per sak"
    if not cases:
        return _svg(width, 40, [_text(0, 20, "Ingen saker i perioden.")], title)
    left, right, top, bottom = 34, 10, 12, 62
    plot = (left, top, width - left - right, height - top - bottom)
    y_max = _nice_max(max(case.working_days for case in cases), limit + 1)

    def y(value: float) -> float:
        return top + plot[3] - plot[3] * value / y_max

    body = [
        '<defs><pattern id="open" width="5" height="5" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="5" height="5" fill="#ffffff"/>'
        '<line x1="0" y1="0" x2="0" y2="5" stroke="#666" stroke-width="2.5"/></pattern></defs>'
    ]
    step = max(1, y_max // 6)
    for tick in range(0, y_max + 1, step):
        body.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" y2="{y(tick):.1f}" '
                    f'stroke="{GRID}" stroke-width="0.5"/>')
        body.append(_text(left - 4, y(tick) + 3, str(tick), anchor="end"))
    as_bars = len(cases) <= MAX_BARS
    body += _bars(cases, plot, y) if as_bars else _dots(cases, plot, y)
    for value, label, colour in ((target, f"mål {target}", STATE_COLOURS["past_target"]),
                                 (limit, f"frist {limit}", STATE_COLOURS["past_limit"])):
        body.append(f'<line x1="{left}" y1="{y(value):.1f}" x2="{width - right}" y2="{y(value):.1f}" '
                    f'stroke="{colour}" stroke-width="1.2" stroke-dasharray="5 3"/>')
        body.append(_text(width - right - 2, y(value) - 3, label, anchor="end", size=8, colour=colour))
    body.append(f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" stroke="{INK}"/>')
    body.append(_text(4, top + plot[3] / 2, "arbeidsdager", anchor="middle", size=8, rotate=-90))
    body += _legend(left, height - 8, open_label="åpen sak (skravert)" if as_bars else "åpen sak (hul)",
                    hatched=as_bars)
    return _svg(width, height, body, title)


def _bars(cases: Sequence[CaseBar], plot: tuple, y) -> list[str]:
    left, top, plot_w, _ = plot
    slot = plot_w / len(cases)
    bar_w = min(26.0, slot * 0.7)
    body = []
    for index, case in enumerate(cases):
        x = left + slot * index + (slot - bar_w) / 2
        value = max(case.working_days, 0)
        bar_top = y(value) if value else y(0) - 1.5
        fill = "url(#open)" if case.is_open else STATE_COLOURS.get(case.state, BAR)
        stroke = STATE_COLOURS.get(case.state, BAR)
        body.append(f'<rect x="{x:.1f}" y="{bar_top:.1f}" width="{bar_w:.1f}" height="{y(0) - bar_top:.1f}" '
                    f'fill="{fill}" stroke="{stroke}" stroke-width="1.2"/>')
        label = case.case_id if len(cases) <= 16 else f"{case.received_date:%d.%m}"
        if len(cases) <= 16 or index % 2 == 0:
            body.append(_text(x + bar_w / 2, y(0) + 8, label, anchor="end", size=7, rotate=-45))
    return body


def _dots(cases: Sequence[CaseBar], plot: tuple, y) -> list[str]:
    left, top, plot_w, _ = plot
    first = min(case.received_date for case in cases)
    span = max((max(case.received_date for case in cases) - first).days, 1)

    def x(day: date) -> float:
        return left + 4 + (plot_w - 8) * (day - first).days / span

    body = []
    for case in cases:
        colour = STATE_COLOURS.get(case.state, BAR)
        fill = "#ffffff" if case.is_open else colour
        body.append(f'<circle cx="{x(case.received_date):.1f}" cy="{y(max(case.working_days, 0)):.1f}" r="2.2" '
                    f'fill="{fill}" stroke="{colour}" stroke-width="0.8"/>')
    for tick in range(7):
        day = first + timedelta(days=round(span * tick / 6))
        anchor = "start" if tick == 0 else "end" if tick == 6 else "middle"
        body.append(_text(x(day), y(0) + 12, f"{day:%d.%m.%y}", anchor=anchor, size=7))
    return body


def _legend(x: float, baseline: float, *, open_label: str, hatched: bool) -> list[str]:
    body = []
    for state, label in (("within_target", "innen målet"), ("past_target", "over målet"),
                         ("past_limit", "over fristen")):
        body.append(f'<rect x="{x}" y="{baseline - 8}" width="10" height="10" fill="{STATE_COLOURS[state]}"/>')
        body.append(_text(x + 14, baseline, label, size=8))
        x += 24 + 6 * len(label)
    fill = "url(#open)" if hatched else "#ffffff"
    body.append(f'<rect x="{x}" y="{baseline - 8}" width="10" height="10" fill="{fill}" stroke="#666"/>')
    body.append(_text(x + 14, baseline, open_label, size=8))
    return body


def horizontal_bars(rows: Sequence[tuple[str, int]], *, width: int = 640, label_width: int = 250,
                    title: str = "", empty: str = "Ingenting å vise.") -> Markup:
    """Labelled horizontal bars with their value at the end (e.g. withheld items by rule)."""
    if not rows:
        return _svg(width, 40, [_text(0, 20, empty)], title)
    row_h, top = 20, 4
    height = top + row_h * len(rows) + 4
    biggest = max(value for _, value in rows) or 1
    plot_w = width - label_width - 50
    body = []
    for index, (label, value) in enumerate(rows):
        y = top + row_h * index
        length = plot_w * value / biggest
        body.append(_text(label_width - 6, y + 13, label, anchor="end"))
        body.append(f'<rect x="{label_width}" y="{y + 3}" width="{max(length, 1):.1f}" height="{row_h - 6}" '
                    f'fill="{BAR}"/>')
        body.append(_text(label_width + length + 4, y + 13, str(value), bold=True))
    return _svg(width, height, body, title)


def coverage_histogram(shares: Sequence[float], *, width: int = 640, height: int = 200) -> Markup:
    """How many classes fall in each tenth of consent coverage (0-9 %, ..., 90-100 %)."""
    title = "Samtykkedekning per klasse"
    if not shares:
        return _svg(width, 40, [_text(0, 20, "Ingen klasser med elever.")], title)
    bins = [0] * 10
    for share in shares:
        bins[min(int(share * 10 + 1e-9), 9)] += 1
    left, right, top, bottom = 34, 10, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max = max(bins)
    slot = plot_w / 10
    body = []

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / y_max

    for index, count in enumerate(bins):
        x = left + slot * index + 3
        colour = "#c62828" if index < 5 else ("#e0a000" if index < 8 else "#2e7d32")
        body.append(f'<rect x="{x:.1f}" y="{y(count):.1f}" width="{slot - 6:.1f}" '
                    f'height="{y(0) - y(count):.1f}" fill="{colour}"/>')
        if count:
            body.append(_text(x + (slot - 6) / 2, y(count) - 3, str(count), anchor="middle", bold=True))
        label = f"{index * 10}–{index * 10 + 9} %" if index < 9 else "90–100 %"
        body.append(_text(x + (slot - 6) / 2, y(0) + 12, label, anchor="middle", size=8))
    body.append(f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" stroke="{INK}"/>')
    body.append(_text(left, height - 4, "andel elever med synlig navn (antall klasser over søylene)", size=8))
    return _svg(width, height, body, title)
