"""care records: signature details and drawn image, emergency contacts' signing tick, care plan
history, categories families may upload to

Revision ID: 3d9b6e2a7c41
Revises: 8a41c7d9e2b6
Create Date: 2026-12-02 06:55:00

"""

import sqlalchemy as sa
from alembic import op

import app.models.base

# revision identifiers, used by Alembic.
revision = "3d9b6e2a7c41"
down_revision = "8a41c7d9e2b6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client_links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("may_sign_visits", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relationship_kind", sa.String(30), nullable=True))
        batch_op.add_column(sa.Column("drawing_file_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("user_agent", sa.String(300), nullable=True))
        batch_op.create_foreign_key(
            "fk_signatures_drawing_file_id_stored_files", "stored_files", ["drawing_file_id"], ["id"]
        )
        batch_op.drop_column("drawing_svg")
    with op.batch_alter_table("document_categories", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("families_may_upload", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("care_plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_care_plans_updated_by_id_users", "users", ["updated_by_id"], ["id"])
    op.create_table(
        "care_plan_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("care_plan_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("goals", sa.Text(), nullable=True),
        sa.Column("frequency", sa.String(200), nullable=True),
        sa.Column("special_instructions", sa.Text(), nullable=True),
        sa.Column("tasks", sa.JSON(), nullable=False),
        sa.Column("saved_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("saved_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name="fk_care_plan_versions_agency_id_agencies"
        ),
        sa.ForeignKeyConstraint(
            ["care_plan_id"],
            ["care_plans.id"],
            name="fk_care_plan_versions_care_plan_id_care_plans",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["saved_by_id"], ["users.id"], name="fk_care_plan_versions_saved_by_id_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_care_plan_versions"),
    )
    with op.batch_alter_table("care_plan_versions", schema=None) as batch_op:
        batch_op.create_index("ix_care_plan_versions_agency_id", ["agency_id"], unique=False)
        batch_op.create_index("ix_care_plan_versions_care_plan_id", ["care_plan_id"], unique=False)


def downgrade():
    op.drop_table("care_plan_versions")
    with op.batch_alter_table("care_plans", schema=None) as batch_op:
        batch_op.drop_constraint("fk_care_plans_updated_by_id_users", type_="foreignkey")
        batch_op.drop_column("updated_by_id")
    with op.batch_alter_table("document_categories", schema=None) as batch_op:
        batch_op.drop_column("families_may_upload")
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drawing_svg", sa.Text(), nullable=True))
        batch_op.drop_constraint("fk_signatures_drawing_file_id_stored_files", type_="foreignkey")
        batch_op.drop_column("user_agent")
        batch_op.drop_column("drawing_file_id")
        batch_op.drop_column("relationship_kind")
    with op.batch_alter_table("client_links", schema=None) as batch_op:
        batch_op.drop_column("may_sign_visits")
