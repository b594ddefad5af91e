"""Queue messages as outbox rows in the caller's transaction.

Bodies carry only what lets a lead recognise the alert: local authority,
reference, incident type, time, agency and a link. Never the summary,
location, ages, names or schools (design section 7).
"""

from __future__ import annotations

from flask import render_template

from responder.access_tokens import issue_token, link_for
from responder.clock import format_local
from responder.extensions import db
from responder.models import (
    LINK_PLACEHOLDER,
    Activation,
    Channel,
    Contact,
    Incident,
    Message,
    MessageKind,
    TokenPurpose,
)
from responder.notify.sms_text import shorten_to_fit, to_gsm7


def queue_alert(incident: Incident, activation: Activation, contact: Contact) -> list[Message]:
    """An alert SMS and email to ``contact`` with their own acknowledgement link."""
    token = issue_token(TokenPurpose.ACKNOWLEDGE, activation, contact)
    context = {
        "exercise": incident.exercise,
        "local_authority": incident.local_authority_name,
        "reference": incident.reference,
        "incident_type": incident.type_label,
        "occurred": format_local(incident.occurred_at, "%H:%M %a %d %b"),
        "agency": activation.agency_name,
        "expires": format_local(token.expires_at, "%d %b %Y"),
    }
    prefix = "EXERCISE " if incident.exercise else ""
    common = {
        "incident": incident,
        "activation": activation,
        "contact": contact,
        "access_token": token,
        "kind": MessageKind.ALERT,
    }
    sms = Message(
        channel=Channel.SMS,
        recipient=contact.phone,
        body=_alert_sms(context, link_for(token)),
        **common,
    )
    email = Message(
        channel=Channel.EMAIL,
        recipient=contact.email,
        subject=f"{prefix}[Responder] {incident.local_authority_name} {incident.reference}: "
        f"{incident.type_label.lower()} - please confirm",
        body=render_template("messages/alert.email.txt", **context).strip() + "\n",
        html_body=render_template("messages/alert.email.html", **context),
        **common,
    )
    db.session.add_all([sms, email])
    return [sms, email]


def _alert_sms(context: dict, link: str) -> str:
    """The alert text, in GSM-7 and two segments: a long agency name is cut short to fit."""

    def render(agency: str) -> str:
        return to_gsm7(render_template("messages/alert.sms.txt", **{**context, "agency": agency}).strip())

    return shorten_to_fit(
        render, to_gsm7(context["agency"]), as_sent=lambda text: text.replace(LINK_PLACEHOLDER, link)
    )


def rendered_body(message: Message, *, html: bool = False) -> str:
    """The text as it leaves: the link placeholder replaced by the recipient's link."""
    body = message.html_body if html else message.body
    if body is None:
        return ""
    if message.access_token is not None:
        body = body.replace(LINK_PLACEHOLDER, link_for(message.access_token))
    return body
