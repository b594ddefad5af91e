"""rotas behind role keys, and deadlines that can be done

Rotas (``rotas``, ``rota_shifts``): who fills a role when, imported from a
calendar or CSV, with overrides added on /admin/rotas.

Deadlines become rows (``deadlines``) that can be marked done, and their
reminders and "due now" notices point at them (``timed_actions.deadline_id``),
so marking one done cancels them. Every incident already open gets a row for
each deadline its timed actions name, pointed at by those actions; a deadline
whose notice has already fired is not marked done (nobody said it was).

Downgrading drops the rotas, the rows and the pointer; the timed actions keep
what they need in their details, as before.

Revision ID: 59d9f901c1ed
Revises: 10ae0026ed85
Create Date: 2026-11-30 10:13:33.070473

"""
import json
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '59d9f901c1ed'
down_revision = '10ae0026ed85'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rotas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('calendar', sa.Text(), nullable=True),
    sa.Column('expanded_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rotas'))
    )
    with op.batch_alter_table('rotas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rotas_role'), ['role'], unique=True)

    op.create_table('rota_shifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rota_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('origin', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_rota_shifts_contact_id_contacts')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_rota_shifts_created_by_id_users')),
    sa.ForeignKeyConstraint(['rota_id'], ['rotas.id'], name=op.f('fk_rota_shifts_rota_id_rotas')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rota_shifts'))
    )
    with op.batch_alter_table('rota_shifts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rota_shifts_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_rota_shifts_rota_id_ends_at', ['rota_id', 'ends_at'], unique=False)

    op.create_table('deadlines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('notify_role', sa.String(length=80), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['done_by_id'], ['users.id'], name=op.f('fk_deadlines_done_by_id_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_deadlines_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadlines'))
    )
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deadlines_incident_id'), ['incident_id'], unique=False)

    with op.batch_alter_table('timed_actions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deadline_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_timed_actions_deadline_id'), ['deadline_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_timed_actions_deadline_id_deadlines'), 'deadlines', ['deadline_id'], ['id'])

    _deadlines_from_timed_actions()


actions = sa.table(
    "timed_actions",
    sa.column("id", sa.Integer),
    sa.column("incident_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("details", sa.JSON),
    sa.column("deadline_id", sa.Integer),
)
deadlines = sa.table(
    "deadlines",
    sa.column("id", sa.Integer),
    sa.column("incident_id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("step", sa.String),
    sa.column("notify_role", sa.String),
    sa.column("due_at", sa.DateTime(timezone=True)),
)


def _deadlines_from_timed_actions():
    """One row per (incident, deadline name, due time) the existing deadline actions name."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(actions.c.id, actions.c.incident_id, actions.c.kind, actions.c.details)
        .where(actions.c.kind.in_(("deadline", "deadline_reminder")))
        .order_by(actions.c.id)
    ).all()
    made = {}
    for action_id, incident_id, _kind, details in rows:
        details = json.loads(details) if isinstance(details, str) else (details or {})
        if "name" not in details or "due" not in details:
            continue
        key = (incident_id, details["name"], details["due"])
        if key not in made:
            due = datetime.fromisoformat(details["due"]).astimezone(timezone.utc)
            if conn.dialect.name == "sqlite":
                due = due.replace(tzinfo=None)
            made[key] = conn.execute(
                deadlines.insert()
                .values(
                    incident_id=incident_id,
                    name=details["name"][:300],
                    step=str(details.get("step", ""))[:16],
                    notify_role=details.get("notify"),
                    due_at=due,
                )
                .returning(deadlines.c.id)
            ).scalar_one()
        conn.execute(actions.update().where(actions.c.id == action_id).values(deadline_id=made[key]))


def downgrade():
    with op.batch_alter_table('timed_actions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_timed_actions_deadline_id_deadlines'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_timed_actions_deadline_id'))
        batch_op.drop_column('deadline_id')

    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deadlines_incident_id'))

    op.drop_table('deadlines')
    with op.batch_alter_table('rota_shifts', schema=None) as batch_op:
        batch_op.drop_index('ix_rota_shifts_rota_id_ends_at')
        batch_op.drop_index(batch_op.f('ix_rota_shifts_contact_id'))

    op.drop_table('rota_shifts')
    with op.batch_alter_table('rotas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rotas_role'))

    op.drop_table('rotas')
