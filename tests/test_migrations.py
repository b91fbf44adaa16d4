"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL.

An empty database is upgraded to head with Flask-Migrate, then Alembic's autogenerate compares
it with `db.metadata`: any difference (a column, type, index, unique or foreign key the migration
forgot) fails. Nothing is ignored. Then down to base and up again, so the downgrade works too.

SQLite runs always, on a file of its own. PostgreSQL runs when TEST_DATABASE_URL points at it,
in a schema of its own that is dropped afterwards, so the suite's own tables are not touched.
"""

import logging
import os
import uuid

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from app import create_app
from app.extensions import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")


@pytest.fixture(autouse=True)
def _keep_logging():
    """migrations/env.py runs logging.config.fileConfig, which disables every logger that exists
    (the app's, pytest's capture) and puts its own handler on root. Put things back afterwards."""
    manager = logging.root.manager
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers))
    saved = {
        name: (lg.disabled, lg.level, list(lg.handlers), lg.propagate)
        for name, lg in manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    yield
    root.setLevel(saved_root[0])
    root.handlers[:] = saved_root[1]
    for name, lg in list(manager.loggerDict.items()):
        if not isinstance(lg, logging.Logger):
            continue
        if name in saved:
            lg.disabled, level, handlers, lg.propagate = saved[name]
            lg.setLevel(level)
            lg.handlers[:] = handlers
        else:
            lg.disabled = False


def _differences(connection):
    return compare_metadata(MigrationContext.configure(connection), db.metadata)


def _head(app):
    config = app.extensions["migrate"].migrate.get_config(app.extensions["migrate"].directory)
    return ScriptDirectory.from_config(config).get_current_head()


def _check_migrations(url, **engine_options):
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, **engine_options},
    )
    with app.app_context():
        try:
            assert inspect(db.engine).get_table_names() == [], "the database is not empty"
            flask_migrate.upgrade()
            with db.engine.connect() as connection:
                assert MigrationContext.configure(connection).get_current_revision() == _head(app)
                assert _differences(connection) == []
                tables = set(inspect(connection).get_table_names())
            assert tables == set(db.metadata.tables) | {"alembic_version"}

            flask_migrate.downgrade(revision="base")
            assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}

            flask_migrate.upgrade()
            with db.engine.connect() as connection:
                assert _differences(connection) == []
        finally:
            db.session.remove()
            db.engine.dispose()


def test_sqlite_upgrade_to_head_matches_models(tmp_path):
    _check_migrations(f"sqlite:///{tmp_path / 'migrated.sqlite3'}")
    # What the comparison does not see: the tables whose rows are deleted never reuse an id, as
    # the models say (NEVER_REUSED_IDS), and rebuilding them kept their other constraints.
    import sqlite3

    with sqlite3.connect(tmp_path / "migrated.sqlite3") as connection:
        created = dict(connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    never_reused = {t.name for t in db.metadata.sorted_tables if t.kwargs.get("sqlite_autoincrement")}
    assert never_reused == {
        "invoices",
        "invoice_lines",
        "client_links",
        "documents",
        "lead_attachments",
        "stored_files",
    }
    assert {name for name, sql in created.items() if "AUTOINCREMENT" in sql} == never_reused
    assert "CONSTRAINT ck_invoices_status CHECK" in created["invoices"]
    assert "CONSTRAINT uq_invoices_agency_id_number UNIQUE" in created["invoices"]


@pytest.mark.skipif(not ON_POSTGRES, reason="TEST_DATABASE_URL does not point at PostgreSQL")
def test_postgresql_upgrade_to_head_matches_models():
    schema = f"migration_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        _check_migrations(TEST_DATABASE_URL, connect_args={"options": f"-csearch_path={schema}"})
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_one_head_and_one_base():
    """Two people adding migrations at once must merge them: one linear history."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://")
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config(app.extensions["migrate"].directory)
    scripts = ScriptDirectory.from_config(config)
    assert len(scripts.get_heads()) == 1
    assert len(scripts.get_bases()) == 1


@pytest.mark.parametrize(
    ("table", "column", "bad"),
    [("visits", "status", "done-ish"), ("invoices", "status", "overdue"), ("users", "role", "root")],
)
def test_the_database_refuses_a_status_outside_its_enum(app, make, world, table, column, bad):
    """The CHECK constraints (app/models/statuses.py `allowed`) hold on the test schema, built
    from the models, as the migrations build them on a real database."""
    from sqlalchemy.exc import IntegrityError

    from app.models import utcnow
    from tests.conftest import in_app

    make.visit(world.client_a, utcnow())
    make.invoice(world.client_a, "INV-CHECK")
    with in_app(app) as session:
        row_id = session.execute(text(f"SELECT id FROM {table} LIMIT 1")).scalar()
        with pytest.raises(IntegrityError):
            session.execute(
                text(f"UPDATE {table} SET {column} = :bad WHERE id = :id"), {"bad": bad, "id": row_id}
            )
            session.flush()
        session.rollback()
