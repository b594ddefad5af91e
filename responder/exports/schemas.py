"""The JSON export's shape, as versioned marshmallow schemas.

SCHEMA_VERSION is in every document. Adding a field is a minor version
(1.0 -> 1.1: readers ignore what they do not know); renaming, removing or
changing the meaning of a field is a major one (2.0). Loading a document
with ``ExportDocumentSchema().load(...)`` checks it against this version.

In a redacted document people appear as roles or pseudonyms, addresses are
null, free text reads "[withheld]", the youngest age is a band ("under 18",
"18-24", "25+") and agencies and offers added by hand are numbered
("adhoc-1") rather than named; the shape is the same.

2.0: ``youngest_age`` became a band in redacted documents (1.0 gave the
exact age there too); timeline events carry no structured ``data`` when
redacted, as before.

2.1: each message has ``call_outcome`` (phone calls; null for texts and emails).
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

SCHEMA_VERSION = "2.1"


class IncidentSchema(Schema):
    reference = fields.Str(required=True)
    local_authority = fields.Str(required=True)
    local_authorities = fields.List(fields.Str(), required=True)
    type = fields.Str(required=True)
    status = fields.Str(required=True)
    exercise = fields.Bool(required=True)
    occurred_at = fields.DateTime(required=True)
    opened_at = fields.DateTime(required=True)
    opened_by = fields.Str(allow_none=True)
    location = fields.Str(required=True)
    summary = fields.Str(required=True)
    # Years (full), or a band such as "under 18" (redacted).
    youngest_age = fields.Raw(allow_none=True)
    school_link = fields.Bool(required=True)
    tension = fields.Str(required=True)


class PlaybookSchema(Schema):
    hash = fields.Str(required=True)
    snapshot = fields.Dict(required=True)


class ActivationSchema(Schema):
    agency_key = fields.Str(required=True)
    agency_name = fields.Str(required=True)
    source = fields.Str(required=True)
    state = fields.Str(required=True)
    escalation_level = fields.Int(required=True)
    lead_role = fields.Str(required=True)
    lead = fields.Str(allow_none=True)
    deputy_role = fields.Str(allow_none=True)
    deputy = fields.Str(allow_none=True)
    activated_at = fields.DateTime(required=True)
    acknowledged_at = fields.DateTime(allow_none=True)
    acknowledged_by = fields.Str(allow_none=True)


class ResponseSchema(Schema):
    agency_key = fields.Str(required=True)
    contact = fields.Str(required=True)
    role = fields.Str(allow_none=True)
    kind = fields.Str(required=True)
    channel = fields.Str(required=True)
    note = fields.Str(required=True)
    at = fields.DateTime(required=True)


class OfferSchema(Schema):
    offer_key = fields.Str(required=True)
    name = fields.Str(required=True)
    provider_agency_key = fields.Str(required=True)
    state = fields.Str(required=True)
    updated_at = fields.DateTime(required=True)


class MessageSchema(Schema):
    id = fields.Int(required=True)
    agency_key = fields.Str(allow_none=True)
    kind = fields.Str(required=True)
    channel = fields.Str(required=True)
    recipient = fields.Str(required=True)
    address = fields.Str(allow_none=True)
    state = fields.Str(required=True)
    attempts = fields.Int(required=True)
    provider_status = fields.Str(allow_none=True)
    # A phone call only: acknowledged, declined, no_key, no_answer, busy, voicemail or failed.
    call_outcome = fields.Str(allow_none=True)
    last_error = fields.Str(allow_none=True)
    created_at = fields.DateTime(required=True)
    sent_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    failed_at = fields.DateTime(allow_none=True)


class TimedActionSchema(Schema):
    id = fields.Int(required=True)
    kind = fields.Str(required=True)
    agency_key = fields.Str(allow_none=True)
    due_at = fields.DateTime(required=True)
    state = fields.Str(required=True)
    fired_at = fields.DateTime(allow_none=True)
    lateness_seconds = fields.Float(allow_none=True)
    outcome = fields.Str(allow_none=True)
    details = fields.Dict(required=True)


class CheckInSchema(Schema):
    id = fields.Int(required=True)
    agency_key = fields.Str(required=True)
    contact = fields.Str(required=True)
    step = fields.Str(required=True)
    requested_at = fields.DateTime(required=True)
    reminded_at = fields.DateTime(allow_none=True)
    missed_at = fields.DateTime(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)
    status_update = fields.Str(allow_none=True)
    tension = fields.Str(allow_none=True)
    needs = fields.Str(allow_none=True)
    offer_updates = fields.Dict(allow_none=True)


class TensionReadingSchema(Schema):
    at = fields.DateTime(required=True)
    level = fields.Str(required=True)
    agency_key = fields.Str(allow_none=True)


class ReviewNoteSchema(Schema):
    kind = fields.Str(required=True)
    text = fields.Str(required=True)
    created_by = fields.Str(allow_none=True)
    created_at = fields.DateTime(required=True)


class ReviewActionSchema(Schema):
    action = fields.Str(required=True)
    owner = fields.Str(required=True)
    due_on = fields.Date(required=True)
    rag = fields.Str(required=True, validate=validate.OneOf(["red", "amber", "green"]))
    updated_at = fields.DateTime(required=True)


class ReviewSchema(Schema):
    notes = fields.List(fields.Nested(ReviewNoteSchema), required=True)
    actions = fields.List(fields.Nested(ReviewActionSchema), required=True)


class MetricsSchema(Schema):
    """The headline figures, as in the regional roll-up (responder.reviews.metrics.key_figures)."""

    minutes_to_first_alert = fields.Float(allow_none=True)
    agencies_alerted = fields.Int(required=True)
    agencies_acknowledged = fields.Int(required=True)
    median_minutes_to_acknowledge = fields.Float(allow_none=True)
    slowest_minutes_to_acknowledge = fields.Float(allow_none=True)
    acknowledged_within_target = fields.Int(required=True)
    share_acknowledged_within_target = fields.Float(allow_none=True)
    escalations = fields.Int(required=True)
    messages_failed = fields.Int(required=True)
    fallbacks_used = fields.Int(required=True)
    check_ins_sent = fields.Int(required=True)
    check_ins_answered = fields.Int(required=True)
    check_ins_missed = fields.Int(required=True)
    offers_offered = fields.Int(required=True)
    offers_accepted = fields.Int(required=True)
    offers_delivered = fields.Int(required=True)
    peak_tension = fields.Str(allow_none=True)


class TimelineEventSchema(Schema):
    id = fields.Int(required=True)
    at = fields.DateTime(required=True)
    actor = fields.Str(required=True)
    agency_key = fields.Str(allow_none=True)
    channel = fields.Str(allow_none=True)
    kind = fields.Str(required=True)
    detail = fields.Str(required=True)
    # Structured extras (message ids, levels); left out of redacted documents.
    data = fields.Dict(allow_none=True)


class ExportDocumentSchema(Schema):
    schema_version = fields.Str(required=True, validate=validate.Equal(SCHEMA_VERSION))
    exported_at = fields.DateTime(required=True)
    variant = fields.Str(required=True, validate=validate.OneOf(["full", "redacted"]))
    incident = fields.Nested(IncidentSchema, required=True)
    playbook = fields.Nested(PlaybookSchema, required=True)
    metrics = fields.Nested(MetricsSchema, required=True)
    activations = fields.List(fields.Nested(ActivationSchema), required=True)
    responses = fields.List(fields.Nested(ResponseSchema), required=True)
    offers = fields.List(fields.Nested(OfferSchema), required=True)
    messages = fields.List(fields.Nested(MessageSchema), required=True)
    timed_actions = fields.List(fields.Nested(TimedActionSchema), required=True)
    check_ins = fields.List(fields.Nested(CheckInSchema), required=True)
    tension_readings = fields.List(fields.Nested(TensionReadingSchema), required=True)
    review = fields.Nested(ReviewSchema, required=True)
    timeline = fields.List(fields.Nested(TimelineEventSchema), required=True)
