"""The whole incident as one JSON document (responder.exports.schemas), streamed.

Everything but the timeline is small and is dumped at once; the timeline,
which can run to 100,000 events, is appended event by event from a
``yield_per`` query, so memory stays flat however long it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import select

from responder.clock import now_utc
from responder.exports.redaction import Redaction
from responder.exports.schemas import SCHEMA_VERSION, ExportDocumentSchema, TimelineEventSchema
from responder.extensions import db
from responder.models import (
    Activation,
    AgencyResponse,
    CheckIn,
    Incident,
    Message,
    OfferActivation,
    TensionReading,
    TimedAction,
    TimelineEvent,
)
from responder.reviews.learning_review import review_for
from responder.reviews.metrics import key_figures, response_metrics

BATCH_ROWS = 1000
CHUNK_CHARS = 64 * 1024


def incident_json(incident: Incident, redaction: Redaction) -> Iterator[bytes]:
    """The document as UTF-8 bytes, a chunk at a time.

    Everything but the timeline is read here, before the response starts: a
    real server iterates a streamed body after the view has returned, when
    Flask has already closed the request's session and the incident's
    relationships can no longer be loaded. The timeline needs only its id.
    """
    head = ExportDocumentSchema(exclude=("timeline",)).dump(_document(incident, redaction))
    return _chunks(head, incident.id, redaction)


def _chunks(head: dict, incident_id: int, redaction: Redaction) -> Iterator[bytes]:
    text = json.dumps(head, ensure_ascii=False)
    # Reopen the finished object to append the timeline: '{..., "timeline": [e1, e2, ...]}'.
    pending = [text[:-1], ', "timeline": [']
    size = 0
    event_schema = TimelineEventSchema()
    for index, event in enumerate(_timeline(incident_id, redaction)):
        piece = ("," if index else "") + json.dumps(event_schema.dump(event), ensure_ascii=False)
        pending.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            yield "".join(pending).encode("utf-8")
            pending, size = [], 0
    pending.append("]}")
    yield "".join(pending).encode("utf-8")


def _document(incident: Incident, redaction: Redaction) -> dict:
    review = review_for(incident)
    return {
        "schema_version": SCHEMA_VERSION,
        "exported_at": now_utc(),
        "variant": redaction.variant,
        "incident": _incident(incident, redaction),
        "playbook": {"hash": incident.playbook_hash, "snapshot": incident.playbook_snapshot},
        "metrics": key_figures(response_metrics(incident)),
        "activations": [_activation(activation, redaction) for activation in incident.activations],
        "responses": [_response(row, redaction) for row in _rows(AgencyResponse, incident)],
        "offers": [_offer(offer) for offer in incident.offers],
        "messages": [_message(message, redaction) for message in _rows(Message, incident)],
        "timed_actions": [_timed_action(action, redaction) for action in _rows(TimedAction, incident)],
        "check_ins": [_check_in(check_in, redaction) for check_in in _rows(CheckIn, incident)],
        "tension_readings": [
            {"at": reading.at, "level": reading.level, "agency_key": reading.agency_key}
            for reading in _rows(TensionReading, incident)
        ],
        "review": {
            "notes": [
                {
                    "kind": note.kind,
                    "text": redaction.scrub(note.text),
                    "created_by": redaction.user(note.created_by) or None,
                    "created_at": note.created_at,
                }
                for note in review.notes
            ],
            "actions": [
                {
                    "action": redaction.scrub(action.action),
                    "owner": redaction.scrub(action.owner),
                    "due_on": action.due_on,
                    "rag": action.rag,
                    "updated_at": action.updated_at,
                }
                for action in review.actions
            ],
        },
    }


def _rows(model, incident: Incident) -> list:
    if model is AgencyResponse:
        query = (
            select(AgencyResponse)
            .join(Activation, AgencyResponse.activation_id == Activation.id)
            .where(Activation.incident_id == incident.id)
            .order_by(AgencyResponse.at, AgencyResponse.id)
        )
    else:
        query = select(model).where(model.incident_id == incident.id).order_by(model.id)
    return list(db.session.scalars(query))


def _incident(incident: Incident, redaction: Redaction) -> dict:
    return {
        "reference": incident.reference,
        "local_authority": incident.local_authority,
        "local_authorities": incident.local_authorities,
        "type": incident.type,
        "status": incident.status,
        "exercise": incident.exercise,
        "occurred_at": incident.occurred_at,
        "opened_at": incident.opened_at,
        "opened_by": redaction.user(incident.opened_by) or None,
        "location": redaction.free_text(incident.location),
        "summary": redaction.free_text(incident.summary),
        "youngest_age": incident.youngest_age,
        "school_link": incident.school_link,
        "tension": incident.tension,
    }


def _activation(activation, redaction: Redaction) -> dict:
    return {
        "agency_key": activation.agency_key,
        "agency_name": activation.agency_name,
        "source": activation.source,
        "state": activation.state,
        "escalation_level": activation.escalation_level,
        "lead_role": activation.lead_role,
        "lead": redaction.contact(activation.lead_contact) or None,
        "deputy_role": activation.deputy_role,
        "deputy": redaction.contact(activation.deputy_contact) or None,
        "activated_at": activation.activated_at,
        "acknowledged_at": activation.acknowledged_at,
        "acknowledged_by": redaction.contact(activation.acknowledged_by) or None,
    }


def _response(response: AgencyResponse, redaction: Redaction) -> dict:
    return {
        "agency_key": response.activation.agency_key,
        "contact": redaction.contact(response.contact),
        "role": redaction.role_of(response.contact) or None,
        "kind": response.kind,
        "channel": response.channel,
        "note": redaction.free_text(response.note),
        "at": response.at,
    }


def _offer(offer: OfferActivation) -> dict:
    return {
        "offer_key": offer.offer_key,
        "name": offer.name,
        "provider_agency_key": offer.provider_agency_key,
        "state": offer.state,
        "updated_at": offer.updated_at,
    }


def _message(message: Message, redaction: Redaction) -> dict:
    recipient = redaction.contact(message.contact) if message.contact else redaction.scrub(message.recipient)
    return {
        "id": message.id,
        "agency_key": message.activation.agency_key if message.activation else None,
        "kind": message.kind,
        "channel": message.channel,
        "recipient": recipient,
        "address": redaction.address(message.recipient),
        "state": message.state,
        "attempts": message.attempts,
        "provider_status": message.provider_status,
        "last_error": redaction.scrub(message.last_error),
        "created_at": message.created_at,
        "sent_at": message.sent_at,
        "delivered_at": message.delivered_at,
        "failed_at": message.failed_at,
    }


def _timed_action(action: TimedAction, redaction: Redaction) -> dict:
    return {
        "id": action.id,
        "kind": action.kind,
        "agency_key": action.activation.agency_key if action.activation else None,
        "due_at": action.due_at,
        "state": action.state,
        "fired_at": action.fired_at,
        "lateness_seconds": action.lateness_seconds,
        "outcome": redaction.scrub(action.outcome),
        "details": {
            key: redaction.scrub(value) if isinstance(value, str) else value
            for key, value in (action.details or {}).items()
        },
    }


def _check_in(check_in: CheckIn, redaction: Redaction) -> dict:
    return {
        "id": check_in.id,
        "agency_key": check_in.activation.agency_key,
        "contact": redaction.contact(check_in.contact),
        "step": check_in.step,
        "requested_at": check_in.requested_at,
        "reminded_at": check_in.reminded_at,
        "missed_at": check_in.missed_at,
        "responded_at": check_in.responded_at,
        "status_update": redaction.free_text(check_in.status_update),
        "tension": check_in.tension,
        "needs": redaction.free_text(check_in.needs),
        "offer_updates": check_in.offer_updates,
    }


def _timeline(incident_id: int, redaction: Redaction) -> Iterator[dict]:
    query = (
        select(
            TimelineEvent.id,
            TimelineEvent.at,
            TimelineEvent.actor,
            TimelineEvent.agency_key,
            TimelineEvent.channel,
            TimelineEvent.kind,
            TimelineEvent.detail,
            TimelineEvent.data,
        )
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(TimelineEvent.at, TimelineEvent.id)
        .execution_options(yield_per=BATCH_ROWS)
    )
    for event_id, at, actor, agency_key, channel, kind, detail, data in db.session.execute(query):
        yield {
            "id": event_id,
            "at": at,
            "actor": redaction.actor(actor),
            "agency_key": agency_key,
            "channel": channel,
            "kind": kind,
            "detail": redaction.event_detail(kind, detail, actor, agency_key, data),
            "data": None if redaction.redacted else data,
        }
