"""Marshmallow schemas for playbook files: shape, types and allowed values."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from responder.playbooks.durations import parse_duration

LOCAL_AUTHORITY_SLUGS = (
    "birmingham",
    "coventry",
    "dudley",
    "sandwell",
    "solihull",
    "walsall",
    "wolverhampton",
)
INCIDENT_TYPES = ("stabbing", "shooting", "homicide", "serious_assault", "other")
TENSIONS = ("low", "medium", "high", "critical")
SECTORS = (
    "police",
    "fire",
    "council",
    "childrens_social_care",
    "youth_justice",
    "youth_service",
    "education",
    "health",
    "probation",
    "voluntary",
    "community",
    "vru",
)
SHARING_BASES = {
    "s115-cda-1998": "Section 115, Crime and Disorder Act 1998",
    "s16-pcsc-2022": "Section 16, Police, Crime, Sentencing and Courts Act 2022",
    "safeguarding-duty": "Statutory safeguarding duty (Children Acts 1989 and 2004)",
    "consent": "Consent",
}
# Section 16 PCSC 2022 does not cover patient or health and social care data.
S16_EXCLUDED_SECTORS = ("health", "childrens_social_care")
STEP_ACTIONS = ("alert", "check_in", "deadline")
# The rungs of every escalation ladder, as an alert step's ``call`` names them.
RUNGS = ("lead", "deputy", "duty_manager", "on_call")

ID = validate.Regexp(
    r"^[a-z0-9][a-z0-9-]{0,79}$",
    error="must be lower-case letters, digits and hyphens, e.g. bham-youth-service",
)
ROLE_KEY = fields.String(validate=ID)


class DurationField(fields.Field):
    """A duration string such as ``15m``; loads to a ``Duration``."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_duration(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class StrictBoolean(fields.Boolean):
    truthy = {True}
    falsy = {False}


class AgencySchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    sharing_basis = fields.String(required=True, validate=validate.OneOf(tuple(SHARING_BASES)))
    lead = fields.String(required=True, validate=ID)
    deputy = fields.String(validate=ID)

    @validates_schema
    def _basis_fits_sector(self, data, **kwargs):
        if data.get("sharing_basis") == "s16-pcsc-2022" and data.get("sector") in S16_EXCLUDED_SECTORS:
            raise ValidationError(
                "section 16 PCSC Act 2022 does not cover health or social care information; "
                "use another basis",
                "sharing_basis",
            )


class OfferSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    provider = fields.String(required=True, validate=ID)


class AgeRangeSchema(Schema):
    min = fields.Integer(strict=True, validate=validate.Range(min=0, max=120))
    max = fields.Integer(strict=True, validate=validate.Range(min=0, max=120))

    @validates_schema
    def _ordered(self, data, **kwargs):
        if "min" in data and "max" in data and data["min"] > data["max"]:
            raise ValidationError("min must not be more than max", "min")
        if not data:
            raise ValidationError("give min, max or both", "max")


class WhenSchema(Schema):
    type = fields.List(
        fields.String(validate=validate.OneOf(INCIDENT_TYPES)), validate=validate.Length(min=1)
    )
    school_link = StrictBoolean()
    youngest_age = fields.Nested(AgeRangeSchema)
    tension = fields.List(fields.String(validate=validate.OneOf(TENSIONS)), validate=validate.Length(min=1))


class RuleSchema(Schema):
    when = fields.Nested(WhenSchema, required=True)
    agencies = fields.List(fields.String(validate=ID), load_default=list)
    offers = fields.List(fields.String(validate=ID), load_default=list)

    @validates_schema
    def _does_something(self, data, **kwargs):
        if not data.get("agencies") and not data.get("offers"):
            raise ValidationError("a rule must activate at least one agency or offer", "agencies")


class StepSchema(Schema):
    at = DurationField(required=True)
    do = fields.String(required=True, validate=validate.OneOf(STEP_ACTIONS))
    ack_within = DurationField()
    escalate_every = DurationField()
    # Rungs that are phoned as well as texted when the alert reaches them.
    call = fields.List(
        fields.String(validate=validate.OneOf(RUNGS, error="must be one of: " + ", ".join(RUNGS)))
    )
    name = fields.String(validate=validate.Length(min=1, max=200))
    notify = fields.String(validate=ID)
    remind_before = DurationField()

    @validates_schema
    def _fits_action(self, data, **kwargs):
        action = data.get("do")
        allowed = {
            "alert": {"ack_within", "escalate_every", "call"},
            "check_in": set(),
            "deadline": {"name", "notify", "remind_before"},
        }.get(action, set())
        for key in ("ack_within", "escalate_every", "call", "name", "notify", "remind_before"):
            if key in data and key not in allowed:
                raise ValidationError(f"not used by a {action} step", key)
        if action == "alert" and "ack_within" not in data:
            raise ValidationError("an alert step needs ack_within, e.g. 15m", "ack_within")
        if action == "deadline":
            for key in ("name", "notify"):
                if key not in data:
                    raise ValidationError(f"a deadline step needs {key}", key)
        for key in ("ack_within", "escalate_every"):
            if key in data and data[key].is_working_days:
                raise ValidationError("use minutes or hours, not working days", key)
        for index, rung in enumerate(data.get("call", [])):
            if rung in data["call"][:index]:
                raise ValidationError({"call": {index: [f"{rung} is listed twice"]}})


class _PlaybookBase(Schema):
    agencies = fields.Dict(
        keys=fields.String(validate=ID), values=fields.Nested(AgencySchema), load_default=dict
    )
    support_offers = fields.Dict(
        keys=fields.String(validate=ID), values=fields.Nested(OfferSchema), load_default=dict
    )


class LocalPlaybookSchema(_PlaybookBase):
    local_authority = fields.String(required=True, validate=validate.OneOf(LOCAL_AUTHORITY_SLUGS))
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    code = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Z]{3}$", error="must be three capital letters, e.g. BHM"),
    )
    duty_manager = fields.String(required=True, validate=ID)
    activation = fields.List(fields.Nested(RuleSchema), required=True)
    steps = fields.List(fields.Nested(StepSchema), required=True, validate=validate.Length(min=1))


class RegionalSchema(_PlaybookBase):
    region = fields.String(required=True, validate=ID)
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    on_call = fields.String(required=True, validate=ID)
