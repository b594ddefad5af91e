"""Marshmallow schemas for the JSON API (design section 5)."""

from __future__ import annotations

from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from responder.clock import now_utc
from responder.incidents.opening import IncidentReport
from responder.models import IncidentType, Tension
from responder.playbooks.registry import current_playbooks
from responder.web.incident_forms import FUTURE_TOLERANCE, OLDEST_OCCURRENCE


class StrictBoolean(fields.Boolean):
    """JSON ``true`` or ``false`` only: 0, 1, "yes" or "on" are refused rather than guessed at."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def storable_text(value: str) -> None:
    """Text a database can hold: no NUL character, and no half of a UTF-16 pair.

    JSON may spell both (``\\u0000``, a lone ``\\ud800``); PostgreSQL refuses
    NUL and neither database can encode a lone surrogate.
    """
    if "\x00" in value:
        raise ValidationError("Must not contain the NUL character (\\u0000).")
    if any("\ud800" <= character <= "\udfff" for character in value):
        raise ValidationError("Must be valid Unicode text (a lone \\ud800-\\udfff escape is not).")


class IncidentInputSchema(Schema):
    """``POST /api/v1/incidents``. Unknown fields are refused so typos are not silently lost."""

    class Meta:
        unknown = RAISE

    local_authority = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf([t.value for t in IncidentType]))
    occurred_at = fields.AwareDateTime(required=True)
    location = fields.String(required=True, validate=[validate.Length(min=1, max=200), storable_text])
    summary = fields.String(load_default="", validate=[validate.Length(max=5000), storable_text])
    youngest_age = fields.Integer(
        strict=True, allow_none=True, load_default=None, validate=validate.Range(min=0, max=120)
    )
    school_link = StrictBoolean(load_default=False)
    tension = fields.String(required=True, validate=validate.OneOf([t.value for t in Tension]))
    exercise = StrictBoolean(load_default=False)

    @validates("local_authority")
    def _has_playbook(self, value: str, **kwargs) -> None:
        known = current_playbooks().playbooks
        if value not in known:
            raise ValidationError(f"Must be one of: {', '.join(sorted(known))}.")

    @validates("location")
    def _not_blank(self, value: str, **kwargs) -> None:
        if not value.strip():
            raise ValidationError("Must not be blank.")

    @validates_schema
    def _in_the_last_year(self, data, **kwargs) -> None:
        if "occurred_at" not in data:
            return
        if data["occurred_at"] > now_utc() + FUTURE_TOLERANCE:
            raise ValidationError("Must not be in the future.", "occurred_at")
        if data["occurred_at"] < now_utc() - OLDEST_OCCURRENCE:
            raise ValidationError("Must be in the last year.", "occurred_at")

    @post_load
    def _to_report(self, data, **kwargs) -> IncidentReport:
        data["location"] = data["location"].strip()
        return IncidentReport(**data)


class CloseInputSchema(Schema):
    """``POST /api/v1/incidents/<ref>/close``: why the response is over."""

    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=[validate.Length(min=1, max=1000), storable_text])

    @validates("reason")
    def _not_blank(self, value: str, **kwargs) -> None:
        if not value.strip():
            raise ValidationError("Must not be blank.")


class ActivationSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    agency_key = fields.String()
    agency_name = fields.String()
    source = fields.String()
    state = fields.String()
    lead_role = fields.String()
    activated_at = fields.AwareDateTime()
    acknowledged_at = fields.AwareDateTime(allow_none=True)


class OfferSchema(Schema):
    offer_key = fields.String()
    name = fields.String()
    provider_agency_key = fields.String()
    state = fields.String()


class TimelineEventSchema(Schema):
    """A timeline entry (responder.incidents.view.TimelineEntry) as the API gives it: in full, in words."""

    id = fields.Integer()
    at = fields.AwareDateTime()
    actor = fields.String(attribute="who")
    kind = fields.String()
    channel = fields.String(allow_none=True)
    agency_key = fields.String(allow_none=True)
    detail = fields.String(attribute="sentence")


class IncidentDetailSchema(Schema):
    reference = fields.String()
    local_authority = fields.String()
    type = fields.String()
    status = fields.String()
    occurred_at = fields.AwareDateTime()
    opened_at = fields.AwareDateTime()
    location = fields.String()
    summary = fields.String()
    youngest_age = fields.Integer(allow_none=True)
    school_link = fields.Boolean()
    tension = fields.String()
    exercise = fields.Boolean()
    playbook_hash = fields.String()
    activations = fields.List(fields.Nested(ActivationSchema))
    support_offers = fields.List(fields.Nested(OfferSchema), attribute="offers")
    # Written for the reader when asked for (responder.web.api.incident_body), oldest first.
    timeline = fields.List(fields.Nested(TimelineEventSchema))
