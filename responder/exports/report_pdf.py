"""The after-action report as a PDF (reportlab: pure Python, installs from PyPI alone).

Text is set in DejaVu Sans, embedded (responder.exports.report_fonts), so en
dashes, curly quotes and every Latin Extended letter in a name print the same
on every machine; the charts are reportlab's own vector graphics
(responder.exports.report_charts, responder.exports.tension_chart), each with
a numbered caption.

The story is :data:`SECTIONS`, in reading order: a new section of the report
is one more function there (and a block in the exports/report.html template).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from responder.exports.report import AfterActionReport
from responder.exports.report_charts import (
    ACK_CAPTION,
    ACK_TITLE,
    SWIMLANE_CAPTION,
    SWIMLANE_TITLE,
    acknowledgement_drawing,
    swimlane_drawing,
)
from responder.exports.report_fonts import BOLD, REGULAR, register_report_fonts
from responder.exports.tension_chart import TENSION_CAPTION, tension_drawing

BLACK = colors.HexColor("#0b0c0c")
GREY = colors.HexColor("#505a5f")
RULE = colors.HexColor("#b1b4b6")
RAG_COLOURS = {"red": "#d4351c", "amber": "#f47738", "green": "#00703c"}
# The frame's width: the page less its margins and the frame's own 6-point padding each side.
PAGE_WIDTH = A4[0] - 36 * mm - 12


@cache
def _styles() -> dict[str, ParagraphStyle]:
    """Register the fonts (once, when the first report is made) and build the paragraph styles."""
    register_report_fonts()
    base = ParagraphStyle(
        "body", fontName=REGULAR, fontSize=9.5, leading=13, textColor=BLACK, alignment=TA_LEFT
    )
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5),
        "muted": ParagraphStyle("muted", parent=base, fontSize=8.5, textColor=GREY),
        "caption": ParagraphStyle(
            "caption", parent=base, fontSize=8.5, leading=11, textColor=GREY, spaceAfter=6
        ),
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=20, leading=25, spaceAfter=4),
        "h2": ParagraphStyle(
            "h2",
            parent=base,
            fontName=BOLD,
            fontSize=13,
            leading=17,
            spaceBefore=12,
            spaceAfter=5,
            keepWithNext=1,
        ),
        "h3": ParagraphStyle(
            "h3",
            parent=base,
            fontName=BOLD,
            fontSize=10.5,
            leading=14,
            spaceBefore=8,
            spaceAfter=3,
            keepWithNext=1,
        ),
        "key": ParagraphStyle("key", parent=base, fontName=BOLD),
        "th": ParagraphStyle("th", parent=base, fontName=BOLD, fontSize=7.5, leading=9.5),
        "banner": ParagraphStyle(
            "banner",
            parent=base,
            fontName=BOLD,
            textColor=colors.white,
            backColor=BLACK,
            borderPadding=4,
        ),
    }


def report_pdf(report: AfterActionReport) -> bytes:
    """The whole report as PDF bytes."""
    styles = _styles()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=20 * mm,
        bottomMargin=18 * mm,
        title=report.title,
        author="Responder",
        subject=f"Learning review – {report.variant} version",
        initialFontName=REGULAR,  # every page's starting font: none but DejaVu Sans in the file
    )
    story = [part for section in SECTIONS for part in section(report, styles)]
    document.build(story, onFirstPage=_decorate(report), onLaterPages=_decorate(report))
    return buffer.getvalue()


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text: escaped, so nobody's words can inject markup."""
    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def _heading(report: AfterActionReport, styles) -> list:
    parts = [_p(report.title, styles["title"])]
    if report.exercise:
        parts.append(_p("EXERCISE – this was not a real incident.", styles["banner"]))
        parts.append(Spacer(1, 6))
    variant = (
        "Redacted version: people appear by role or pseudonym, and free text is withheld."
        if report.variant == "redacted"
        else "Full version, for the core partnership only."
    )
    parts.append(_p(f"Generated {report.generated_at}. {variant}", styles["muted"]))
    return parts


def _summary(report: AfterActionReport, styles) -> list:
    return _key_values("Summary", report.summary, styles)


def _headline(report: AfterActionReport, styles) -> list:
    return _key_values("Response metrics", report.headline, styles)


def _key_values(title: str, rows: list[tuple[str, str]], styles) -> list:
    table = Table(
        [[_p(key, styles["key"]), _p(value, styles["body"])] for key, value in rows],
        colWidths=[PAGE_WIDTH * 0.38, PAGE_WIDTH * 0.62],
    )
    table.setStyle(_ruled())
    return [_p(title, styles["h2"]), table]


def _agency_table(report: AfterActionReport, styles) -> list:
    header = ["Agency", "Outcome", "Time to acknowledge", "Within target", "Escalations", "Covered by"]
    rows = [[_p(cell, styles["th"]) for cell in header]]
    rows += [
        [
            _p(row.agency, styles["small"]),
            _p(row.outcome, styles["small"]),
            _p(row.time_to_acknowledge, styles["small"]),
            _p(row.within_target, styles["small"]),
            _p(row.escalations, styles["small"]),
            _p(row.covered_by, styles["small"]),
        ]
        for row in report.agencies
    ]
    widths = [0.3, 0.14, 0.13, 0.1, 0.2, 0.13]
    table = Table(rows, colWidths=[PAGE_WIDTH * w for w in widths], repeatRows=1)
    table.setStyle(_ruled(header=True))
    return [_p("Agencies: time to acknowledge and escalation", styles["h3"]), table]


def _acknowledgement_charts(report: AfterActionReport, styles) -> list:
    return [
        _figure(
            SWIMLANE_TITLE,
            swimlane_drawing(report.lanes, report.opened_at, report.lanes_until),
            SWIMLANE_CAPTION,
            styles,
        ),
        _figure(ACK_TITLE, acknowledgement_drawing(report.lanes), ACK_CAPTION, styles),
    ]


def _deadlines(report: AfterActionReport, styles) -> list:
    parts = [_p("Deadlines", styles["h2"])]
    if not report.deadlines:
        return [*parts, _p("The playbook set no deadlines.", styles["muted"])]
    rows = [[_p(cell, styles["th"]) for cell in ("Deadline", "Due", "Met or missed", "Note")]]
    rows += [
        [
            _p(entry.name, styles["small"]),
            _p(entry.due, styles["small"]),
            _p(entry.outcome, styles["small"]),
            _p(entry.note, styles["small"]),
        ]
        for entry in report.deadlines
    ]
    table = Table(rows, colWidths=[PAGE_WIDTH * w for w in (0.34, 0.18, 0.28, 0.2)], repeatRows=1)
    table.setStyle(_ruled(header=True))
    return [*parts, table]


def _tension(report: AfterActionReport, styles) -> list:
    drawing = tension_drawing(report.tension, report.opened_at, report.tension_until)
    return [_figure("Community tension over time", drawing, TENSION_CAPTION, styles)]


def _figure(title: str, drawing: Flowable, caption: str, styles) -> KeepTogether:
    """A chart with its heading and numbered caption, kept on one page."""
    return KeepTogether([_p(title, styles["h2"]), drawing, _p(caption, styles["caption"])])


def _review(report: AfterActionReport, styles) -> list:
    parts = [_p("Learning review", styles["h2"])]
    for title, entries in report.review_sections:
        parts.append(_p(title, styles["h3"]))
        if not entries:
            parts.append(_p("None recorded.", styles["muted"]))
        for entry in entries:
            parts.append(_p(entry.text, styles["body"]))
            parts.append(_p(f"{entry.author}, {entry.at}", styles["muted"]))
            parts.append(Spacer(1, 4))
    parts.append(_p("Action plan", styles["h3"]))
    if not report.actions:
        return [*parts, _p("No actions recorded.", styles["muted"])]
    rows = [[_p(cell, styles["th"]) for cell in ("Action", "Owner", "Due", "RAG status")]]
    rows += [
        [
            _p(action.action, styles["small"]),
            _p(action.owner, styles["small"]),
            _p(action.due, styles["small"]),
            _p(action.rag_label, styles["small"]),
        ]
        for action in report.actions
    ]
    table = Table(rows, colWidths=[PAGE_WIDTH * w for w in (0.45, 0.22, 0.13, 0.2)], repeatRows=1)
    style = _ruled(header=True)
    for index, action in enumerate(report.actions, start=1):
        style.add(
            "BACKGROUND", (3, index), (3, index), colors.HexColor(RAG_COLOURS[action.rag]).clone(alpha=0.18)
        )
    table.setStyle(style)
    return [*parts, table]


def _chronology(report: AfterActionReport, styles) -> list:
    chronology = report.chronology
    parts = [
        _p("Chronology", styles["h2"]),
        _p(
            f"{chronology.events:,} timeline events in {chronology.rows:,} rows: each message is one row "
            "with its delivery receipts. The chronology CSV export has every event.",
            styles["muted"],
        ),
    ]
    if report.chronology_truncated:
        parts.append(
            _p(
                f"Shortened: this chronology stops at {chronology.last_time}, after {chronology.rows:,} rows; "
                f"the chronology CSV export has all {report.chronology_total:,} events.",
                styles["muted"],
            )
        )
    return [*parts, chronology_table(report, styles)]


def chronology_table(report: AfterActionReport, styles) -> Table:
    """Local time, then who (the agency, or who acted) and what happened; a heading row for each day."""
    rows = [[_p("Time", styles["th"]), _p("Agency or who – what happened", styles["th"])]]
    style = _ruled(header=True)
    for day in report.chronology.days:
        style.add("SPAN", (0, len(rows)), (-1, len(rows)))
        style.add("BACKGROUND", (0, len(rows)), (-1, len(rows)), colors.HexColor("#f3f2f1"))
        rows.append([_p(day.heading, styles["th"]), ""])
        rows += [[_p(row.time, styles["small"]), _who_what(row, styles)] for row in day.rows]
    table = Table(rows, colWidths=[PAGE_WIDTH * 0.08, PAGE_WIDTH * 0.92], repeatRows=1)
    table.setStyle(style)
    return table


def _who_what(row, styles) -> Paragraph:
    """The agency (or who acted) in bold, then what happened; both escaped."""
    who = f"<b>{escape(row.who)}</b> – " if row.who else ""
    return Paragraph(who + escape(row.what).replace("\n", "<br/>"), styles["small"])


def _playbook(report: AfterActionReport, styles) -> list:
    return [
        _p("Playbook version used", styles["h2"]),
        _p(
            "The playbook as frozen when the incident opened, identified by its SHA-256 hash: "
            f"{report.playbook_hash}",
            styles["body"],
        ),
    ]


def _ruled(header: bool = False) -> TableStyle:
    style = TableStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("FONTNAME", (0, 0), (-1, -1), REGULAR),
            ("LINEBELOW", (0, 0), (-1, -1), 0.5, RULE),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
    )
    if header:
        style.add("LINEBELOW", (0, 0), (-1, 0), 1, BLACK)
    return style


def _decorate(report: AfterActionReport):
    """Page furniture: the handling marking at the top, reference and page number at the foot."""
    marking = "OFFICIAL" if report.variant == "redacted" else "OFFICIAL-SENSITIVE"

    def draw(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(BOLD, 8)
        canvas.setFillColor(BLACK)
        width, height = A4
        canvas.drawCentredString(width / 2, height - 12 * mm, marking)
        canvas.setFont(REGULAR, 7.5)
        canvas.setFillColor(GREY)
        canvas.drawString(18 * mm, 10 * mm, f"{report.reference} – after-action report ({report.variant})")
        canvas.drawRightString(width - 18 * mm, 10 * mm, f"Page {document.page}")
        canvas.restoreState()

    return draw


# The report in reading order: each takes the report and the styles and returns flowables.
SECTIONS: tuple[Callable[[AfterActionReport, dict], list], ...] = (
    _heading,
    _summary,
    _headline,
    _agency_table,
    _acknowledgement_charts,
    _deadlines,
    _tension,
    _review,
    _chronology,
    _playbook,
)
