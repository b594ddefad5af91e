"""Administration: the contact directory behind the playbooks' role keys."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput, GovTextInput
from sqlalchemy import or_, select
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from responder.callouts import flagged_contacts
from responder.directory.contacts import ContactError, active_role_keys, normalise_email, normalise_phone
from responder.extensions import db
from responder.models import Contact, Role
from responder.playbooks import roles_without_contacts
from responder.playbooks.registry import current_playbooks
from responder.rotas.coverage import roles_with_rotas
from responder.web.access import role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


class ContactForm(FlaskForm):
    name = StringField(
        "Name", widget=GovTextInput(), validators=[DataRequired(message="Enter a name"), Length(max=120)]
    )
    phone = StringField(
        "Mobile number", widget=GovTextInput(), validators=[DataRequired(message="Enter a phone number")]
    )
    email = StringField(
        "Email address", widget=GovTextInput(), validators=[DataRequired(message="Enter an email address")]
    )
    active = BooleanField("Active: alerts go to this person", widget=GovCheckboxInput())

    def validate_phone(self, field):
        try:
            field.data = normalise_phone(field.data)
        except ContactError:
            raise ValidationError(
                "Enter a UK mobile number, like 07700 900123, or an international one"
            ) from None

    def validate_email(self, field):
        try:
            field.data = normalise_email(field.data)
        except ContactError:
            raise ValidationError("Enter an email address like name@example.org") from None


@bp.get("/contacts")
@role_required(Role.ADMIN)
def contacts():
    search = (request.args.get("q") or "").strip()[:100]
    query = select(Contact).order_by(Contact.local_authority, Contact.key)
    if search:
        like = f"%{search.lower()}%"
        query = query.where(
            or_(
                Contact.key.ilike(like),
                Contact.name.ilike(like),
                Contact.email.ilike(like),
                Contact.phone.ilike(like),
            )
        )
    # A role filled by a rota needs no fixed contact (its gaps are on /admin/rotas).
    gaps = roles_without_contacts(current_playbooks(), active_role_keys() | roles_with_rotas())
    return render_template(
        "admin/contacts.html",
        contacts=db.session.scalars(query).all(),
        search=search,
        gaps=gaps,
        flagged=flagged_contacts(),
    )


@bp.route("/contacts/<int:contact_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_contact(contact_id: int):
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        abort(404)
    form = ContactForm(obj=contact)
    if form.validate_on_submit():
        form.populate_obj(contact)
        flash(f"{contact.key} saved" + ("" if contact.active else " and deactivated"), "success")
        return redirect(url_for("admin.contacts"), code=303)
    return render_template(
        "admin/contact.html", contact=contact, form=form
    ), 422 if form.is_submitted() else 200
