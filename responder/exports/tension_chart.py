"""Community tension over time, drawn from the readings as a step chart.

One reportlab Drawing serves both outputs: the PDF embeds it as vector
graphics, the printable web page as an SVG image
(responder.exports.report_charts.svg_data_uri), so the two reports show the
same chart. Nothing here reads names or free text: only times and levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors

from responder.exports.report_charts import chart_drawing
from responder.exports.report_fonts import REGULAR, register_report_fonts
from responder.reviews.metrics import TensionPoint

LEVELS = ("low", "medium", "high", "critical")
WIDTH, HEIGHT = 460, 190
LINE_COLOUR = colors.HexColor("#1d70b8")  # GOV.UK blue
TEXT_COLOUR = colors.HexColor("#0b0c0c")
TENSION_CAPTION = (
    "Figure 3. Community tension: the level the incident was opened with, then each change and each "
    "check-in's reading."
)


def tension_drawing(points: Sequence[TensionPoint], opened_at: datetime, until: datetime) -> Drawing:
    """Tension level (low to critical) against time since the incident opened, up to ``until``."""
    register_report_fonts()
    days = (until - opened_at).total_seconds() > 3 * 86400
    unit_seconds, unit = (86400, "days") if days else (3600, "hours")
    steps = _steps(points, opened_at, until, unit_seconds)

    drawing = chart_drawing(WIDTH, HEIGHT)
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 70, 40, WIDTH - 90, HEIGHT - 60
    plot.data = [steps]
    plot.lines[0].strokeColor = LINE_COLOUR
    plot.lines[0].strokeWidth = 2
    plot.xValueAxis.valueMin = 0
    plot.xValueAxis.valueMax = max(steps[-1][0], 1)
    plot.xValueAxis.labelTextFormat = "%g"
    plot.yValueAxis.valueMin = 0.5
    plot.yValueAxis.valueMax = len(LEVELS) + 0.5
    plot.yValueAxis.valueSteps = list(range(1, len(LEVELS) + 1))
    plot.yValueAxis.labelTextFormat = lambda value: _level_label(value)
    plot.yValueAxis.visibleGrid = True
    plot.yValueAxis.gridStrokeColor = colors.HexColor("#b1b4b6")
    for axis in (plot.xValueAxis, plot.yValueAxis):
        axis.labels.fontName = REGULAR
        axis.labels.fontSize = 8
        axis.labels.fillColor = TEXT_COLOUR
    drawing.add(plot)
    caption = f"Time since the incident was opened ({unit})"
    drawing.add(
        String(
            plot.x + plot.width / 2,
            8,
            caption,
            textAnchor="middle",
            fontName=REGULAR,
            fontSize=8,
            fillColor=TEXT_COLOUR,
        )
    )
    return drawing


def _steps(
    points: Sequence[TensionPoint], opened_at: datetime, until: datetime, unit_seconds: float
) -> list[tuple[float, int]]:
    """Each level held until the next reading: (x, y) corners of a step line."""
    readings = [point for point in points if point.level in LEVELS] or [TensionPoint(opened_at, "medium")]
    corners: list[tuple[float, int]] = []
    for point in readings:
        x = max((point.at - opened_at).total_seconds(), 0) / unit_seconds
        y = LEVELS.index(point.level) + 1
        if corners:
            corners.append((x, corners[-1][1]))
        corners.append((x, y))
    end = max((until - opened_at).total_seconds() / unit_seconds, corners[-1][0])
    corners.append((end, corners[-1][1]))
    return corners


def _level_label(value: float) -> str:
    index = round(value) - 1
    return LEVELS[index].capitalize() if 0 <= index < len(LEVELS) else ""
