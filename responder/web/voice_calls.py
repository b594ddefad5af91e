"""Twilio's voice webhooks for Responder's phone calls: answered, a key pressed, the call ended.

Each is signed with TWILIO_AUTH_TOKEN over the public URL, query included, and
refused (403, nothing changed) otherwise, exactly as the SMS webhooks are
(responder.web.webhooks). The query names the call's outbox row; the service
(responder.responses.call_answers) checks Twilio's CallSid against it and
acts on each call's answer once, however often a request is repeated.
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from twilio.twiml.voice_response import VoiceResponse

from responder.extensions import csrf, limiter
from responder.notify.voice_twilio import KEY_PATH, call_url
from responder.responses import call_answers
from responder.unit_of_work import retried_on_conflict
from responder.web.webhooks import require_twilio_signature

bp = Blueprint("voice_calls", __name__, url_prefix="/webhooks/twilio/voice")
csrf.exempt(bp)  # signed by Twilio instead

VOICE = {"voice": "Polly.Amy", "language": "en-GB"}
# Seconds Twilio waits for a key after the alert has been read out.
KEY_TIMEOUT = 8


@bp.post("/answer")
@limiter.limit("120 per minute")
@require_twilio_signature
def answer():
    """The call was answered: read the alert and wait for 1 or 2 (a machine is hung up on)."""
    call = _call()
    script = call_answers.call_answered(call, request.form.get("AnsweredBy", ""))
    return _twiml(script, call)


@bp.post("/key")
@limiter.limit("120 per minute")
@require_twilio_signature
@retried_on_conflict
def key():
    """A key was pressed during the call."""
    call = _call()
    script = call_answers.key_pressed(call, request.form.get("Digits", ""))
    return _twiml(script, call)


@bp.post("/status")
@limiter.limit("120 per minute")
@require_twilio_signature
def status():
    """How the call ended: completed, busy, no-answer, failed or canceled."""
    call_answers.call_ended(
        _call(),
        request.form.get("CallStatus", ""),
        answered_by=request.form.get("AnsweredBy", ""),
        error_code=request.form.get("ErrorCode", ""),
    )
    return "", 204


def _call():
    return call_answers.find_call(request.args.get("message"), request.form.get("CallSid", ""))


def _twiml(script: call_answers.Script, call) -> Response:
    twiml = VoiceResponse()
    if script.gather and call is not None:
        gather = twiml.gather(
            num_digits=1, action=call_url(KEY_PATH, call.id), method="POST", timeout=KEY_TIMEOUT
        )
        gather.say(script.say, **VOICE)
        # Read once more if nothing was pressed; then the call ends and counts as unanswered.
        again = twiml.gather(
            num_digits=1, action=call_url(KEY_PATH, call.id), method="POST", timeout=KEY_TIMEOUT
        )
        again.say(script.say, **VOICE)
        twiml.say(f"No key was pressed. {call_answers.GOODBYE}", **VOICE)
    elif script.say:
        twiml.say(script.say, **VOICE)
    twiml.hangup()
    return Response(str(twiml), mimetype="application/xml")
