"""The after-action report's pictures of the acknowledgements, drawn once for the PDF and the web page.

* The **acknowledgement swimlane**: one row per agency on a shared time axis
  (time since the incident opened), marking when it was alerted, each rung
  the alert climbed to, and when it was acknowledged or declined.
* **Time to acknowledge** against the playbook's target: one bar per agency,
  the target as a dashed line.

Each is a reportlab Drawing: the PDF embeds it as vector graphics and the web
page shows it as SVG (:func:`svg_data_uri`). Only agency names (as the
report's naming gives them), rung names and times go in, never a person's
name, so the redacted report draws the same pictures.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from reportlab.graphics import renderSVG
from reportlab.graphics.shapes import Circle, Drawing, Group, Line, Polygon, Rect, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from responder.exports.report_fonts import BOLD, REGULAR, SVG_FONT_FAMILY, register_report_fonts

WIDTH = 480
LABEL_WIDTH = 150
ROW_HEIGHT = 24
TOP = 34  # the legend
BOTTOM = 42  # the axis, its tick labels and its title
RIGHT_MARGIN = 14
FONT_SIZE = 7.5
BLACK = colors.HexColor("#0b0c0c")
GREY = colors.HexColor("#505a5f")
LIGHT_GREY = colors.HexColor("#b1b4b6")
BLUE = colors.HexColor("#1d70b8")
GREEN = colors.HexColor("#00703c")
ORANGE = colors.HexColor("#f47738")
RED = colors.HexColor("#d4351c")

SWIMLANE_TITLE = "Acknowledgement swimlane"
SWIMLANE_CAPTION = (
    "Figure 1. Acknowledgement swimlane: one row per agency, on one time axis – when it was alerted, "
    "each rung the alert climbed to, and when it was acknowledged or declined."
)
ACK_TITLE = "Time to acknowledge against the playbook's target"
ACK_CAPTION = (
    "Figure 2. Time to acknowledge: one bar per agency, from its alert to its acknowledgement; "
    "the dashed line is the playbook's target."
)
ACK_AXIS = "Minutes from alert to acknowledgement"


@dataclass(frozen=True)
class LaneMark:
    """Something that happened to one agency's alert."""

    at: datetime
    kind: str  # alerted | escalated | acknowledged | declined | not_reached
    label: str = ""  # the rung escalated to ("deputy"), or who declined ("lead")


@dataclass(frozen=True)
class AgencyLane:
    """One agency's row in both charts."""

    agency: str
    alerted_at: datetime
    marks: tuple[LaneMark, ...]
    time_to_acknowledge: timedelta | None
    target: timedelta | None


# --- the swimlane ------------------------------------------------------------------------


def swimlane_drawing(lanes: Sequence[AgencyLane], opened_at: datetime, until: datetime) -> Drawing:
    """Every agency's alert, escalations and answer against time since the incident opened."""
    register_report_fonts()
    times = [mark.at for lane in lanes for mark in lane.marks] + [until]
    span = max((max(times) - opened_at).total_seconds(), 60)
    unit_seconds, unit = _time_unit(span)
    axis = _Axis(span * 1.04 / unit_seconds, LABEL_WIDTH, WIDTH - RIGHT_MARGIN)
    height = TOP + BOTTOM + ROW_HEIGHT * max(len(lanes), 1)
    drawing = chart_drawing(WIDTH, height)
    plot_top = height - TOP
    _legend(drawing, plot_top + 12)
    _x_axis(drawing, axis, BOTTOM - 8, plot_top, f"Time since the incident was opened ({unit})")
    for index, lane in enumerate(lanes):
        middle = plot_top - ROW_HEIGHT * index - ROW_HEIGHT / 2
        _lane_label(drawing, lane.agency, middle)
        drawing.add(_lane(lane, axis, middle, opened_at, unit_seconds))
    if not lanes:
        drawing.add(_text(axis.left + 4, plot_top - ROW_HEIGHT / 2, "No agency was alerted.", GREY))
    return drawing


def _lane(lane: AgencyLane, axis: _Axis, y: float, opened_at: datetime, unit_seconds: float) -> Group:
    group = Group()

    def x_of(at: datetime) -> float:
        return axis.x(max((at - opened_at).total_seconds(), 0) / unit_seconds)

    start = x_of(lane.alerted_at)
    answer = next((m for m in lane.marks if m.kind in ("acknowledged", "not_reached")), None)
    end = x_of(answer.at) if answer else axis.right
    # Waiting: a thin line to the answer (or on to the end: never answered).
    group.add(Line(start, y, end, y, strokeColor=LIGHT_GREY if answer else GREY, strokeWidth=1.5))
    for mark in lane.marks:
        group.add(_marker(mark.kind, x_of(mark.at), y))
        if mark.kind in ("escalated", "declined") and mark.label:
            group.add(_text(x_of(mark.at), y + 6.5, mark.label, GREY, size=6, anchor="middle"))
    return group


def _marker(kind: str, x: float, y: float):
    """Alerted: open circle; escalated: orange triangle; acknowledged: green square; declined: red cross."""
    if kind == "alerted":
        return Circle(x, y, 3.2, fillColor=colors.white, strokeColor=BLUE, strokeWidth=1.5)
    if kind == "escalated":
        return Polygon(
            [x, y + 4, x - 4, y - 3, x + 4, y - 3], fillColor=ORANGE, strokeColor=BLACK, strokeWidth=0.5
        )
    if kind == "acknowledged":
        return Rect(x - 3.5, y - 3.5, 7, 7, fillColor=GREEN, strokeColor=GREEN)
    if kind == "declined":
        cross = Group()
        cross.add(Line(x - 3.5, y - 3.5, x + 3.5, y + 3.5, strokeColor=RED, strokeWidth=2))
        cross.add(Line(x - 3.5, y + 3.5, x + 3.5, y - 3.5, strokeColor=RED, strokeWidth=2))
        return cross
    return Rect(x - 1, y - 5, 2, 10, fillColor=BLACK, strokeColor=BLACK)  # not reached


def _legend(drawing: Drawing, y: float) -> None:
    x = LABEL_WIDTH
    for kind, words in (
        ("alerted", "Alerted"),
        ("escalated", "Escalated (rung above)"),
        ("acknowledged", "Acknowledged"),
        ("declined", "Declined"),
        ("not_reached", "Not reached"),
    ):
        drawing.add(_marker(kind, x + 4, y + 2.5))
        drawing.add(_text(x + 11, y, words, BLACK))
        x += 18 + stringWidth(words, REGULAR, FONT_SIZE)


# --- time to acknowledge -------------------------------------------------------------------


def acknowledgement_drawing(lanes: Sequence[AgencyLane]) -> Drawing:
    """Minutes from each agency's alert to its acknowledgement, with the playbook's target."""
    register_report_fonts()
    minutes = [_minutes(lane.time_to_acknowledge) for lane in lanes]
    targets = [_minutes(lane.target) for lane in lanes]
    longest = max([m for m in minutes + targets if m is not None] or [1])
    axis = _Axis(longest * 1.15, LABEL_WIDTH, WIDTH - RIGHT_MARGIN - 40)
    height = TOP + BOTTOM + ROW_HEIGHT * max(len(lanes), 1)
    drawing = chart_drawing(WIDTH, height)
    plot_top = height - TOP
    _x_axis(drawing, axis, BOTTOM - 8, plot_top, ACK_AXIS)
    drawing.add(Rect(LABEL_WIDTH, plot_top + 12, 12, 6, fillColor=BLUE, strokeColor=BLUE))
    drawing.add(_text(LABEL_WIDTH + 16, plot_top + 12, "Within target", BLACK))
    drawing.add(Rect(LABEL_WIDTH + 80, plot_top + 12, 12, 6, fillColor=ORANGE, strokeColor=ORANGE))
    drawing.add(_text(LABEL_WIDTH + 96, plot_top + 12, "Over target", BLACK))
    drawing.add(
        Line(
            LABEL_WIDTH + 152,
            plot_top + 15,
            LABEL_WIDTH + 166,
            plot_top + 15,
            strokeColor=RED,
            strokeWidth=1.5,
        )
    )
    drawing.contents[-1].strokeDashArray = [3, 2]
    drawing.add(_text(LABEL_WIDTH + 170, plot_top + 12, _target_words(lanes), BLACK))
    for index, (lane, took, target) in enumerate(zip(lanes, minutes, targets, strict=True)):
        middle = plot_top - ROW_HEIGHT * index - ROW_HEIGHT / 2
        _lane_label(drawing, lane.agency, middle)
        drawing.add(_bar(axis, middle, took, target))
    if not lanes:
        drawing.add(_text(axis.left + 4, plot_top - ROW_HEIGHT / 2, "No agency was alerted.", GREY))
    return drawing


def _bar(axis: _Axis, y: float, took: float | None, target: float | None) -> Group:
    group = Group()
    if took is None:
        group.add(_text(axis.left + 3, y - 2.5, "not acknowledged", GREY))
    else:
        over = target is not None and took > target
        colour = ORANGE if over else BLUE
        group.add(
            Rect(axis.left, y - 6, max(axis.x(took) - axis.left, 1), 12, fillColor=colour, strokeColor=colour)
        )
        group.add(_text(axis.x(took) + 3, y - 2.5, _minutes_words(took), BLACK))
    if target is not None:
        line = Line(axis.x(target), y - ROW_HEIGHT / 2, axis.x(target), y + ROW_HEIGHT / 2)
        line.strokeColor, line.strokeWidth, line.strokeDashArray = RED, 1.5, [3, 2]
        group.add(line)
    return group


def _target_words(lanes: Sequence[AgencyLane]) -> str:
    targets = {lane.target for lane in lanes if lane.target is not None}
    if not targets:
        return "No target in the playbook"
    if len(targets) == 1:
        return f"Target: {_minutes_words(_minutes(targets.pop()))}"
    return "Target (each playbook's own)"


# --- shared pieces ---------------------------------------------------------------------------


def chart_drawing(width: float, height: float) -> Drawing:
    """An empty chart whose text starts in the report's typeface (no stray Helvetica in the PDF)."""
    register_report_fonts()
    return Drawing(width, height, initialFontName=REGULAR, initialFontSize=FONT_SIZE)


@dataclass(frozen=True)
class _Axis:
    """A linear x axis from 0 to ``top`` (data units) between ``left`` and ``right`` (points)."""

    top: float
    left: float
    right: float

    @property
    def step(self) -> float:
        raw = self.top / 6
        magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
        return next(n * magnitude for n in (1, 2, 2.5, 5, 10) if n * magnitude >= raw)

    @property
    def end(self) -> float:
        return max(math.ceil(self.top / self.step) * self.step, self.step)

    def x(self, value: float) -> float:
        return self.left + (self.right - self.left) * min(value, self.end) / self.end


def _x_axis(drawing: Drawing, axis: _Axis, y: float, top: float, title: str) -> None:
    drawing.add(Line(axis.left, y + 8, axis.right, y + 8, strokeColor=BLACK, strokeWidth=0.75))
    ticks = round(axis.end / axis.step)
    for number in range(ticks + 1):
        value = number * axis.step
        x = axis.x(value)
        drawing.add(Line(x, y + 8, x, top, strokeColor=LIGHT_GREY, strokeWidth=0.3))
        drawing.add(_text(x, y - 2, f"{value:g}", BLACK, anchor="middle"))
    drawing.add(_text((axis.left + axis.right) / 2, y - 16, title, BLACK, font=BOLD, anchor="middle"))


def _lane_label(drawing: Drawing, name: str, middle: float) -> None:
    lines = _wrap(name, LABEL_WIDTH - 8, 2)
    first = middle + (len(lines) - 1) * 4.5 - 2.5
    for number, line in enumerate(lines):
        drawing.add(_text(LABEL_WIDTH - 6, first - number * 9, line, BLACK, anchor="end"))


def _wrap(text: str, width: float, most: int) -> list[str]:
    """Words on up to ``most`` lines of ``width`` points; an ellipsis when they do not all fit."""
    lines: list[str] = []
    for word in text.split():
        if lines and stringWidth(f"{lines[-1]} {word}", REGULAR, FONT_SIZE) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] += " …"
    return [_fit(line, width) for line in lines] or [""]


def _fit(line: str, width: float) -> str:
    while stringWidth(line, REGULAR, FONT_SIZE) > width and len(line) > 2:
        line = line[:-2] + "…"
    return line


def _text(x, y, text, colour, *, size=FONT_SIZE, font=REGULAR, anchor="start") -> String:
    return String(x, y, text, fontName=font, fontSize=size, fillColor=colour, textAnchor=anchor)


def _time_unit(span_seconds: float) -> tuple[int, str]:
    if span_seconds <= 3 * 3600:
        return 60, "minutes"
    if span_seconds <= 3 * 86400:
        return 3600, "hours"
    return 86400, "days"


def _minutes(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds() / 60


def _minutes_words(minutes: float) -> str:
    if minutes >= 120:
        return f"{minutes / 60:.1f} h"
    return f"{minutes:.1f} min".replace(".0 min", " min")


# --- on the web --------------------------------------------------------------------------------


def svg_data_uri(drawing: Drawing, title: str) -> str:
    """The drawing as an SVG ``data:`` URI for an <img>: the page's Content-Security-Policy forbids
    the inline styles that reportlab's SVG uses, and an image document is outside its reach."""
    svg = renderSVG.drawToString(drawing)
    svg = svg[svg.index("<svg") :]
    svg = svg.replace("<title>...</title>", f"<title>{_xml(title)}</title>", 1).replace(
        "<desc>...</desc>", ""
    )
    for name in (BOLD, REGULAR):
        weight = "; font-weight: bold" if name == BOLD else ""
        svg = svg.replace(f"font-family: {name};", f"font-family: {SVG_FONT_FAMILY}{weight};")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
