"""Opening an incident: the service that turns a report into a coordinated response."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from responder import timeline
from responder.clock import now_utc
from responder.extensions import db
from responder.incidents.references import next_reference
from responder.models import (
    EventKind,
    Incident,
    IncidentStatus,
    User,
)
from responder.playbooks import IncidentFacts, plan_response, snapshot
from responder.playbooks.registry import current_playbooks
from responder.responses.activations import activate_agencies, offer_support
from responder.scheduling import schedule_response


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

    @property
    def facts(self) -> IncidentFacts:
        return IncidentFacts(
            type=self.type,
            school_link=self.school_link,
            youngest_age=self.youngest_age,
            tension=self.tension,
        )


def open_incident(
    report: IncidentReport, opened_by: User | None, submission_key: str | None = None
) -> Incident:
    """Open an incident and activate its playbook, in the caller's unit of work.

    Writes the incident, activations, support offers, outbox messages, timed
    actions and timeline events; the boundary commits them together, so any
    failure leaves nothing behind. The same ``submission_key`` twice (a
    double-submitted form, a retried API call) returns the incident the first
    one opened. Two openings racing on the same key, or drawing the same reply
    code, meet a unique constraint at the flush; the boundary runs the request
    again (see responder.unit_of_work.retried_on_conflict).
    """
    if submission_key and (existing := _by_submission_key(submission_key)) is not None:
        return existing
    playbooks = current_playbooks()
    plan = plan_response(playbooks, report.local_authority, report.facts)
    frozen, digest = snapshot(playbooks, report.local_authority)
    actor = timeline.actor_for_user(opened_by)
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
        playbook_hash=digest,
        submission_key=submission_key,
    )
    db.session.add(incident)
    timeline.record(
        incident,
        EventKind.OPENED,
        f"{'Exercise incident' if report.exercise else 'Incident'} opened: "
        f"{incident.type_label.lower()} in {incident.local_authority_name}; "
        f"{len(plan.agencies)} agencies and {len(plan.offers)} support offers from playbook "
        f"{digest[:12]}",
        actor=actor,
    )
    activate_agencies(incident, plan.agencies, actor)
    for offer in plan.offers:
        offer_support(incident, offer, actor)
    schedule_response(incident, plan)
    db.session.flush()
    return incident


def _by_submission_key(key: str) -> Incident | None:
    return db.session.scalar(select(Incident).where(Incident.submission_key == key))


def get_incident(reference: str) -> Incident | None:
    return db.session.scalar(select(Incident).where(Incident.reference == reference.upper()))
