"""The Alembic revisions build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from responder import create_app
from responder.extensions import db

MIGRATIONS_DB = "responder_migrations_test"


def _scratch_url(tmp_path) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {MIGRATIONS_DB}"))
        conn.execute(sa.text(f"CREATE DATABASE {MIGRATIONS_DB}"))
    engine.dispose()
    return sa.engine.make_url(url).set(database=MIGRATIONS_DB).render_as_string(hide_password=False)


def _diff(app) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return [
            change
            for change in compare_metadata(context, db.metadata)
            if not (change[0] == "remove_table" and change[1].name == "alembic_version")
        ]


def test_migrations_build_the_models_schema_and_downgrade_cleanly(tmp_path):
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": _scratch_url(tmp_path)})
    with app.app_context():
        upgrade()
        assert _diff(app) == []
        downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        upgrade()
        db.engine.dispose()
