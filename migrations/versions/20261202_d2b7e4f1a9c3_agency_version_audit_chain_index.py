"""agency version (stale office-settings saves), per-agency audit chain index

Revision ID: d2b7e4f1a9c3
Revises: c5e1a7d20b44
Create Date: 2026-12-02 00:05:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d2b7e4f1a9c3"
down_revision = "c5e1a7d20b44"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.alter_column("version", server_default=None)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_agency_chain", ["agency_id", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_agency_chain")
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_column("version")
