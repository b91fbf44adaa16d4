"""family access (invitations, consent records), confirmed e-mail addresses, e-mail sign-in links

Revision ID: 5c5a267f178e
Revises: 1baf035b4a66
Create Date: 2026-12-02 02:51:18

"""

import secrets

import sqlalchemy as sa
from alembic import op

import app.models.base

# revision identifiers, used by Alembic.
revision = "5c5a267f178e"
down_revision = "1baf035b4a66"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("relationship", sa.String(length=30), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('awaiting_approval', 'sent', 'accepted', 'declined', 'withdrawn')",
            name=op.f("ck_invitations_status"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_invitations_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_invitations_client_id_clients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_invitations_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"], ["users.id"], name=op.f("fk_invitations_invited_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_invitations_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invitations_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invitations_client_id"), ["client_id"], unique=False)

    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("subject_user_id", sa.Integer(), nullable=True),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.Column("subject_name", sa.String(length=201), nullable=False),
        sa.Column("relationship", sa.String(length=30), nullable=True),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "action IN ('invited', 'approved', 'declined', 'withdrawn', 'granted', 'revoked')",
            name=op.f("ck_consent_records_action"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_consent_records_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_consent_records_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_consent_records_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_consent_records_invitation_id_invitations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subject_user_id"],
            ["users.id"],
            name=op.f("fk_consent_records_subject_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_records_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_records_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_records_created_at"), ["created_at"], unique=False)

    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_sign_in_enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("invitations_need_approval", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.alter_column("email_sign_in_enabled", server_default=None)
        batch_op.alter_column("invitations_need_approval", server_default=None)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_confirmed_at", app.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("pending_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("email_nonce", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("sign_in_nonce", sa.String(length=32), nullable=True))
    # Each user gets nonces of their own. Addresses already on file were entered by the office (or
    # by the user, before confirmation existed): they count as confirmed, as they always did.
    users = sa.table(
        "users",
        sa.column("id", sa.Integer),
        sa.column("email", sa.String),
        sa.column("created_at", app.models.base.UTCDateTime(timezone=True)),
        sa.column("email_confirmed_at", app.models.base.UTCDateTime(timezone=True)),
        sa.column("email_nonce", sa.String),
        sa.column("sign_in_nonce", sa.String),
    )
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)).all():
        connection.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(email_nonce=secrets.token_hex(16), sign_in_nonce=secrets.token_hex(16))
        )
    connection.execute(
        users.update().where(users.c.email.is_not(None)).values(email_confirmed_at=users.c.created_at)
    )
    with op.batch_alter_table("password_reset_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purpose", sa.String(length=20), nullable=False, server_default="reset"))
        batch_op.create_check_constraint(
            batch_op.f("ck_password_reset_requests_purpose"), "purpose IN ('reset', 'sign_in')"
        )
    with op.batch_alter_table("password_reset_requests", schema=None) as batch_op:
        batch_op.alter_column("purpose", server_default=None)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("email_nonce", existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column("sign_in_nonce", existing_type=sa.String(length=32), nullable=False)


def downgrade():
    with op.batch_alter_table("password_reset_requests", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_password_reset_requests_purpose"), type_="check")
        batch_op.drop_column("purpose")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("sign_in_nonce")
        batch_op.drop_column("email_nonce")
        batch_op.drop_column("pending_email")
        batch_op.drop_column("email_confirmed_at")

    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_column("invitations_need_approval")
        batch_op.drop_column("email_sign_in_enabled")

    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_records_created_at"))
        batch_op.drop_index(batch_op.f("ix_consent_records_client_id"))
        batch_op.drop_index(batch_op.f("ix_consent_records_agency_id"))

    op.drop_table("consent_records")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_client_id"))
        batch_op.drop_index(batch_op.f("ix_invitations_agency_id"))

    op.drop_table("invitations")
