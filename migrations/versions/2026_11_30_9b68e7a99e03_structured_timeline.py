"""structured timeline: who did it and whom it concerns by id, people's words apart

Timeline rows stop storing finished sentences. ``actor`` ("user:<email>",
"contact:<key>" or "system") becomes ``actor_user_id`` or ``actor_contact_id``;
``detail`` becomes ``text``. Updates keep their words as they are; status
changes keep their from and to states and the reason typed with them. Every
other existing sentence is marked ``legacy`` in ``data``: it is shown as
written in full pages and exports, and withheld as a whole when redacted
(it may name people). A kind no longer known is kept as ``data.legacy_kind``
on an update row.

Downgrading writes ``actor`` back from the ids and ``detail`` from the words
kept (or the kind, for rows written after the upgrade).

Revision ID: 9b68e7a99e03
Revises: d12e926f81f3
Create Date: 2026-11-30 09:30:18.990418

"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9b68e7a99e03'
down_revision = 'd12e926f81f3'
branch_labels = None
depends_on = None

KINDS = {
    "opened", "offered", "alert_queued", "contact_missing", "message_sent", "message_delivered",
    "message_failed", "fell_back_to_email", "emailed_as_well", "messages_cancelled", "alert_resent",
    "escalated", "not_reached", "actions_cancelled", "timed_action_failed", "acknowledged", "declined",
    "late_response", "check_in_requested", "check_in_reminded", "check_in_missed", "check_in_received",
    "offer_updated", "deadline_reminder", "deadline_due", "status_changed", "update_posted",
    "meeting_recorded", "tension_changed", "agency_added", "not_applicable", "area_added", "exported",
    "review_updated", "personal_data_purged",
}
BATCH = 1000

events = sa.table(
    "timeline_events",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("actor", sa.String),
    sa.column("detail", sa.Text),
    sa.column("data", sa.JSON),
    sa.column("actor_user_id", sa.Integer),
    sa.column("actor_contact_id", sa.Integer),
    sa.column("text", sa.Text),
)
old_events = sa.table(
    "timeline_events",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("actor", sa.String),
    sa.column("detail", sa.Text),
    sa.column("data", sa.JSON),
)


def upgrade():
    with op.batch_alter_table('timeline_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('actor_contact_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('contact_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('text', sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_timeline_events_actor_user_id_users'), 'users', ['actor_user_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_timeline_events_contact_id_contacts'), 'contacts', ['contact_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_timeline_events_actor_contact_id_contacts'), 'contacts', ['actor_contact_id'], ['id'])

    connection = op.get_bind()
    users = dict(connection.execute(sa.text("SELECT email, id FROM users")).all())
    contacts = dict(connection.execute(sa.text("SELECT key, id FROM contacts")).all())
    last = 0
    while True:
        rows = connection.execute(
            sa.text(
                "SELECT id, kind, actor, detail, data FROM timeline_events WHERE id > :last ORDER BY id LIMIT :batch"
            ),
            {"last": last, "batch": BATCH},
        ).all()
        if not rows:
            break
        updates = [_structured(row, users, contacts) for row in rows]
        connection.execute(
            events.update()
            .where(events.c.id == sa.bindparam("row_id"))
            .values(
                kind=sa.bindparam("new_kind"),
                data=sa.bindparam("new_data"),
                text=sa.bindparam("new_text"),
                actor_user_id=sa.bindparam("user_id"),
                actor_contact_id=sa.bindparam("contact_id"),
            ),
            updates,
        )
        last = rows[-1].id

    with op.batch_alter_table('timeline_events', schema=None) as batch_op:
        batch_op.alter_column('data', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('actor')
        batch_op.drop_column('detail')


def _structured(row, users: dict, contacts: dict) -> dict:
    actor = row.actor or "system"
    data = row.data
    if isinstance(data, str):
        data = json.loads(data)
    data = dict(data or {})
    detail = (row.detail or "").strip()
    kind = row.kind
    text = detail or None
    if kind == "update_posted":
        pass  # the words are the update, as typed
    elif kind == "status_changed" and {"from", "to"} <= data.keys():
        text = detail.split(": ", 1)[1].strip() if ": " in detail else None
    else:
        data["legacy"] = True
        if kind not in KINDS:
            data["legacy_kind"] = kind
            kind = "update_posted"
    return {
        "row_id": row.id,
        "new_kind": kind,
        "new_data": data,
        "new_text": text or None,
        "user_id": users.get(actor.removeprefix("user:")) if actor.startswith("user:") else None,
        "contact_id": contacts.get(actor.removeprefix("contact:")) if actor.startswith("contact:") else None,
    }


def downgrade():
    with op.batch_alter_table('timeline_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('detail', sa.TEXT(), nullable=True))
        batch_op.add_column(sa.Column('actor', sa.VARCHAR(length=120), nullable=True))
        batch_op.alter_column('data', existing_type=sa.JSON(), nullable=True)

    connection = op.get_bind()
    users = dict(connection.execute(sa.text("SELECT id, email FROM users")).all())
    contacts = dict(connection.execute(sa.text("SELECT id, key FROM contacts")).all())
    last = 0
    while True:
        rows = connection.execute(
            sa.text(
                "SELECT id, kind, actor_user_id, actor_contact_id, text, data FROM timeline_events "
                "WHERE id > :last ORDER BY id LIMIT :batch"
            ),
            {"last": last, "batch": BATCH},
        ).all()
        if not rows:
            break
        updates = []
        for row in rows:
            data = json.loads(row.data) if isinstance(row.data, str) else dict(row.data or {})
            kind = data.pop("legacy_kind", row.kind)
            if row.actor_user_id is not None and row.actor_user_id in users:
                actor = f"user:{users[row.actor_user_id]}"
            elif row.actor_contact_id is not None and row.actor_contact_id in contacts:
                actor = f"contact:{contacts[row.actor_contact_id]}"
            else:
                actor = "system"
            if data.pop("legacy", False) or row.kind == "update_posted":
                detail = row.text or ""
            else:
                words = row.kind.replace("_", " ").capitalize()
                detail = f"{words}: {row.text}" if row.text else words
            updates.append({"row_id": row.id, "old_kind": kind, "actor": actor, "detail": detail, "old_data": data})
        connection.execute(
            old_events.update()
            .where(old_events.c.id == sa.bindparam("row_id"))
            .values(
                kind=sa.bindparam("old_kind"),
                actor=sa.bindparam("actor"),
                detail=sa.bindparam("detail"),
                data=sa.bindparam("old_data"),
            ),
            updates,
        )
        last = rows[-1].id

    with op.batch_alter_table('timeline_events', schema=None) as batch_op:
        batch_op.alter_column('detail', existing_type=sa.TEXT(), nullable=False)
        batch_op.alter_column('actor', existing_type=sa.VARCHAR(length=120), nullable=False)
        batch_op.drop_constraint(batch_op.f('fk_timeline_events_actor_contact_id_contacts'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_timeline_events_contact_id_contacts'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_timeline_events_actor_user_id_users'), type_='foreignkey')
        batch_op.drop_column('text')
        batch_op.drop_column('contact_id')
        batch_op.drop_column('actor_contact_id')
        batch_op.drop_column('actor_user_id')
