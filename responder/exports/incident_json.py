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
from responder.timeline.naming import BY_HAND, Naming
from responder.timeline.render import sentence, who

BATCH_ROWS = 1000
CHUNK_CHARS = 64 * 1024


def incident_json(incident: Incident, naming: Naming) -> Iterator[bytes]:
    """The document as UTF-8 bytes, a chunk at a time.

    Everything but the timeline is read here, before the response starts: a
    real server iterates a streamed body after the view has returned, when
    Flask has already closed the request's session and the incident's
    relationships can no longer be loaded. The timeline needs only its id.
    """
    head = ExportDocumentSchema(exclude=("timeline",)).dump(_document(incident, naming))
    return _chunks(head, incident.id, naming)


def _chunks(head: dict, incident_id: int, naming: Naming) -> Iterator[bytes]:
    text = json.dumps(head, ensure_ascii=False)
    # Reopen the finished object to append the timeline: '{..., "timeline": [e1, e2, ...]}'.
    pending = [text[:-1], ', "timeline": [']
    size = 0
    event_schema = TimelineEventSchema()
    for index, event in enumerate(_timeline(incident_id, naming)):
        piece = ("," if index else "") + json.dumps(event_schema.dump(event), ensure_ascii=False)
        pending.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            yield "".join(pending).encode("utf-8")
            pending, size = [], 0
    pending.append("]}")
    yield "".join(pending).encode("utf-8")


def _document(incident: Incident, naming: Naming) -> dict:
    review = review_for(incident)
    return {
        "schema_version": SCHEMA_VERSION,
        "exported_at": now_utc(),
        "variant": naming.variant,
        "incident": _incident(incident, naming),
        "playbook": {
            "hash": incident.playbook_hash,
            "snapshot": naming.snapshot(incident.playbook_snapshot or {}),
        },
        "metrics": key_figures(response_metrics(incident)),
        "activations": [_activation(activation, naming) for activation in incident.activations],
        "responses": [_response(row, naming) for row in _rows(AgencyResponse, incident)],
        "offers": [_offer(offer, naming) for offer in incident.offers],
        "messages": [_message(message, naming) for message in _rows(Message, incident)],
        "timed_actions": [_timed_action(action, naming) for action in _rows(TimedAction, incident)],
        "check_ins": [_check_in(check_in, naming) for check_in in _rows(CheckIn, incident)],
        "tension_readings": [
            {"at": reading.at, "level": reading.level, "agency_key": naming.key(reading.agency_key)}
            for reading in _rows(TensionReading, incident)
        ],
        "review": {
            "notes": [
                {
                    "kind": note.kind,
                    "text": naming.own_words(note.text),
                    "created_by": naming.user(note.created_by) or None,
                    "created_at": note.created_at,
                }
                for note in review.notes
            ],
            "actions": [
                {
                    "action": naming.own_words(action.action),
                    "owner": naming.own_words(action.owner),
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


def _incident(incident: Incident, naming: Naming) -> dict:
    return {
        "reference": incident.reference,
        "local_authority": incident.local_authority,
        "local_authorities": incident.local_authorities,
        "type": incident.type,
        "status": incident.status,
        "exercise": incident.exercise,
        "occurred_at": incident.occurred_at,
        "opened_at": incident.opened_at,
        "opened_by": naming.user(incident.opened_by) or None,
        "location": naming.own_words(incident.location),
        "summary": naming.own_words(incident.summary),
        "youngest_age": naming.age(incident.youngest_age),
        "school_link": incident.school_link,
        "tension": incident.tension,
    }


def _activation(activation, naming: Naming) -> dict:
    return {
        "agency_key": naming.key(activation.agency_key),
        "agency_name": naming.agency(activation.agency_key),
        "source": activation.source,
        "state": activation.state,
        "escalation_level": activation.escalation_level,
        "lead_role": activation.lead_role,
        "lead": naming.contact(activation.lead_contact) or None,
        "deputy_role": activation.deputy_role,
        "deputy": naming.contact(activation.deputy_contact) or None,
        "activated_at": activation.activated_at,
        "acknowledged_at": activation.acknowledged_at,
        "acknowledged_by": naming.contact(activation.acknowledged_by) or None,
    }


def _response(response: AgencyResponse, naming: Naming) -> dict:
    return {
        "agency_key": naming.key(response.activation.agency_key),
        "contact": naming.contact(response.contact),
        "role": naming.role_of(response.contact) or None,
        "kind": response.kind,
        "channel": response.channel,
        "note": naming.own_words(response.note),
        "at": response.at,
    }


def _offer(offer: OfferActivation, naming: Naming) -> dict:
    return {
        "offer_key": naming.key(offer.offer_key),
        "name": naming.offer(offer.name, offer.offer_key.startswith(BY_HAND)),
        "provider_agency_key": naming.key(offer.provider_agency_key),
        "state": offer.state,
        "updated_at": offer.updated_at,
    }


def _message(message: Message, naming: Naming) -> dict:
    recipient = naming.contact(message.contact) if message.contact else naming.own_words(message.recipient)
    return {
        "id": message.id,
        "agency_key": naming.key(message.activation.agency_key) if message.activation else None,
        "kind": message.kind,
        "channel": message.channel,
        "recipient": recipient,
        "address": naming.address(message.recipient),
        "state": message.state,
        "attempts": message.attempts,
        "provider_status": message.provider_status,
        "call_outcome": message.call_outcome,
        "last_error": naming.own_words(message.last_error),
        "created_at": message.created_at,
        "sent_at": message.sent_at,
        "delivered_at": message.delivered_at,
        "failed_at": message.failed_at,
    }


def _timed_action(action: TimedAction, naming: Naming) -> dict:
    agency_key = action.activation.agency_key if action.activation else None
    return {
        "id": action.id,
        "kind": action.kind,
        "agency_key": naming.key(agency_key),
        "due_at": action.due_at,
        "state": action.state,
        "fired_at": action.fired_at,
        "lateness_seconds": action.lateness_seconds,
        "outcome": naming.outcome(action.outcome, agency_key),
        "details": action.details or {},
    }


def _check_in(check_in: CheckIn, naming: Naming) -> dict:
    return {
        "id": check_in.id,
        "agency_key": naming.key(check_in.activation.agency_key),
        "contact": naming.contact(check_in.contact),
        "step": check_in.step,
        "requested_at": check_in.requested_at,
        "reminded_at": check_in.reminded_at,
        "missed_at": check_in.missed_at,
        "responded_at": check_in.responded_at,
        "status_update": naming.own_words(check_in.status_update),
        "tension": check_in.tension,
        "needs": naming.own_words(check_in.needs),
        "offer_updates": naming.offer_updates(check_in.offer_updates),
    }


def _timeline(incident_id: int, naming: Naming) -> Iterator[dict]:
    query = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(TimelineEvent.at, TimelineEvent.id)
        .execution_options(yield_per=BATCH_ROWS)
    )
    for event in db.session.scalars(query):
        yield {
            "id": event.id,
            "at": event.at,
            "actor": who(event, naming),
            "agency_key": naming.key(event.agency_key),
            "channel": event.channel,
            "kind": event.kind,
            "detail": sentence(event, naming),
            "data": None if naming.redacted else event.data,
        }
