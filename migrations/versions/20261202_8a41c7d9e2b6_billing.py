"""billing: invoice numbers on issue, rates, void reasons, refunds

Revision ID: 8a41c7d9e2b6
Revises: 5ef815d522b5
Create Date: 2026-12-02 06:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8a41c7d9e2b6"
down_revision = "5ef815d522b5"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invoice_prefix", sa.String(12), nullable=False, server_default="INV"))
        batch_op.add_column(sa.Column("next_invoice_number", sa.Integer(), nullable=False, server_default="1001"))
        batch_op.add_column(
            sa.Column("default_hourly_rate_cents", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("payment_terms_days", sa.Integer(), nullable=False, server_default="14"))
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hourly_rate_cents", sa.Integer(), nullable=True))
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hourly_rate_cents", sa.Integer(), nullable=True))
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.alter_column("number", existing_type=sa.String(30), nullable=True)
        batch_op.add_column(sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("void_reason", sa.String(300), nullable=True))
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refund_of_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_payments_refund_of_id_payments", "payments", ["refund_of_id"], ["id"])


def downgrade():
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint("fk_payments_refund_of_id_payments", type_="foreignkey")
        batch_op.drop_column("refund_of_id")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("void_reason")
        batch_op.drop_column("voided_at")
        batch_op.alter_column("number", existing_type=sa.String(30), nullable=False)
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("hourly_rate_cents")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("hourly_rate_cents")
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_column("payment_terms_days")
        batch_op.drop_column("default_hourly_rate_cents")
        batch_op.drop_column("next_invoice_number")
        batch_op.drop_column("invoice_prefix")
