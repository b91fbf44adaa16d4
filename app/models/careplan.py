"""Care / service plans: seen by the client, ticked legal representatives and staff only."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TenantScoped, UTCDateTime, utcnow


class CarePlan(TenantScoped, db.Model):
    __tablename__ = "care_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), unique=True)
    goals: Mapped[str | None] = mapped_column(Text)
    frequency: Mapped[str | None] = mapped_column(String(200))
    special_instructions: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __mapper_args__ = {"version_id_col": version}

    client = relationship("Client")
    updated_by = relationship("User")
    tasks = relationship(
        "CarePlanTask", back_populates="care_plan", cascade="all, delete-orphan", order_by="CarePlanTask.id"
    )


class CarePlanTask(TenantScoped, db.Model):
    __tablename__ = "care_plan_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    care_plan_id: Mapped[int] = mapped_column(ForeignKey("care_plans.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    per_visit_notes: Mapped[str | None] = mapped_column(String(300))

    care_plan = relationship("CarePlan", back_populates="tasks")
    task = relationship("Task", lazy="joined")


class CarePlanVersion(TenantScoped, db.Model):
    """A care plan as it was before a save: what it said, who saved it then and when."""

    __tablename__ = "care_plan_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    care_plan_id: Mapped[int] = mapped_column(ForeignKey("care_plans.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    goals: Mapped[str | None] = mapped_column(Text)
    frequency: Mapped[str | None] = mapped_column(String(200))
    special_instructions: Mapped[str | None] = mapped_column(Text)
    # The tasks then: [{"task_id": 3, "name": "Bathing", "per_visit_notes": "…"}, …]
    tasks: Mapped[list] = mapped_column(JSON, default=list)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    saved_by = relationship("User")
