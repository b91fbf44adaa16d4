"""separate link nonces, queued reset requests, unknown-name answer counts, payer visit notes

Revision ID: c5e1a7d20b44
Revises: b243c8af959a
Create Date: 2026-12-01 23:40:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

import app.models.base

# revision identifiers, used by Alembic.
revision = "c5e1a7d20b44"
down_revision = "b243c8af959a"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "password_reset_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.Column("requested_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_password_reset_requests_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_requests")),
    )
    with op.batch_alter_table("password_reset_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_reset_requests_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_password_reset_requests_processed_at"), ["processed_at"], unique=False
        )

    op.create_table(
        "unknown_name_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("security_failed_attempts", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_unknown_name_attempts_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unknown_name_attempts")),
        sa.UniqueConstraint("agency_id", "username", name=op.f("uq_unknown_name_attempts_agency_id_username")),
    )
    with op.batch_alter_table("unknown_name_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unknown_name_attempts_agency_id"), ["agency_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reset_nonce", sa.String(length=32), nullable=True))
    # Every existing user gets a nonce of their own; outstanding reset links (signed with the
    # shared nonce) stop working, which is the safe side.
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("reset_nonce", sa.String))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)).all():
        connection.execute(
            users.update().where(users.c.id == user_id).values(reset_nonce=secrets.token_hex(16))
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("reset_nonce", existing_type=sa.String(length=32), nullable=False)

    with op.batch_alter_table("client_links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("may_view_visit_notes", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("client_links", schema=None) as batch_op:
        batch_op.alter_column("may_view_visit_notes", server_default=None)


def downgrade():
    with op.batch_alter_table("client_links", schema=None) as batch_op:
        batch_op.drop_column("may_view_visit_notes")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("reset_nonce")
    with op.batch_alter_table("unknown_name_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unknown_name_attempts_agency_id"))
    op.drop_table("unknown_name_attempts")
    with op.batch_alter_table("password_reset_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_reset_requests_processed_at"))
        batch_op.drop_index(batch_op.f("ix_password_reset_requests_agency_id"))
    op.drop_table("password_reset_requests")
