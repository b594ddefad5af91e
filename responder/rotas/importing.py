"""Importing rotas: ``rota import FILE.ics --role KEY`` and ``rota import FILE.csv``.

Bad rows (a CSV line, a calendar event) are reported as ``FILE:LINE: field:
message`` and left out; good rows are kept. A fatal error (a file that is not
a calendar or has no header, a role no playbook names) raises
:class:`RotaImportError` before anything is written, and the caller's unit of
work then writes nothing from that file.

A CSV's rows for a role replace that role's shifts in the period they span
(overrides stay). A calendar replaces its role's shifts from now on: it is
kept with the rota and its recurring events are expanded again every night
for ``ROTA_WINDOW_DAYS`` ahead.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from responder.clock import local_zone, now_utc
from responder.extensions import db
from responder.models import Contact, Rota, RotaShift, ShiftKind, ShiftOrigin
from responder.playbooks import PlaybookError
from responder.playbooks.registry import current_playbooks
from responder.rotas.calendars import CalendarError, Occurrence, calendar_name, occurrences, read_calendar
from responder.rotas.roles import playbook_roles

CSV_COLUMNS = ("role", "contact", "start", "end")
# A longer shift is almost certainly a typing mistake (a month instead of a day).
LONGEST_SHIFT = timedelta(days=31)


class RotaImportError(ValueError):
    """Nothing can be imported from this file; ``problems`` say why, as FILE:LINE: field: message."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class ImportResult:
    shifts: dict[str, int] = field(default_factory=dict)  # imported, by role
    replaced: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ShiftRow:
    role: str
    contact: Contact
    starts_at: datetime
    ends_at: datetime


class ContactNotFound(ValueError):
    pass


class Directory:
    """The contact directory, read once, to name a rota's holder by key or e-mail."""

    def __init__(self) -> None:
        contacts = list(db.session.scalars(select(Contact)))
        self.by_key = {contact.key: contact for contact in contacts}
        self.by_email: dict[str, list[Contact]] = {}
        for contact in contacts:
            self.by_email.setdefault(contact.email.lower(), []).append(contact)

    def find(self, value: str, role: str | None = None) -> Contact:
        """The active contact whose key (or e-mail) is ``value``; raises ContactNotFound saying why.

        One person may be in the directory under several keys with one
        e-mail: the contact whose key is ``role`` is then the one meant, else
        the key must be given.
        """
        value = value.strip()
        contact = self.by_key.get(value)
        if contact is None:
            matches = self.by_email.get(value.lower(), [])
            if len(matches) > 1:
                contact = next((c for c in matches if c.key == role), None)
                if contact is None:
                    keys = ", ".join(sorted(c.key for c in matches))
                    raise ContactNotFound(
                        f"{value!r} is the e-mail of several contacts ({keys}): give the key"
                    )
            elif matches:
                contact = matches[0]
        if contact is None:
            raise ContactNotFound(f"no contact with key or e-mail {value!r} in the directory")
        if not contact.active:
            raise ContactNotFound(f"{contact.key!r} is not active in the contact directory")
        return contact


# --- CSV ------------------------------------------------------------------------------------


def import_csv(text: str, source: str) -> ImportResult:
    """Import ``role,contact,start,end`` rows (ISO 8601 local times) into the caller's transaction."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [column for column in CSV_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise RotaImportError(
            [f"{source}:1: header: missing column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}"]
        )
    roles = _known_roles(source)
    directory = Directory()
    result = ImportResult()
    rows: list[ShiftRow] = []
    for values in reader:
        try:
            rows.append(_csv_row(values, roles, directory))
        except ValueError as error:
            result.problems.append(f"{source}:{reader.line_num}: {error}")
    if not rows and not result.problems:
        raise RotaImportError([f"{source}:2: role: the file has no rows"])
    for role in dict.fromkeys(row.role for row in rows):
        mine = [row for row in rows if row.role == role]
        rota = _rota(role, source)
        if rota.calendar is not None:
            # The CSV is now the rota: the calendar would otherwise put its shifts back tonight.
            rota.calendar = None
            result.notes.append(
                f"{role}: its calendar is no longer expanded nightly; its rota now comes from CSV"
            )
        start, end = min(r.starts_at for r in mine), max(r.ends_at for r in mine)
        result.replaced += _clear_shifts(rota, start, end)
        _add_shifts(rota, mine, ShiftOrigin.CSV)
        result.shifts[role] = len(mine)
    return result


def _csv_row(values: dict, roles: set[str], directory: Directory) -> ShiftRow:
    clean = {column: (values.get(column) or "").strip() for column in CSV_COLUMNS}
    for column in CSV_COLUMNS:
        if not clean[column]:
            raise ValueError(f"{column}: required")
    role = clean["role"]
    if role not in roles:
        raise ValueError(f"role: {role!r} is not a role any playbook names")
    try:
        contact = directory.find(clean["contact"], role)
    except ContactNotFound as error:
        raise ValueError(f"contact: {error}") from None
    starts_at = parse_local_time(clean["start"], "start")
    ends_at = parse_local_time(clean["end"], "end")
    check_period(starts_at, ends_at)
    return ShiftRow(role, contact, starts_at, ends_at)


def parse_local_time(raw: str, name: str) -> datetime:
    """An ISO 8601 date and time, e.g. 2026-12-01T08:00; without an offset it is local time."""
    try:
        value = datetime.fromisoformat(raw.strip())
        if value.tzinfo is None:
            # fold=0: the first of a time that happens twice (BST), as offsets and calendars do.
            value = value.replace(tzinfo=local_zone(), fold=0)
        return value.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: a moment in year 1 or 9999 moved out of range
        raise ValueError(
            f"{name}: {raw[:40]!r} is not an ISO 8601 date and time, like 2026-12-01T08:00"
        ) from None


def check_period(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise ValueError("end: must be after the start")
    if ends_at - starts_at > LONGEST_SHIFT:
        raise ValueError("end: a shift of more than 31 days is probably a mistake")


# --- iCalendar ------------------------------------------------------------------------------


def import_calendar(text: str, source: str, role: str) -> ImportResult:
    """Make the calendar ``role``'s rota, expanding its events for ``ROTA_WINDOW_DAYS`` from now."""
    if role not in _known_roles(source):
        raise RotaImportError([f"{source}:1: role: {role!r} is not a role any playbook names"])
    try:
        name = calendar_name(read_calendar(text))
    except CalendarError as error:
        raise RotaImportError([f"{source}:1: file: {error}"]) from None
    rota = _rota(role, name or source)
    rota.name = (name or source)[:200]
    rota.calendar = text
    return expand_calendar(rota, source)


def expand_calendar(rota: Rota, source: str | None = None) -> ImportResult:
    """Replace the rota's shifts from now with its calendar's, ``ROTA_WINDOW_DAYS`` ahead (also nightly)."""
    source = source or rota.name
    start = now_utc()
    end = start + timedelta(days=current_app.config["ROTA_WINDOW_DAYS"])
    try:
        found = occurrences(rota.calendar or "", start, end, local_zone())
    except CalendarError as error:
        raise RotaImportError([f"{source}:1: file: {error}"]) from None
    result = ImportResult()
    directory = Directory()
    rows: list[ShiftRow] = []
    for occurrence in found:
        try:
            rows.append(_calendar_row(rota.role, occurrence, directory))
        except ValueError as error:
            problem = f"{source}:{occurrence.line}: {error}"
            if problem not in result.problems:
                result.problems.append(problem)
    result.replaced = _clear_from(rota, start)
    _add_shifts(rota, rows, ShiftOrigin.CALENDAR)
    rota.expanded_until = end
    result.shifts[rota.role] = len(rows)
    return result


def _calendar_row(role: str, occurrence: Occurrence, directory: Directory) -> ShiftRow:
    """An event's holder: an attendee's e-mail, else a contact key or e-mail in its summary."""
    problems = []
    for email in occurrence.attendees:
        try:
            contact = directory.find(email, role)
            break
        except ContactNotFound as error:
            problems.append(f"attendee: {error}")
    else:
        contact = _from_summary(occurrence.summary, role, directory)
        if contact is None:
            raise ValueError(
                problems[0]
                if problems
                else "summary: names no contact (give an attendee's e-mail, or a contact key or e-mail in the summary)"
            )
    if occurrence.ends_at <= occurrence.starts_at:
        raise ValueError("DTEND: must be after DTSTART")
    return ShiftRow(role, contact, occurrence.starts_at, occurrence.ends_at)


def _from_summary(summary: str, role: str, directory: Directory) -> Contact | None:
    for word in summary.replace(",", " ").replace(";", " ").split():
        word = word.strip("()<>[]:")
        if word == role:
            continue  # a summary naming the role ("bham-vru-duty: Jo") does not make its fixed contact the holder
        try:
            return directory.find(word, role)
        except ContactNotFound:
            continue
    return None


# --- writing --------------------------------------------------------------------------------


def _known_roles(source: str) -> set[str]:
    try:
        return playbook_roles(current_playbooks())
    except PlaybookError as error:
        raise RotaImportError([f"{source}:1: role: the playbooks cannot be read ({error})"]) from None


def _rota(role: str, name: str) -> Rota:
    rota = db.session.scalar(select(Rota).where(Rota.role == role))
    if rota is None:
        rota = Rota(role=role, name=name[:200])
        db.session.add(rota)
        db.session.flush()
    return rota


def _add_shifts(rota: Rota, rows: list[ShiftRow], origin: ShiftOrigin) -> None:
    db.session.add_all(
        RotaShift(
            rota_id=rota.id,
            contact_id=row.contact.id,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            kind=ShiftKind.SHIFT,
            origin=origin,
        )
        for row in rows
    )


def _clear_from(rota: Rota, start: datetime) -> int:
    """Remove the rota's shifts (not overrides) that have not ended by ``start``."""
    return db.session.execute(
        delete(RotaShift)
        .where(RotaShift.rota_id == rota.id, RotaShift.kind == ShiftKind.SHIFT, RotaShift.ends_at > start)
        .execution_options(synchronize_session=False)
    ).rowcount


def _clear_shifts(rota: Rota, start: datetime, end: datetime) -> int:
    """Remove the rota's shifts (not overrides) inside ``start``-``end``; trim those across its edges."""
    cleared = 0
    overlapping = db.session.scalars(
        select(RotaShift).where(
            RotaShift.rota_id == rota.id,
            RotaShift.kind == ShiftKind.SHIFT,
            RotaShift.starts_at < end,
            RotaShift.ends_at > start,
        )
    )
    for shift in overlapping:
        before, after = shift.starts_at < start, shift.ends_at > end
        if before and after:
            db.session.add(
                RotaShift(
                    rota_id=rota.id,
                    contact_id=shift.contact_id,
                    starts_at=end,
                    ends_at=shift.ends_at,
                    kind=shift.kind,
                    origin=shift.origin,
                )
            )
        if before:
            shift.ends_at = start
        elif after:
            shift.starts_at = end
        else:
            db.session.delete(shift)
            cleared += 1
    db.session.flush()
    return cleared


def extend_calendar_rotas() -> list[str]:
    """Expand every calendar rota again (nightly), ``ROTA_WINDOW_DAYS`` ahead; one line per rota."""
    lines = []
    for rota in db.session.scalars(select(Rota).where(Rota.calendar.is_not(None)).order_by(Rota.role)):
        try:
            result = expand_calendar(rota)
        except RotaImportError as error:
            lines.append(f"{rota.role}: not expanded: {'; '.join(error.problems)}")
            continue
        lines.append(
            f"{rota.role}: {result.shifts.get(rota.role, 0)} shift(s) until {rota.expanded_until:%Y-%m-%d}"
        )
        lines.extend(result.problems)
    return lines
