"""Readiness per local authority (managers and admins): what to fix before anything happens."""

from __future__ import annotations

from flask import Blueprint, render_template

from responder.models import Role
from responder.readiness import ProblemKind, readiness
from responder.web.access import role_required

bp = Blueprint("readiness", __name__)


@bp.get("/readiness")
@role_required(Role.MANAGER)
def page():
    return render_template("readiness/page.html", areas=readiness(), kinds=list(ProblemKind))
