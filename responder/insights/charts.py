"""The insights charts, drawn on the server with reportlab's charts and sent as SVG images.

Each chart reads a figure's own rows (responder.insights.figures.FigureTable),
the same rows as the table beside it and the CSV download. Colours come from
the GOV.UK palette; every series is also told apart by its legend, and line
charts by their markers and dashes, not by colour alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, Group, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors

from responder.exports.report_charts import chart_drawing, svg_data_uri
from responder.exports.report_fonts import BOLD, REGULAR
from responder.insights.figures import TYPE_COLUMNS, FigureTable

WIDTH = 640
HEIGHT = 320
FONT_SIZE = 9.5
TEXT = colors.HexColor("#0b0c0c")
GRID = colors.HexColor("#b1b4b6")
PALETTE = [
    colors.HexColor(value)
    for value in (
        "#1d70b8",  # blue
        "#f47738",  # orange
        "#00703c",  # green
        "#4c2c92",  # purple
        "#d53880",  # pink
        "#28a197",  # turquoise
        "#505a5f",  # dark grey
        "#b58840",  # brown
        "#d4351c",  # red
        "#5694ca",  # light blue
        "#912b88",  # bright purple
        "#85994b",  # olive
        "#0b0c0c",  # black
        "#6f72af",  # light purple
    )
]
MARKERS = ("FilledCircle", "FilledSquare", "FilledDiamond", "FilledTriangle", "Circle", "Square", "Diamond")


def chart_uri(figure: FigureTable, months: Sequence[str]) -> str:
    """The figure's chart as an SVG ``data:`` URI for an <img>; ``months`` are the period's."""
    return svg_data_uri(DRAWERS[figure.key](figure, months), figure.title)


# --- the charts, one per figure ------------------------------------------------------------


def _incidents_by_month(figure: FigureTable, months: Sequence[str]) -> Drawing:
    series = [(name, [row[1 + index] for row in figure.rows]) for index, name in enumerate(TYPE_COLUMNS)]
    return _bars(
        [row[0] for row in figure.rows],
        _present(series),
        "Incidents opened",
        "Month the incident was opened",
        stacked=True,
    )


def _incidents_by_area(figure: FigureTable, months: Sequence[str]) -> Drawing:
    areas = [row[0] for row in figure.rows]
    series = [(name, [row[1 + index] for row in figure.rows]) for index, name in enumerate(TYPE_COLUMNS)]
    return _bars(areas, _present(series), "Incidents", "Local authority", stacked=True, horizontal=True)


def _acknowledgement(figure: FigureTable, months: Sequence[str]) -> Drawing:
    groups = list(dict.fromkeys(row[0] for row in figure.rows))
    lines = []
    for index, group in enumerate(groups):
        by_month = {row[1]: row for row in figure.rows if row[0] == group}
        median = [(x, by_month[month][3]) for x, month in enumerate(months) if month in by_month]
        p90 = [(x, by_month[month][4]) for x, month in enumerate(months) if month in by_month]
        lines.append((group, median, p90, index))
    return _lines(months, lines, "Minutes to acknowledge", "Month the incident was opened")


def _escalations(figure: FigureTable, months: Sequence[str]) -> Drawing:
    values = [row[3] or 0 for row in figure.rows]
    return _bars(
        [row[0] for row in figure.rows],
        [("Escalations per incident", values)],
        "Escalations per incident",
        "Month",
    )


def _check_ins(figure: FigureTable, months: Sequence[str]) -> Drawing:
    values = [row[3] or 0 for row in figure.rows]
    return _bars(
        [row[0] for row in figure.rows],
        [("Response rate (%)", values)],
        "Check-ins answered (%)",
        "Month",
        top=100,
    )


def _offers(figure: FigureTable, months: Sequence[str]) -> Drawing:
    series = [
        (name, [row[1 + index] for row in figure.rows]) for index, name in enumerate(figure.columns[1:])
    ]
    return _bars([row[0] for row in figure.rows], series, "Support offers", "Month the incident was opened")


def _tension(figure: FigureTable, months: Sequence[str]) -> Drawing:
    levels = [row[0] for row in figure.rows]
    series = [
        (name, [row[1 + index] for row in figure.rows]) for index, name in enumerate(figure.columns[1:])
    ]
    return _bars(levels, series, "Incidents", "Community tension")


DRAWERS = {
    "incidents-by-month": _incidents_by_month,
    "incidents-by-local-authority": _incidents_by_area,
    "acknowledgement-by-sector": _acknowledgement,
    "acknowledgement-by-local-authority": _acknowledgement,
    "escalations": _escalations,
    "check-ins": _check_ins,
    "support-offers": _offers,
    "tension": _tension,
}


# --- kinds of chart ------------------------------------------------------------------------


def _bars(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    value_title: str,
    category_title: str,
    *,
    stacked: bool = False,
    horizontal: bool = False,
    top: float | None = None,
) -> Drawing:
    legend_height = 22 if len(series) > 1 else 0
    height = max(HEIGHT, 70 + 22 * len(categories)) if horizontal else HEIGHT
    if horizontal:  # reportlab stacks categories upwards: the first row belongs at the top
        categories = list(reversed(categories))
        series = [(name, list(reversed(values))) for name, values in series]
    drawing = chart_drawing(WIDTH, height)
    chart = HorizontalBarChart() if horizontal else VerticalBarChart()
    left = 130 if horizontal else 60
    chart.x, chart.y = left, 58
    chart.width, chart.height = WIDTH - left - 20, height - 58 - 20 - legend_height
    chart.data = [list(values) for _, values in series] or [[0] * len(categories)]
    chart.categoryAxis.categoryNames = list(categories)
    if stacked:
        chart.categoryAxis.style = "stacked"
    largest = _largest(series, stacked)
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = top or _nice_top(largest)
    chart.valueAxis.valueStep = _nice_step(chart.valueAxis.valueMax)
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = GRID
    chart.valueAxis.labelTextFormat = "%g"
    for index in range(len(chart.data)):
        chart.bars[index].fillColor = PALETTE[index % len(PALETTE)]
        chart.bars[index].strokeColor = None
    _style_axis_labels(chart.valueAxis, chart.categoryAxis, len(categories), horizontal)
    drawing.add(chart)
    if legend_height:
        drawing.add(
            _legend([(name, PALETTE[i % len(PALETTE)]) for i, (name, _) in enumerate(series)], height)
        )
    if horizontal:
        _titles(
            drawing, chart.x + chart.width / 2, 8, value_title, 12, chart.y + chart.height / 2, category_title
        )
    else:
        _titles(
            drawing, chart.x + chart.width / 2, 8, category_title, 12, chart.y + chart.height / 2, value_title
        )
    return drawing


def _lines(months: Sequence[str], lines, value_title: str, category_title: str) -> Drawing:
    """One colour and marker per group: its median solid, its 90th percentile dashed."""
    legend_rows = max(1, (len(lines) + 3) // 4)
    legend_height = 14 * legend_rows + 16
    drawing = chart_drawing(WIDTH, HEIGHT + legend_height)
    plot = LinePlot()
    plot.x, plot.y = 60, 58
    plot.width, plot.height = WIDTH - 80, HEIGHT - 58 - 20
    data, styles = [], []
    for _group, median, p90, index in lines:
        for points, dashed in ((median, False), (p90, True)):
            if points:
                data.append(points)
                styles.append((index, dashed))
    plot.data = data or [[(0, 0)]]
    largest = max([y for points in data for _, y in points if y is not None] or [1])
    plot.xValueAxis.valueMin = -0.5
    plot.xValueAxis.valueMax = max(len(months) - 0.5, 0.5)
    plot.xValueAxis.valueSteps = list(range(len(months)))
    plot.xValueAxis.labelTextFormat = lambda value: (
        months[round(value)] if 0 <= round(value) < len(months) else ""
    )
    plot.yValueAxis.valueMin = 0
    plot.yValueAxis.valueMax = _nice_top(largest)
    plot.yValueAxis.valueStep = _nice_step(plot.yValueAxis.valueMax)
    plot.yValueAxis.visibleGrid = True
    plot.yValueAxis.gridStrokeColor = GRID
    plot.yValueAxis.labelTextFormat = "%g"
    for number, (index, dashed) in enumerate(styles):
        line = plot.lines[number]
        line.strokeColor = PALETTE[index % len(PALETTE)]
        line.strokeWidth = 1.5 if dashed else 2
        if dashed:
            line.strokeDashArray = [4, 3]
        line.symbol = makeMarker(
            MARKERS[index % len(MARKERS)], size=5, fillColor=PALETTE[index % len(PALETTE)]
        )
    if not data:
        plot.lines[0].strokeColor = None
    _style_axis_labels(plot.yValueAxis, plot.xValueAxis, len(months), False)
    drawing.add(plot)
    items = [(group, PALETTE[index % len(PALETTE)]) for group, _, _, index in lines]
    drawing.add(_legend(items, HEIGHT + legend_height, columns=4))
    drawing.add(
        _string(
            WIDTH - 10, HEIGHT + legend_height - 12, "Solid: median. Dashed: 90th percentile.", anchor="end"
        )
    )
    _titles(drawing, plot.x + plot.width / 2, 8, category_title, 12, plot.y + plot.height / 2, value_title)
    return drawing


# --- pieces ------------------------------------------------------------------------------------


def _style_axis_labels(value_axis, category_axis, count: int, horizontal: bool) -> None:
    for axis in (value_axis, category_axis):
        axis.labels.fontName = REGULAR
        axis.labels.fontSize = FONT_SIZE
        axis.labels.fillColor = TEXT
    if not horizontal and count > 12:
        category_axis.labels.angle = 45
        category_axis.labels.boxAnchor = "ne"


def _legend(items, top: float, columns: int | None = None) -> Legend:
    legend = Legend()
    legend.alignment = "right"
    legend.x, legend.y = 60, top - 6
    legend.fontName, legend.fontSize = REGULAR, FONT_SIZE
    legend.colorNamePairs = [(colour, name) for name, colour in items]
    legend.columnMaximum = 1 if columns is None else max(1, (len(items) + columns - 1) // columns)
    legend.boxAnchor = "nw"
    legend.dx, legend.dy, legend.deltax = 8, 8, 10
    legend.dxTextSpace = 4
    legend.autoXPadding = 12
    return legend


def _titles(drawing: Drawing, x: float, y: float, below: str, left: float, middle: float, side: str) -> None:
    drawing.add(_string(x, y, below, font=BOLD, anchor="middle"))
    title = _string(0, 0, side, font=BOLD, anchor="middle")
    title.x, title.y = 0, 0
    group = Group(title)
    group.transform = (0, 1, -1, 0, left, middle)  # turned a quarter, reading upwards
    drawing.add(group)


def _string(x: float, y: float, text: str, *, font: str = REGULAR, anchor: str = "start") -> String:
    return String(x, y, text, fontName=font, fontSize=FONT_SIZE + 0.5, fillColor=TEXT, textAnchor=anchor)


def _present(series):
    """Only the series with something to show (a month of stabbings alone needs no empty colours)."""
    kept = [(name, values) for name, values in series if any(values)]
    return kept or series[:1]


def _largest(series, stacked: bool) -> float:
    if not series:
        return 1
    if stacked:
        return max((sum(values) for values in zip(*[v for _, v in series], strict=True)), default=1) or 1
    return max((max(values, default=0) for _, values in series), default=1) or 1


def _nice_top(largest: float) -> float:
    step = _nice_step(largest * 1.1)
    return max(step * -(-largest * 1.1 // step), step)


def _nice_step(top: float) -> float:
    raw = max(top, 1) / 5
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude
