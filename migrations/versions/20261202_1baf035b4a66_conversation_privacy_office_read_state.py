"""messages: private threads, the office's read and notified marks, "done", each user's notified
mark, and who in the office hears of new messages

Revision ID: 1baf035b4a66
Revises: f4c8d2a6b1e9
Create Date: 2026-12-02 02:20:27

"""

import sqlalchemy as sa
from alembic import op

import app.models.base

# revision identifiers, used by Alembic.
revision = "1baf035b4a66"
down_revision = "f4c8d2a6b1e9"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_recipient_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_agencies_message_recipient_id_users"),
            "users",
            ["message_recipient_id"],
            ["id"],
            ondelete="SET NULL",
            use_alter=True,
        )

    with op.batch_alter_table("conversation_reads", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notified_at", app.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.alter_column(
            "last_read_at", existing_type=app.models.base.UTCDateTime(timezone=True), nullable=True
        )

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_private", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(
            sa.Column("office_read_at", app.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("office_notified_at", app.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("done_at", app.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("done_by_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_conversations_agency_last_message", ["agency_id", "last_message_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_conversations_done_by_id_users"),
            "users",
            ["done_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.alter_column("is_private", server_default=None)


def downgrade():
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_conversations_done_by_id_users"), type_="foreignkey")
        batch_op.drop_index("ix_conversations_agency_last_message")
        batch_op.drop_column("done_by_id")
        batch_op.drop_column("done_at")
        batch_op.drop_column("office_notified_at")
        batch_op.drop_column("office_read_at")
        batch_op.drop_column("is_private")

    with op.batch_alter_table("conversation_reads", schema=None) as batch_op:
        batch_op.alter_column(
            "last_read_at", existing_type=app.models.base.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.drop_column("notified_at")

    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_agencies_message_recipient_id_users"), type_="foreignkey")
        batch_op.drop_column("message_recipient_id")
