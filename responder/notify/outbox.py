"""Queue messages as outbox rows in the caller's transaction.

Bodies carry only what lets a lead recognise the alert: local authority,
reference, incident type, time, agency and a link. Never the summary,
location, ages, names or schools (design section 7).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from responder.clock import format_local
from responder.directory.contacts import ContactError, normalise_phone
from responder.extensions import db
from responder.governance import sharing
from responder.links import incident_page
from responder.models import (
    LINK_PLACEHOLDER,
    Activation,
    Channel,
    Contact,
    Incident,
    Message,
    MessageKind,
    MessageState,
    TokenPurpose,
)
from responder.notify.message_templates import render_message
from responder.notify.sms_text import shorten_to_fit, to_gsm7
from responder.responses.access_tokens import issue_token, link_for
from responder.timeline.actors import SYSTEM, Actor


def queue_alert(
    incident: Incident,
    activation: Activation,
    contact: Contact,
    *,
    shared_by: Actor = SYSTEM,
    purpose: str = "alert",
) -> list[Message]:
    """An alert SMS and email to ``contact`` with their own acknowledgement link.

    Writes the sharing record too, and refuses (SharingRefused) when the
    agency has no lawful basis for sharing in the incident's playbook.
    """
    sharing.record_message_share(activation, contact, sharing.ALERT, shared_by=shared_by, purpose=purpose)
    token = issue_token(TokenPurpose.ACKNOWLEDGE, activation, contact)
    context = {
        "exercise": incident.exercise,
        "local_authority": incident.local_authority_name,
        "reference": incident.reference,
        "incident_type": incident.type_label,
        "occurred": format_local(incident.occurred_at, "%H:%M %a %d %b"),
        "agency": activation.agency_name,
        "expires": format_local(token.expires_at, "%d %b %Y"),
        "reply_code": activation.reply_code,
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
        body=render_message("alert.email.txt", **context).strip() + "\n",
        html_body=render_message("alert.email.html", **context),
        twin_of=sms,
        **common,
    )
    db.session.add_all([sms, email])
    return [sms, email]


def _alert_sms(context: dict, link: str) -> str:
    """The alert text, in GSM-7 and two segments: a long agency name is cut short to fit."""

    def render(agency: str) -> str:
        return to_gsm7(render_message("alert.sms.txt", **{**context, "agency": agency}).strip())

    return shorten_to_fit(
        render, to_gsm7(context["agency"]), as_sent=lambda text: text.replace(LINK_PLACEHOLDER, link)
    )


def queue_response_notice(activation: Activation, what: str, *, urgent: bool) -> list[Message]:
    """Tell the officer who opened the incident, and the duty manager, that an agency answered.

    Email only for acknowledgements; a decline also texts the duty manager,
    because somebody may need to act on it now.
    """
    from responder.rotas import on_duty

    incident = activation.incident
    prefix = "EXERCISE " if incident.exercise else ""
    link = incident_page(incident.reference)
    text = f"{prefix}Responder: {incident.local_authority_name} {incident.reference}: {what}. {link}"
    subject = f"{prefix}[Responder] {incident.reference}: {what}"
    messages = []
    officer = incident.opened_by
    if officer is not None:
        messages.append(_notice(activation, Channel.EMAIL, officer.email, text, subject))
    # Whoever is on duty as the duty manager now (responder.rotas): both, if two are.
    for manager in on_duty(incident.frozen_playbooks.home.duty_manager).contacts:
        email = _notice(activation, Channel.EMAIL, manager.email, text, subject, manager)
        messages.append(email)
        if urgent:
            email.twin_of = _notice(activation, Channel.SMS, manager.phone, to_gsm7(text), None, manager)
            messages.append(email.twin_of)
    db.session.add_all(messages)
    return messages


def _notice(activation, channel, recipient, body, subject, contact=None) -> Message:
    return Message(
        incident=activation.incident,
        activation=activation,
        contact=contact,
        channel=channel,
        kind=MessageKind.RESPONSE_NOTICE,
        recipient=recipient,
        subject=subject,
        body=body,
    )


def rendered_body(message: Message, *, html: bool = False) -> str:
    """The text as it leaves: the link placeholder replaced by the recipient's link."""
    body = message.html_body if html else message.body
    if body is None:
        return ""
    if message.access_token is not None:
        body = body.replace(LINK_PLACEHOLDER, link_for(message.access_token))
    return body


def queue_stand_down(activation: Activation, contact: Contact, *, shared_by: Actor = SYSTEM) -> list[Message]:
    """A short thank-you telling a covering agency the response is standing down."""
    incident = activation.incident
    sharing.record_message_share(
        activation, contact, sharing.STAND_DOWN, shared_by=shared_by, purpose="the response is standing down"
    )
    context = {
        "exercise": incident.exercise,
        "local_authority": incident.local_authority_name,
        "reference": incident.reference,
        "incident_type": incident.type_label,
        "agency": activation.agency_name,
    }
    prefix = "EXERCISE " if incident.exercise else ""
    common = {
        "incident": incident,
        "activation": activation,
        "contact": contact,
        "kind": MessageKind.STAND_DOWN,
    }
    sms = Message(
        channel=Channel.SMS,
        recipient=contact.phone,
        body=to_gsm7(render_message("stand_down.sms.txt", **context).strip()),
        **common,
    )
    email = Message(
        channel=Channel.EMAIL,
        recipient=contact.email,
        subject=f"{prefix}[Responder] {incident.reference} is standing down",
        body=render_message("stand_down.email.txt", **context).strip() + "\n",
        twin_of=sms,
        **common,
    )
    db.session.add_all([sms, email])
    return [sms, email]


def cancel_pending(*conditions: Any, why: str) -> int:
    """Messages matching ``conditions`` and not yet handed to a provider are not sent after all: how many.

    ``why`` is kept on each row ("not sent: the incident was closed").
    """
    return db.session.execute(
        update(Message)
        .where(Message.state == MessageState.PENDING, *conditions)
        .values(state=MessageState.CANCELLED, last_error=why)
        .execution_options(synchronize_session=False)
    ).rowcount


def queue_sms_answer(phone: str, body: str) -> Message | None:
    """A text answering one a lead sent in, for a provider that cannot answer in the same request (Notify).

    None when the number cannot be texted (it came from the provider, so this
    is rare); the answer carries references and codes only.
    """
    try:
        recipient = normalise_phone(phone)
    except ContactError:
        return None
    message = Message(
        channel=Channel.SMS, kind=MessageKind.REPLY_ANSWER, recipient=recipient, body=to_gsm7(body)
    )
    db.session.add(message)
    return message


# What an emailed copy of a text is about, for its subject line.
FALLBACK_SUBJECTS = {
    MessageKind.ALERT: "alert - please confirm",
    MessageKind.CHECK_IN: "check-in",
    MessageKind.CHECK_IN_REMINDER: "check-in reminder",
    MessageKind.DEADLINE: "deadline",
    MessageKind.RESPONSE_NOTICE: "an agency has answered",
    MessageKind.STAND_DOWN: "standing down",
    MessageKind.REPLY_ANSWER: "your reply",
}


def email_fallback(text: Message) -> Message:
    """An email copy of a text that could not be delivered, to the same contact (not yet added)."""
    incident = text.incident
    prefix = "EXERCISE " if incident is not None and incident.exercise else ""
    about = FALLBACK_SUBJECTS.get(MessageKind(text.kind), "message")
    where = f"{incident.local_authority_name} {incident.reference}: " if incident is not None else ""
    return Message(
        incident=incident,
        activation=text.activation,
        contact=text.contact,
        access_token=text.access_token,
        channel=Channel.EMAIL,
        kind=text.kind,
        recipient=text.contact.email,
        subject=f"{prefix}[Responder] {where}{about} (we could not text you)",
        body=text.body + "\n\nThis was sent to you by text message, which could not be delivered.\n",
        twin_of=text,
    )
