"""Administration: rotas. Who is on duty now and for the next 14 days in each role, and overrides."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovTextArea, GovTextInput
from sqlalchemy import select
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from responder.clock import now_utc
from responder.extensions import db
from responder.models import Role, Rota, RotaShift, ShiftKind
from responder.playbooks import PlaybookError
from responder.playbooks.registry import current_playbooks
from responder.rotas import on_duty_for
from responder.rotas.coverage import rota_stretches
from responder.rotas.importing import ContactNotFound, Directory, parse_local_time
from responder.rotas.overrides import OverrideError, add_override, find_rota, remove_override
from responder.rotas.roles import role_labels
from responder.web.access import role_required

bp = Blueprint("admin_rotas", __name__, url_prefix="/admin/rotas")

AHEAD = timedelta(days=14)
TIME_HINT = "Local time, for example 2026-12-24 20:00"


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class LocalTime(StringField):
    """A local date and time typed as ``2026-12-24 20:00``; ``data`` becomes UTC once validated."""

    def pre_validate(self, form) -> None:
        if self.data:
            try:
                self.moment = parse_local_time(self.data, self.name)
            except ValueError:
                raise ValidationError(
                    f"Enter a date and time like 2026-12-24 20:00 ({self.label.text.lower()})"
                ) from None


class OverrideForm(FlaskForm):
    contact = StringField(
        "Who is on duty instead",
        widget=GovTextInput(),
        description="Their contact key or e-mail address in the contact directory",
        filters=[_strip],
        validators=[DataRequired(message="Enter a contact key or e-mail address"), Length(max=254)],
    )
    starts = LocalTime(
        "From",
        widget=GovTextInput(),
        description=TIME_HINT,
        filters=[_strip],
        validators=[DataRequired(message="Enter when the override starts"), Length(max=40)],
    )
    ends = LocalTime(
        "Until",
        widget=GovTextInput(),
        description=TIME_HINT,
        filters=[_strip],
        validators=[DataRequired(message="Enter when the override ends"), Length(max=40)],
    )
    reason = TextAreaField(
        "Reason",
        widget=GovTextArea(),
        description="For example: covering annual leave, or a swap with the next shift",
        filters=[_strip],
        validators=[DataRequired(message="Give a reason for the override"), Length(max=300)],
    )


def override_form(role: str, formdata=True) -> OverrideForm:
    form = OverrideForm() if formdata else OverrideForm(formdata=None)
    # One form per rota on the page: ids of their own let each label find its box.
    for field in form:
        field.id = f"{role}-{field.name}"
    return form


@bp.get("")
@role_required(Role.ADMIN)
def index():
    return _page({})


@bp.post("/<role>/overrides")
@role_required(Role.ADMIN)
def add(role: str):
    rota = _rota(role)
    form = override_form(role)
    if not form.validate_on_submit():
        return _page({role: form}, status=422)
    try:
        contact = Directory().find(form.contact.data, role)
    except ContactNotFound as error:
        form.contact.errors.append(_sentence(str(error)))
        return _page({role: form}, status=422)
    try:
        override = add_override(
            rota, contact, form.starts.moment, form.ends.moment, form.reason.data, current_user
        )
    except OverrideError as error:
        form.ends.errors.append(str(error))
        return _page({role: form}, status=422)
    flash(f"Override added: {override.contact.name} on duty as {role}", "success")
    return redirect(url_for("admin_rotas.index", _anchor=f"rota-{role}"), code=303)


@bp.post("/<role>/overrides/<int:shift_id>/remove")
@role_required(Role.ADMIN)
def remove(role: str, shift_id: int):
    rota = _rota(role)
    try:
        remove_override(rota, shift_id)
    except OverrideError:
        abort(404)
    flash(f"Override removed from the rota for {role}", "success")
    return redirect(url_for("admin_rotas.index", _anchor=f"rota-{role}"), code=303)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _rota(role: str) -> Rota:
    rota = find_rota(role)
    if rota is None:
        abort(404)
    return rota


def _page(submitted: dict[str, OverrideForm], status: int = 200):
    now = now_utc()
    rotas = list(db.session.scalars(select(Rota).order_by(Rota.role)))
    stretches = rota_stretches(now, now + AHEAD)
    overrides: dict[int, list[RotaShift]] = {}
    for override in db.session.scalars(
        select(RotaShift)
        .where(RotaShift.kind == ShiftKind.OVERRIDE, RotaShift.ends_at > now)
        .order_by(RotaShift.starts_at)
    ):
        overrides.setdefault(override.rota_id, []).append(override)
    try:
        labels = role_labels(current_playbooks())
    except PlaybookError:  # invalid playbooks: the rotas still show, by role key
        labels = {}
    return (
        render_template(
            "admin/rotas.html",
            rotas=rotas,
            labels=labels,
            now_on_duty=on_duty_for([rota.role for rota in rotas], now),
            stretches=stretches,
            gap_count=sum(1 for rows in stretches.values() for stretch in rows if stretch.is_gap),
            overrides=overrides,
            forms={
                rota.role: submitted.get(rota.role) or override_form(rota.role, formdata=False)
                for rota in rotas
            },
            days=AHEAD.days,
        ),
        status,
    )
