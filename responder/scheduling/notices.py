"""Messages that timed actions send: check-in requests and reminders, deadline notices.

Queued as outbox rows in the firing transaction, like alerts
(responder.notify.outbox). Bodies carry the local authority, reference,
incident type, the step and a link: never the summary, location, names,
ages or what anyone wrote in a check-in (design section 7).
"""

from __future__ import annotations

from datetime import datetime

from responder.clock import format_local
from responder.extensions import db
from responder.governance import sharing
from responder.links import incident_page
from responder.models import AccessToken, Channel, CheckIn, Contact, Incident, Message, MessageKind
from responder.notify.message_templates import render_message
from responder.notify.sms_text import to_gsm7
from responder.playbooks import parse_duration
from responder.timeline.actors import SYSTEM


def queue_check_in_request(check_in: CheckIn, token: AccessToken, *, reminder: bool) -> list[Message]:
    """The check-in SMS and email (or the reminder), each with ``token``'s /c/ link.

    Writes the sharing record too (refused without a lawful basis).
    """
    incident = check_in.incident
    sharing.record_message_share(
        check_in.activation,
        check_in.contact,
        sharing.CHECK_IN_REMINDER if reminder else sharing.CHECK_IN_REQUEST,
        shared_by=SYSTEM,
        purpose=f"{check_in.step} check-in",
    )
    context = {
        **_incident_context(incident),
        "agency": check_in.activation.agency_name,
        "step": parse_duration(check_in.step).describe(),
        "expires": format_local(token.expires_at, "%d %b %Y"),
        "reminder": reminder,
    }
    what = "Reminder: check-in" if reminder else "Check-in"
    common = {
        "incident": incident,
        "activation": check_in.activation,
        "contact": check_in.contact,
        "access_token": token,
        "kind": MessageKind.CHECK_IN_REMINDER if reminder else MessageKind.CHECK_IN,
    }
    return _queue_pair(
        check_in.contact,
        sms=render_message("check_in.sms.txt", **context),
        subject=f"{_prefix(incident)}[Responder] {incident.local_authority_name} {incident.reference}: "
        f"{what}, {context['step']} on",
        email=render_message("check_in.email.txt", **context),
        common=common,
    )


def queue_deadline_notice(
    incident: Incident, contact: Contact, name: str, due: datetime, *, reminder: bool
) -> list[Message]:
    """Tell the playbook's named role that a deadline is coming up (or due now)."""
    context = {
        **_incident_context(incident),
        "name": name,
        "due": format_local(due, "%H:%M %a %d %b"),
        "reminder": reminder,
        "page": incident_page(incident.reference),
    }
    what = "deadline coming up" if reminder else "deadline due now"
    return _queue_pair(
        contact,
        sms=render_message("deadline.sms.txt", **context),
        subject=f"{_prefix(incident)}[Responder] {incident.local_authority_name} "
        f"{incident.reference}: {what}",
        email=render_message("deadline.email.txt", **context),
        common={"incident": incident, "contact": contact, "kind": MessageKind.DEADLINE},
    )


def _queue_pair(contact: Contact, *, sms: str, subject: str, email: str, common: dict) -> list[Message]:
    text = Message(channel=Channel.SMS, recipient=contact.phone, body=to_gsm7(sms.strip()), **common)
    mail = Message(
        channel=Channel.EMAIL,
        recipient=contact.email,
        subject=subject,
        body=email.strip() + "\n",
        twin_of=text,
        **common,
    )
    db.session.add_all([text, mail])
    return [text, mail]


def _incident_context(incident: Incident) -> dict:
    return {
        "exercise": incident.exercise,
        "local_authority": incident.local_authority_name,
        "reference": incident.reference,
        "incident_type": incident.type_label,
    }


def _prefix(incident: Incident) -> str:
    return "EXERCISE " if incident.exercise else ""
