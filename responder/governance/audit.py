"""Recording who viewed or exported an incident."""

from __future__ import annotations

from sqlalchemy import select

from responder.clock import now_utc
from responder.extensions import db
from responder.models import Incident, User
from responder.models.audit import AuditEvent


def record_access(user: User, incident: Incident, action: str, detail: str = "") -> None:
    """Write an audit row and commit it (a read must be recorded even if nothing else changes)."""
    db.session.add(AuditEvent(at=now_utc(), user=user, incident=incident, action=action, detail=detail[:200]))


def access_log(incident: Incident, limit: int = 500) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.incident_id == incident.id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )
