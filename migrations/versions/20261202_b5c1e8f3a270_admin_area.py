"""admin area: external ids for import, caregiver profile, visit cancel reasons and weekly series,
lead notes and sources

Revision ID: b5c1e8f3a270
Revises: 3d9b6e2a7c41
Create Date: 2026-12-02 12:05:29.473939

"""

import sqlalchemy as sa
from alembic import op

import app.models.base

# revision identifiers, used by Alembic.
revision = "b5c1e8f3a270"
down_revision = "3d9b6e2a7c41"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "visit_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("caregiver_id", sa.Integer(), nullable=True),
        sa.Column("weekdays", sa.String(length=20), nullable=False),
        sa.Column("start_time", sa.String(length=5), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=True),
        sa.Column("generated_until", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_visit_series_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["caregiver_id"], ["caregivers.id"], name=op.f("fk_visit_series_caregiver_id_caregivers")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_visit_series_client_id_clients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_series")),
    )
    with op.batch_alter_table("visit_series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_series_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visit_series_client_id"), ["client_id"], unique=False)

    op.create_table(
        "lead_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_lead_notes_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_lead_notes_author_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["client_leads.id"],
            name=op.f("fk_lead_notes_lead_id_client_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_notes")),
    )
    with op.batch_alter_table("lead_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_notes_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lead_notes_lead_id"), ["lead_id"], unique=False)

    op.create_table(
        "visit_series_tasks",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["visit_series.id"],
            name=op.f("fk_visit_series_tasks_series_id_visit_series"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_visit_series_tasks_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("series_id", "task_id", name=op.f("pk_visit_series_tasks")),
    )
    with op.batch_alter_table("caregivers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("bio", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("languages", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_caregivers_agency_id_external_id"), ["agency_id", "external_id"]
        )

    with op.batch_alter_table("client_leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=100), nullable=True))

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_clients_agency_id_external_id"), ["agency_id", "external_id"]
        )

    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("series_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_visits_agency_starts", ["agency_id", "starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_visits_series_id"), ["series_id"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_visits_agency_id_external_id"), ["agency_id", "external_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_visits_series_id_visit_series"),
            "visit_series",
            ["series_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_visits_series_id_visit_series"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_visits_agency_id_external_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_visits_series_id"))
        batch_op.drop_index("ix_visits_agency_starts")
        batch_op.drop_column("external_id")
        batch_op.drop_column("series_id")
        batch_op.drop_column("cancel_reason")

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_clients_agency_id_external_id"), type_="unique")
        batch_op.drop_column("external_id")

    with op.batch_alter_table("client_leads", schema=None) as batch_op:
        batch_op.drop_column("source")

    with op.batch_alter_table("caregivers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_caregivers_agency_id_external_id"), type_="unique")
        batch_op.drop_column("external_id")
        batch_op.drop_column("languages")
        batch_op.drop_column("bio")
        batch_op.drop_column("email")

    op.drop_table("visit_series_tasks")
    with op.batch_alter_table("lead_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_notes_lead_id"))
        batch_op.drop_index(batch_op.f("ix_lead_notes_agency_id"))

    op.drop_table("lead_notes")
    with op.batch_alter_table("visit_series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_series_client_id"))
        batch_op.drop_index(batch_op.f("ix_visit_series_agency_id"))

    op.drop_table("visit_series")
