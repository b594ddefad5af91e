"""Opening an incident: the service that turns a report into a coordinated response."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select

from responder import timeline
from responder.clock import now_utc
from responder.extensions import db
from responder.incidents.access import require_may_open_in
from responder.incidents.references import next_reference
from responder.models import (
    EventKind,
    Incident,
    IncidentArea,
    IncidentStatus,
    User,
)
from responder.playbooks import IncidentFacts, plan_response, snapshot
from responder.playbooks.registry import current_playbooks
from responder.responses.activations import activate_agencies, offer_support
from responder.scheduling import schedule_response
from responder.timeline import Actor


@dataclass(frozen=True)
class IncidentReport:
    """What an officer reports; validated by the form or API schema before it gets here."""

    local_authority: str
    type: str
    occurred_at: datetime
    location: str
    summary: str = ""
    youngest_age: int | None = None
    school_link: bool = False
    tension: str = "medium"
    exercise: bool = False

    def digest(self) -> str:
        """A fingerprint of what was reported, to tell a repeated submission from a different one."""
        canonical = json.dumps(
            {**asdict(self), "occurred_at": self.occurred_at.isoformat()}, sort_keys=True, default=str
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def facts(self) -> IncidentFacts:
        return IncidentFacts(
            type=self.type,
            school_link=self.school_link,
            youngest_age=self.youngest_age,
            tension=self.tension,
        )


class SubmissionConflict(ValueError):
    """The same submission key, from the same person, with different details."""

    def __init__(self, incident: Incident) -> None:
        super().__init__(
            f"This key already opened {incident.reference} with different details: "
            "send a new key for a new incident"
        )
        self.incident = incident


def open_incident(
    report: IncidentReport, opened_by: User | None, submission_key: str | None = None
) -> Incident:
    """Open an incident and activate its playbook, in the caller's unit of work.

    Writes the incident, its areas, activations, support offers, outbox
    messages, timed actions and timeline events; the boundary commits them
    together, so any failure leaves nothing behind. Refuses (OutsideYourAreas)
    a local authority the person is not limited to. The same ``submission_key``
    twice from the same person (a double-submitted form, a retried API call)
    returns the incident the first one opened; with different details it is
    refused (SubmissionConflict); from someone else it is a new request. Two
    openings racing on the same key, or drawing the same reply code, meet a
    unique constraint at the flush; the boundary runs the request again (see
    responder.unit_of_work.retried_on_conflict).
    """
    require_may_open_in(opened_by, report.local_authority)
    digest = report.digest()
    if submission_key and (existing := _by_submission_key(opened_by, submission_key)) is not None:
        if existing.submission_digest not in (None, digest):
            raise SubmissionConflict(existing)
        return existing
    # One flush at the end: nothing in between needs the new rows in the database, so the
    # incident stays pending (its collections start empty, with no lazy loads) and every table
    # is written in one batch.
    with db.session.no_autoflush:
        playbooks = current_playbooks()
        plan = plan_response(playbooks, report.local_authority, report.facts)
        frozen, playbook_digest = snapshot(playbooks, report.local_authority)
        actor = Actor.of(opened_by)
        incident = Incident(
            reference=next_reference(report.local_authority, plan.playbook.code),
            local_authority=report.local_authority,
            type=report.type,
            occurred_at=report.occurred_at,
            location=report.location,
            summary=report.summary,
            youngest_age=report.youngest_age,
            school_link=report.school_link,
            tension=report.tension,
            exercise=report.exercise,
            status=IncidentStatus.OPEN,
            opened_by=opened_by,
            opened_at=now_utc(),
            playbook_snapshot=frozen,
            playbook_hash=playbook_digest,
            submission_key=submission_key,
            submission_digest=digest if submission_key else None,
            areas=[IncidentArea(local_authority=report.local_authority, position=0)],
        )
        db.session.add(incident)
        timeline.record(
            incident,
            EventKind.OPENED,
            by=actor,
            exercise=report.exercise,
            type=report.type,
            local_authority=report.local_authority,
            agencies=len(plan.agencies),
            offers=len(plan.offers),
            playbook=playbook_digest[:12],
        )
        activate_agencies(incident, plan.agencies, actor)
        for offer in plan.offers:
            offer_support(incident, offer, actor)
        schedule_response(incident, plan)
    db.session.flush()
    return incident


def _by_submission_key(opened_by: User | None, key: str) -> Incident | None:
    """The incident this person opened with ``key`` (a key is its sender's own)."""
    opener = (
        Incident.opened_by_id == opened_by.id if opened_by is not None else Incident.opened_by_id.is_(None)
    )
    return db.session.scalar(select(Incident).where(opener, Incident.submission_key == key))
