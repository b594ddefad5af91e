"""Twilio's inbound SMS webhook: agency leads answering alerts by text."""

from __future__ import annotations

from flask import Blueprint, Response, request
from twilio.twiml.messaging_response import MessagingResponse

from responder.extensions import csrf, limiter
from responder.responses.sms_replies import answer_sms
from responder.unit_of_work import retried_on_conflict
from responder.web.webhooks import require_twilio_signature

bp = Blueprint("sms_inbound", __name__)
csrf.exempt(bp)  # signed by Twilio instead


@bp.post("/webhooks/twilio/inbound")
@limiter.limit("120 per minute")
@require_twilio_signature
@retried_on_conflict
def inbound_sms():
    """Act on the reply and answer in TwiML, so the lead always hears back."""
    text = answer_sms(request.form.get("From", ""), request.form.get("Body", ""))
    twiml = MessagingResponse()
    twiml.message(text)
    return Response(str(twiml), mimetype="application/xml")
