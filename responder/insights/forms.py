"""The insights page's filters: a date range, a local authority, and whether to count exercises.

A GET form (the figures are a read; a filtered page can be bookmarked and
shared), so no CSRF token. Bad input is a form error on the page, never a 500.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput, GovDateInput, GovSelect, GovSubmitInput
from wtforms import BooleanField, DateField, SelectField, SubmitField
from wtforms.validators import InputRequired, ValidationError

from responder.insights.figures import MONTH_LIMIT, Filters
from responder.models import LOCAL_AUTHORITIES

# Years a response could have happened in (and far from the calendar's ends).
FIRST_YEAR, LAST_YEAR = 2000, 2100


class RangeDateField(DateField):
    """A GOV.UK day/month/year date; a missing or impossible part is a plain-words error."""

    def __init__(self, label: str, *, what: str, **kwargs) -> None:
        super().__init__(label, widget=GovDateInput(), **kwargs)
        self.what = what

    def process(self, formdata, data=None, extra_filters=None):
        super().process(formdata, data, extra_filters)
        # The widget unpacks exactly three parts; a tampered address may send fewer or more.
        if self.raw_data is not None and len(self.raw_data) != 3:
            self.raw_data = [*list(self.raw_data[:3]), "", "", ""][:3]

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        parts = [part.strip() for part in valuelist[:3]]
        parts += [""] * (3 - len(parts))
        self.raw_data = parts
        self.data = None
        if not all(parts):
            raise ValueError(f"Enter the {self.what} date, with day, month and year")
        try:
            found = datetime.strptime(" ".join(parts), "%d %m %Y").date()
        except ValueError:
            raise ValueError(f"Enter a real {self.what} date, for example 1 11 2026") from None
        if not FIRST_YEAR <= found.year <= LAST_YEAR:
            raise ValueError(f"Enter a {self.what} date with a year from {FIRST_YEAR} to {LAST_YEAR}")
        self.data = found


class InsightsForm(FlaskForm):
    class Meta:
        csrf = False  # a GET that changes nothing

    first = RangeDateField(
        "From",
        what="start",
        description="Incidents opened on or after this date, for example 1 1 2026",
        validators=[InputRequired(message="Enter the start date")],
    )
    last = RangeDateField(
        "To",
        what="end",
        description="Incidents opened on or before this date",
        validators=[InputRequired(message="Enter the end date")],
    )
    local_authority = SelectField(
        "Local authority",
        choices=[("", "All seven"), *LOCAL_AUTHORITIES.items()],
        widget=GovSelect(),
        validate_choice=False,  # validate_local_authority says it in plain words
    )
    exercises = BooleanField("Include exercises", widget=GovCheckboxInput())
    submit = SubmitField("Show figures", widget=GovSubmitInput())

    def validate_local_authority(self, field) -> None:
        if field.data and field.data not in LOCAL_AUTHORITIES:
            raise ValidationError("Select a local authority from the list")

    def validate_last(self, field) -> None:
        first, last = self.first.data, field.data
        if first is None or last is None:
            return
        if last < first:
            raise ValidationError("The end date must be the same as or after the start date")
        months = (last.year - first.year) * 12 + last.month - first.month + 1
        if months > MONTH_LIMIT:
            raise ValidationError(
                f"Choose a period of {MONTH_LIMIT} months or less (this one covers {months}); "
                "the regional CSV export takes longer periods"
            )

    def filters(self) -> Filters:
        return Filters(
            self.first.data, self.last.data, self.local_authority.data or None, self.exercises.data
        )


def default_period(today: date) -> tuple[date, date]:
    """The last twelve months: from the first of the month eleven months ago to today."""
    year, month = today.year, today.month - 11
    if month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1), today
