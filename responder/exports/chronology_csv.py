"""The chronology as CSV: one row per timeline event, oldest first, streamed.

Opens cleanly in Excel: UTF-8 with a byte order mark (without one Excel
guesses the Windows code page and mangles en dashes and accents), and no
cell that Excel would run as a formula. The rows come from the database in
batches (``yield_per``: a server-side cursor on PostgreSQL) and leave as
chunks of bytes, so a 100,000-event incident never sits in memory at once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC

from sqlalchemy import select

from responder.clock import local_zone
from responder.extensions import db
from responder.models import Incident, TimelineEvent
from responder.timeline.naming import Naming
from responder.timeline.render import sentence, who

BOM = "\ufeff"
HEADER = ("Local time", "UTC", "Actor", "Agency", "Channel", "Kind", "Detail")
# Excel, LibreOffice and Google Sheets treat a cell starting with these as a formula
# (tab and carriage return too: some import paths strip them and evaluate the rest).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows fetched per round trip, and bytes gathered before a chunk is sent.
BATCH_ROWS = 1000
CHUNK_BYTES = 64 * 1024


def neutralise(cell: object) -> str:
    """A cell value that a spreadsheet shows as text, never evaluates."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_chunks(rows: Iterable[Iterable[object]], header: Iterable[str]) -> Iterator[bytes]:
    """Any table as Excel-safe CSV bytes (BOM, neutralised cells), in chunks of about CHUNK_BYTES."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow([neutralise(cell) for cell in header])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def chronology_rows(incident_id: int, naming: Naming) -> Iterator[tuple[str, ...]]:
    """(local time, UTC, actor, agency, channel, kind, detail) for each event, by time then id.

    Takes the incident's id, not the incident: a streamed body is read after
    the view returns, when the view's model objects may be detached.
    """
    zone = local_zone()
    query = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(TimelineEvent.at, TimelineEvent.id)
        .execution_options(yield_per=BATCH_ROWS)
    )
    for event in db.session.scalars(query):
        local = event.at.astimezone(zone)
        yield (
            f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}",
            event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            who(event, naming),
            naming.agency(event.agency_key),
            event.channel or "",
            event.kind.label,
            sentence(event, naming),
        )


def chronology_csv(incident: Incident, naming: Naming) -> Iterator[bytes]:
    """The whole chronology as CSV bytes, a chunk at a time."""
    return csv_chunks(chronology_rows(incident.id, naming), HEADER)
