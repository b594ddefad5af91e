"""Development only: every queued SMS and email, so nobody needs a Twilio account."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from responder.extensions import db
from responder.models import Message, Role
from responder.notify.outbox import rendered_body
from responder.web.access import role_required

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.get("/outbox")
@role_required(Role.OFFICER)
def outbox():
    messages = db.session.scalars(select(Message).order_by(Message.id.desc()).limit(500)).all()
    return render_template("dev/outbox.html", messages=messages, rendered_body=rendered_body)
