"""The new-incident form. Produces an IncidentReport for the service layer."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovDateInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from responder.clock import local_zone, now_utc, to_local
from responder.incidents.opening import IncidentReport
from responder.models import IncidentType, Tension

# A report may be a few minutes "ahead" if a phone clock is fast.
FUTURE_TOLERANCE = timedelta(minutes=5)
# An incident opened here happened in the last year: an older date is a slip (2016 for 2026).
OLDEST_OCCURRENCE = timedelta(days=366)


class GovDateField(DateField):
    """A GOV.UK day/month/year date that tolerates missing parts instead of failing."""

    def process(self, formdata, data=None, extra_filters=None):
        super().process(formdata, data, extra_filters)
        # The widget unpacks exactly three parts; a tampered or partial post has fewer.
        if self.raw_data is not None and len(self.raw_data) != 3:
            self.raw_data = ([*list(self.raw_data[:3]), "", "", ""])[:3]

    def process_formdata(self, valuelist):
        if valuelist:
            parts = [part.strip() for part in valuelist[:3]]
            parts += [""] * (3 - len(parts))
            self.raw_data = parts
            if not all(parts):
                self.data = None
                raise ValueError("Enter the date the incident happened, with day, month and year")
            try:
                self.data = datetime.strptime(" ".join(parts), "%d %m %Y").date()
            except ValueError:
                self.data = None
                raise ValueError("Enter a real date, for example 24 11 2026") from None


class IncidentForm(FlaskForm):
    local_authority = SelectField(
        "Local authority where it happened",
        widget=GovSelect(),
        validate_choice=False,  # validate_local_authority says it in plain words
        validators=[InputRequired(message="Select the local authority")],
    )
    type = RadioField(
        "Type of incident",
        choices=[(t.value, t.label) for t in IncidentType],
        widget=GovRadioInput(),
        validate_choice=False,
        validators=[
            InputRequired(message="Select the type of incident"),
            AnyOf([t.value for t in IncidentType], message="Select the type of incident"),
        ],
    )
    occurred_date = GovDateField(
        "Date it happened",
        widget=GovDateInput(),
        description="For example, 24 11 2026",
        validators=[InputRequired(message="Enter the date the incident happened")],
    )
    occurred_time = StringField(
        "Time it happened",
        widget=GovTextInput(),
        description="24-hour clock, local time, for example 21:40. After midnight, check the date too.",
        validators=[InputRequired(message="Enter the time the incident happened, for example 21:40")],
    )
    location = StringField(
        "Location",
        widget=GovTextInput(),
        description="Street or area. Stays in Responder: never sent by SMS or email.",
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[
            DataRequired(message="Enter where the incident happened"),
            Length(max=200, message="Location must be 200 characters or fewer"),
        ],
    )
    summary = TextAreaField(
        "What happened (optional)",
        widget=GovTextArea(),
        description="Sensitive: seen only by signed-in staff, never sent by SMS or email.",
        validators=[Optional(), Length(max=5000, message="Summary must be 5,000 characters or fewer")],
    )
    youngest_age = IntegerField(
        "Age of the youngest person involved (optional)",
        widget=GovTextInput(),
        description="Victim, suspect or witness. Leave blank if not known.",
        validators=[Optional(), NumberRange(min=0, max=120, message="Enter an age between 0 and 120")],
    )
    school_link = BooleanField(
        "A school is linked: someone involved attends a school or college", widget=GovCheckboxInput()
    )
    tension = RadioField(
        "Community tension",
        choices=[(t.value, t.label) for t in Tension],
        widget=GovRadioInput(),
        validate_choice=False,
        validators=[
            InputRequired(message="Select the level of community tension"),
            AnyOf([t.value for t in Tension], message="Select the level of community tension"),
        ],
    )
    exercise = BooleanField("This is an exercise, not a real incident", widget=GovCheckboxInput())
    # Set by the form itself; a longer one was tampered with (and would not fit its column).
    submission_key = HiddenField(validators=[Length(max=64, message="Reload this page and try again")])
    submit = SubmitField("Open incident and alert agencies", widget=GovSubmitInput())

    def __init__(self, *args, local_authorities: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.local_authority.choices = [("", "Select a local authority"), *list(local_authorities.items())]
        if not self.submission_key.data:
            self.submission_key.data = secrets.token_urlsafe(24)

    def fill_in_the_time_of_the_report(self) -> None:
        """A new form starts at the moment of the report: today's date and the time now."""
        now = to_local(now_utc())
        self.occurred_date.data = self.occurred_date.data or now.date()
        self.occurred_time.data = self.occurred_time.data or now.strftime("%H:%M")

    def validate_local_authority(self, field):
        if field.data not in dict(self.local_authority.choices) or not field.data:
            raise ValidationError("Select the local authority")

    def validate_occurred_date(self, field):
        if field.data is not None and field.data < to_local(now_utc() - OLDEST_OCCURRENCE).date():
            raise ValidationError("The date the incident happened must be in the last year")

    def validate_occurred_time(self, field):
        try:
            parsed = datetime.strptime(field.data.strip().replace(".", ":"), "%H:%M").time()
        except ValueError:
            raise ValidationError("Enter a real time on the 24-hour clock, for example 21:40") from None
        self._time = parsed
        if self.occurred_date.data is None or self.occurred_date.errors:
            return
        occurred = self.occurred_at_utc(parsed)
        if occurred is None:
            raise ValidationError("That time did not exist on that date: the clocks went forward")
        if occurred > now_utc() + FUTURE_TOLERANCE:
            today = to_local(now_utc()).date()
            if self.occurred_date.data != today:
                raise ValidationError("The time the incident happened must be in the past")
            # The night-shift trap: 21:40 typed after midnight, with today's date left as it was.
            yesterday = today - timedelta(days=1)
            self.occurred_date.data = yesterday
            self.occurred_date.raw_data = [str(yesterday.day), str(yesterday.month), str(yesterday.year)]
            raise ValidationError(
                f"The time the incident happened must be in the past: {parsed:%H:%M} today has not "
                "happened yet. Did you mean yesterday? "
                f"The date is now yesterday's, {yesterday:%A} {yesterday.day} {yesterday:%B}: "
                "check it and open the incident"
            )

    def occurred_at_utc(self, at: time | None = None) -> datetime | None:
        """The local date and time as UTC; None for a time skipped by the clock change."""
        at = at or self._time
        local = datetime.combine(self.occurred_date.data, at, tzinfo=local_zone())
        utc = local.astimezone(UTC)
        if to_local(utc).replace(tzinfo=None) != local.replace(tzinfo=None):
            return None
        return utc

    def report(self) -> IncidentReport:
        return IncidentReport(
            local_authority=self.local_authority.data,
            type=self.type.data,
            occurred_at=self.occurred_at_utc(),
            location=self.location.data.strip(),
            summary=(self.summary.data or "").strip(),
            youngest_age=self.youngest_age.data,
            school_link=bool(self.school_link.data),
            tension=self.tension.data,
            exercise=bool(self.exercise.data),
        )
