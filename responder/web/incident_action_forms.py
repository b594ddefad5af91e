"""Forms for running a response: one small form per action."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovTextArea, GovTextInput
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional, ValidationError

from responder.models import Tension
from responder.playbooks.schema import SHARING_BASES
from responder.responses.organisation_names import NotAName, checked_organisation_name


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def reason_field(label: str = "Reason") -> TextAreaField:
    return TextAreaField(
        label,
        widget=GovTextArea(),
        filters=[_strip],
        validators=[
            DataRequired(message="Give a reason"),
            Length(max=1000, message="Keep it under 1,000 characters"),
        ],
    )


class UpdateForm(FlaskForm):
    text = TextAreaField(
        "Post an update",
        widget=GovTextArea(),
        description="Seen by the response team in Responder; never sent by SMS or email.",
        filters=[_strip],
        validators=[DataRequired(message="Write the update"), Length(max=5000)],
    )


class TensionForm(FlaskForm):
    level = RadioField(
        "Community tension now",
        choices=[(t.value, t.label) for t in Tension],
        widget=GovRadioInput(),
        validate_choice=False,
        validators=[
            InputRequired(message="Select a level"),
            AnyOf([t.value for t in Tension], message="Select a level"),
        ],
    )
    reason = reason_field("What has changed")


class MeetingForm(FlaskForm):
    title = StringField(
        "Meeting",
        widget=GovTextInput(),
        description="For example, 24-hour strategy meeting",
        filters=[_strip],
        validators=[DataRequired(message="Name the meeting"), Length(max=200)],
    )
    attendees = TextAreaField(
        "Who attended",
        widget=GovTextArea(),
        description="One agency or person per line",
        validators=[Optional()],
    )
    actions = TextAreaField(
        "Actions agreed", widget=GovTextArea(), description="One action per line", validators=[Optional()]
    )

    def lines(self, field) -> list[str]:
        return [line.strip() for line in (field.data or "").splitlines() if line.strip()][:50]


class PlaybookAgencyForm(FlaskForm):
    agency_key = SelectField("Agency from the playbooks", widget=GovSelect(), validate_choice=False)
    reason = reason_field("Why")


class OrganisationName:
    """The same check the service makes (responder.responses.organisation_names), as a form error."""

    def __call__(self, form, field) -> None:
        try:
            field.data = checked_organisation_name(field.data or "")
        except NotAName as error:
            raise ValidationError(str(error)) from None


class AdHocAgencyForm(FlaskForm):
    name = StringField(
        "Agency name",
        widget=GovTextInput(),
        description="The organisation's name, as it will appear in texts and emails: no people's names or numbers",
        filters=[_strip],
        validators=[DataRequired(message="Name the agency"), OrganisationName()],
    )
    lead_role = StringField(
        "Contact role key",
        widget=GovTextInput(),
        description="The role key of the person to alert, from the contact directory",
        filters=[_strip],
        validators=[DataRequired(message="Give the contact's role key")],
    )
    sharing_basis = RadioField(
        "Lawful basis for sharing incident information with them",
        choices=list(SHARING_BASES.items()),
        widget=GovRadioInput(),
        validate_choice=False,
        validators=[
            InputRequired(message="Choose the lawful basis for sharing"),
            AnyOf(list(SHARING_BASES), message="Choose the lawful basis for sharing"),
        ],
    )
    reason = reason_field("Why")


class OfferForm(FlaskForm):
    offer_key = SelectField("Support offer from the playbooks", widget=GovSelect(), validate_choice=False)


class AreaForm(FlaskForm):
    local_authority = SelectField("Local authority", widget=GovSelect(), validate_choice=False)
    reason = reason_field("Why it is involved (for example, where the young person lives)")


class ReasonForm(FlaskForm):
    reason = reason_field()
