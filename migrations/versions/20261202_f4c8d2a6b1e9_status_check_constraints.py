"""CHECK constraints for statuses and roles (the StrEnums of app/models/statuses.py)

Revision ID: f4c8d2a6b1e9
Revises: e7a3c91f5b20
Create Date: 2026-12-02 00:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "f4c8d2a6b1e9"
down_revision = "e7a3c91f5b20"
branch_labels = None
depends_on = None

# table → (column, allowed values), as the enums stood when this migration was written.
CHECKS = {
    "visits": ("status", ("scheduled", "in_progress", "completed", "cancelled", "missed")),
    "visit_tasks": ("status", ("planned", "done", "refused")),
    "invoices": ("status", ("draft", "issued", "paid", "void")),
    "schedule_requests": ("status", ("open", "handled", "declined")),
    "outbox_mails": ("status", ("pending", "sent", "failed")),
    "users": ("role", ("staff", "portal")),
}


def upgrade():
    for table, (column, values) in CHECKS.items():
        listed = ", ".join(f"'{value}'" for value in values)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_check_constraint(op.f(f"ck_{table}_{column}"), f"{column} IN ({listed})")


def downgrade():
    for table, (column, _values) in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
