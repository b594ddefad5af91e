"""The sharing record: every share of incident information, written in the transaction that makes it.

UK partnerships must be able to show what was shared, with whom, when, why
and on what lawful basis (domain: "Information sharing"). Alerts, check-in
requests and stand-down notices take the basis the agency's playbook declares,
from the incident's frozen playbook snapshot (an agency added by hand keeps the
basis chosen for it there too); exports take the basis a manager states or
the configured EXPORT_SHARING_BASIS. A share without a basis is refused:
:class:`SharingRefused` rolls back the caller's transaction, so nothing is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC

from sqlalchemy import select

from responder.batched_rows import add_row
from responder.clock import local_zone, now_utc
from responder.extensions import db
from responder.models import Activation, Contact, Incident
from responder.models.sharing import SharingRecord
from responder.playbooks.schema import SHARING_BASES
from responder.timeline.actors import Actor

# What each kind of share carries. Messages carry no personal data (design section 7).
ALERT = "alert: reference, type, time, link"
CHECK_IN_REQUEST = "check-in request: reference, type, step, link"
CHECK_IN_REMINDER = "check-in reminder: reference, type, step, link"
STAND_DOWN = "stand-down notice: reference, type"
PHONE_CALL = "alert by phone call: local authority, reference, type"
SMS_AND_EMAIL = "sms and email"
PHONE = "phone call"
DOWNLOAD = "download"


class SharingRefused(ValueError):
    """A share with no lawful basis (or an unknown one): nothing may be sent."""


def record_share(
    incident: Incident,
    *,
    category: str,
    recipient: str,
    channel: str,
    basis: str | None,
    shared_by: Actor,
    purpose: str = "",
    agency_key: str | None = None,
    agency_name: str | None = None,
) -> None:
    """Add a sharing record to the caller's transaction; refuse a share without a known basis."""
    if not basis or basis not in SHARING_BASES:
        whom = agency_name or recipient
        raise SharingRefused(
            f"{incident.reference}: no lawful basis for sharing with {whom}"
            + (f" ({basis!r} is not a known basis)" if basis else "")
            + "; nothing was sent."
        )
    add_row(
        SharingRecord,
        incident=incident,
        at=now_utc(),
        category=category,
        agency_key=agency_key,
        agency_name=agency_name,
        recipient=recipient,
        channel=channel,
        lawful_basis=basis,
        purpose=purpose.strip()[:300],
        shared_by=shared_by.sharing_name,
    )


def record_message_share(
    activation: Activation,
    contact: Contact,
    category: str,
    *,
    shared_by: Actor,
    purpose: str,
    channel: str = SMS_AND_EMAIL,
) -> None:
    """A message to an agency's contact, on the basis the agency's playbook declares."""
    record_share(
        activation.incident,
        category=category,
        recipient=contact.key,
        channel=channel,
        basis=basis_for_agency(activation.incident, activation.agency_key, activation.source),
        shared_by=shared_by,
        purpose=purpose,
        agency_key=activation.agency_key,
        agency_name=activation.agency_name,
    )


def basis_for_agency(incident: Incident, agency_key: str, source: str) -> str | None:
    """The sharing basis the incident's frozen playbooks give the agency, or None."""
    return incident.frozen_playbooks.sharing_basis(agency_key, source)


def sharing_records(incident_id: int) -> list[SharingRecord]:
    """Every share for the incident, oldest first."""
    return list(
        db.session.scalars(
            select(SharingRecord)
            .where(SharingRecord.incident_id == incident_id)
            .order_by(SharingRecord.at, SharingRecord.id)
        )
    )


def basis_name(basis: str) -> str:
    return SHARING_BASES.get(basis, basis)


CSV_HEADER = (
    "Local time",
    "UTC",
    "What",
    "Agency",
    "Recipient",
    "Channel",
    "Lawful basis",
    "Purpose",
    "Shared by",
)


def sharing_rows(incident_id: int) -> Iterator[tuple[str, ...]]:
    """The sharing record as table rows, for the CSV download.

    Takes the incident's id: a streamed body is read after the request's
    unit of work has committed, when its rows can no longer be loaded.
    """
    zone = local_zone()
    for record in sharing_records(incident_id):
        local = record.at.astimezone(zone)
        yield (
            f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}",
            record.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            record.category,
            record.agency_name or "",
            record.recipient,
            record.channel,
            basis_name(record.lawful_basis),
            record.purpose,
            record.shared_by,
        )
