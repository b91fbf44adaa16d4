"""each agency's own Stripe keys, stored sealed

Revision ID: 5ef815d522b5
Revises: 5c5a267f178e
Create Date: 2026-12-02 04:15:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5ef815d522b5"
down_revision = "5c5a267f178e"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stripe_secret_key_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("stripe_webhook_secret_encrypted", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_column("stripe_webhook_secret_encrypted")
        batch_op.drop_column("stripe_secret_key_encrypted")
