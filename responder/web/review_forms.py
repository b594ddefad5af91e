"""Forms for the learning review page: notes, action plan lines and their RAG status."""

from __future__ import annotations

from datetime import date, datetime

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovDateInput,
    GovRadioInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import RadioField, StringField, SubmitField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length

from responder.models.reviews import RagStatus, ReviewNoteKind
from responder.playbooks.schema import SHARING_BASES
from responder.web.incident_forms import GovDateField

RAG_CHOICES = [(status.value, status.label) for status in RagStatus]


class DueDateField(GovDateField):
    """A GOV.UK day/month/year date for an action's due date."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        parts = [part.strip() for part in valuelist[:3]]
        parts += [""] * (3 - len(parts))
        self.raw_data = parts
        self.data = None
        if not all(parts):
            raise ValueError("Enter the due date with day, month and year")
        try:
            self.data = datetime.strptime(" ".join(parts), "%d %m %Y").date()
        except ValueError:
            raise ValueError("Enter a real due date, for example 31 1 2027") from None


class ReviewNoteForm(FlaskForm):
    kind = RadioField(
        "What is it?",
        choices=[(kind.value, kind.label) for kind in ReviewNoteKind],
        widget=GovRadioInput(),
        validate_choice=False,
        validators=[
            InputRequired(message="Select a practice episode, lesson or recommendation"),
            AnyOf(
                [kind.value for kind in ReviewNoteKind],
                message="Select a practice episode, lesson or recommendation",
            ),
        ],
    )
    text = TextAreaField(
        "Write it up",
        widget=GovTextArea(),
        description="No-blame: what happened and why, not who is at fault. Refer to people by role.",
        validators=[
            DataRequired(message="Enter the practice episode, lesson or recommendation"),
            Length(max=5000, message="Keep it to 5,000 characters or fewer"),
        ],
    )
    submit = SubmitField("Add to the review", widget=GovSubmitInput())


class ReviewActionForm(FlaskForm):
    action = TextAreaField(
        "Action",
        widget=GovTextArea(),
        validators=[
            DataRequired(message="Enter the action"),
            Length(max=2000, message="Keep the action to 2,000 characters or fewer"),
        ],
    )
    owner = StringField(
        "Owner",
        widget=GovTextInput(),
        description="An agency or role, for example Birmingham Youth Service lead",
        validators=[
            DataRequired(message="Enter who owns the action"),
            Length(max=200, message="Owner must be 200 characters or fewer"),
        ],
    )
    due_on = DueDateField(
        "Due date",
        widget=GovDateInput(),
        description="For example, 31 1 2027",
        validators=[InputRequired(message="Enter the due date")],
    )
    rag = RadioField(
        "RAG status",
        choices=RAG_CHOICES,
        default=RagStatus.RED.value,
        widget=GovRadioInput(),
        validate_choice=False,
        validators=[AnyOf([status.value for status in RagStatus], message="Select red, amber or green")],
    )
    submit = SubmitField("Add to the action plan", widget=GovSubmitInput())

    @property
    def due(self) -> date:
        return self.due_on.data


class ActionStatusForm(FlaskForm):
    rag = RadioField(
        "RAG status",
        choices=RAG_CHOICES,
        widget=GovRadioInput(),
        validate_choice=False,
        validators=[
            InputRequired(message="Select red, amber or green"),
            AnyOf([status.value for status in RagStatus], message="Select red, amber or green"),
        ],
    )
    submit = SubmitField("Update status", widget=GovSubmitInput())


EXPORT_FORMATS = [
    ("pdf", "After-action report (PDF)"),
    ("csv", "Chronology (CSV)"),
    ("json", "Whole incident (JSON)"),
]
VARIANTS = [
    (
        "redacted",
        "Redacted: people by role or pseudonym, free text withheld (for sharing beyond the partnership)",
    ),
    ("full", "Full: for the core partnership"),
]


class ShareExportForm(FlaskForm):
    """An export for sharing, on a stated lawful basis and for a stated purpose (recorded before the file)."""

    format = RadioField(
        "What to export",
        choices=EXPORT_FORMATS,
        widget=GovRadioInput(),
        validate_choice=False,
        validators=[
            InputRequired(message="Select what to export"),
            AnyOf([value for value, _ in EXPORT_FORMATS], message="Select what to export"),
        ],
    )
    redacted = RadioField(
        "Which version",
        choices=VARIANTS,
        default="redacted",
        widget=GovRadioInput(),
        validate_choice=False,
        validators=[
            InputRequired(message="Select the full or the redacted version"),
            AnyOf([value for value, _ in VARIANTS], message="Select the full or the redacted version"),
        ],
    )
    basis = RadioField(
        "Lawful basis for sharing it",
        choices=list(SHARING_BASES.items()),
        widget=GovRadioInput(),
        validate_choice=False,
        validators=[
            InputRequired(message="Select the lawful basis for sharing"),
            AnyOf(list(SHARING_BASES), message="Select the lawful basis for sharing"),
        ],
    )
    purpose = TextAreaField(
        "Purpose",
        widget=GovTextArea(),
        description="Who it is for and why, for the sharing record (for example: rapid review panel, 12 Dec).",
        validators=[
            DataRequired(message="Say who the export is for and why"),
            Length(max=300, message="The purpose must be 300 characters or fewer"),
        ],
    )
    submit = SubmitField("Record and download", widget=GovSubmitInput())
