"""The contact directory: importing and normalising contacts."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from responder.extensions import db
from responder.models import LOCAL_AUTHORITIES, Contact
from responder.playbooks.schema import ID

COLUMNS = ("key", "name", "phone", "email", "local_authority")
CONTACT_AREAS = (*LOCAL_AUTHORITIES, "regional")


# Ofcom reserves 07700 900000-900999 for drama; phonenumbers calls them
# unallocated, but demo and training directories must be able to use them.
OFCOM_DRAMA_MOBILE = re.compile(r"^\+447700900\d{3}$")


class ContactError(ValueError):
    """A value that cannot go in the directory; the message names the field."""


def normalise_phone(raw: str) -> str:
    """A UK or international number in E.164, e.g. '07700 900123' -> '+447700900123'."""
    try:
        number = phonenumbers.parse(raw, "GB")
    except phonenumbers.NumberParseException:
        raise ContactError(f"phone: {raw!r} is not a phone number") from None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not (phonenumbers.is_valid_number(number) or OFCOM_DRAMA_MOBILE.match(e164)):
        raise ContactError(f"phone: {raw!r} is not a valid phone number")
    return e164


def normalise_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ContactError(f"email: {raw!r} is not a valid email address ({error})") from None


@dataclass
class ContactRow:
    key: str
    name: str
    phone: str
    email: str
    local_authority: str


def parse_row(values: dict[str, str | None]) -> ContactRow:
    """Validate one CSV row; raises ContactError naming the field."""
    clean = {column: (values.get(column) or "").strip() for column in COLUMNS}
    for column in COLUMNS:
        if not clean[column]:
            raise ContactError(f"{column}: required")
    try:
        ID(clean["key"])
    except Exception:
        raise ContactError(f"key: {clean['key']!r} must be lower-case letters, digits and hyphens") from None
    if len(clean["name"]) > 120:
        raise ContactError("name: must be 120 characters or fewer")
    if clean["local_authority"].lower() not in CONTACT_AREAS:
        raise ContactError(
            f"local_authority: {clean['local_authority']!r} is not one of {', '.join(CONTACT_AREAS)}"
        )
    return ContactRow(
        key=clean["key"],
        name=clean["name"],
        phone=normalise_phone(clean["phone"]),
        email=normalise_email(clean["email"]),
        local_authority=clean["local_authority"].lower(),
    )


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)


def import_contacts(text: str, source: str) -> ImportResult:
    """Import CSV text: good rows are kept (one commit), bad rows reported by line."""
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        result.problems.append(
            f"{source}:1: header: missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}"
        )
        return result
    seen: dict[str, int] = {}
    parsed_rows: list[ContactRow] = []
    for row in reader:
        line = reader.line_num
        try:
            parsed = parse_row(row)
        except ContactError as error:
            result.problems.append(f"{source}:{line}: {error}")
            continue
        if parsed.key in seen:
            result.problems.append(
                f"{source}:{line}: key: {parsed.key!r} already given on line {seen[parsed.key]}"
            )
            continue
        seen[parsed.key] = line
        parsed_rows.append(parsed)
    existing = {
        contact.key: contact for contact in db.session.scalars(select(Contact).where(Contact.key.in_(seen)))
    }
    for parsed in parsed_rows:
        _upsert(parsed, existing.get(parsed.key), result)
    return result


def _upsert(row: ContactRow, contact: Contact | None, result: ImportResult) -> None:
    values = {
        "name": row.name,
        "phone": row.phone,
        "email": row.email,
        "local_authority": row.local_authority,
        "active": True,
    }
    if contact is None:
        db.session.add(Contact(key=row.key, **values))
        result.created += 1
    elif any(getattr(contact, name) != value for name, value in values.items()):
        for name, value in values.items():
            setattr(contact, name, value)
        result.updated += 1
    else:
        result.unchanged += 1


def active_role_keys() -> set[str]:
    return set(db.session.scalars(select(Contact.key).where(Contact.active.is_(True))))
