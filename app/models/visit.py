"""Visits, what was done on them, signatures, and schedule requests (which create no visit)."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.i18n import _l
from app.models.base import TenantScoped, UTCDateTime, utcnow
from app.models.statuses import RequestStatus, TaskStatus, VisitStatus, allowed

VISIT_STATUS_LABELS = {
    # Translators: the status of a visit (in Spanish "visita", feminine).
    VisitStatus.SCHEDULED: _l("Scheduled"),
    VisitStatus.IN_PROGRESS: _l("In progress"),
    VisitStatus.COMPLETED: _l("Completed"),
    VisitStatus.CANCELLED: _l("Cancelled"),
    VisitStatus.MISSED: _l("Missed"),
}


class Visit(TenantScoped, db.Model):
    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_client_starts", "client_id", "starts_at"),
        allowed("status", VisitStatus),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregivers.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default=VisitStatus.SCHEDULED)
    clock_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clock_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    caregiver_note: Mapped[str | None] = mapped_column(Text)
    summary_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}

    client = relationship("Client")
    caregiver = relationship("Caregiver")
    tasks = relationship(
        "VisitTask", back_populates="visit", cascade="all, delete-orphan", order_by="VisitTask.id"
    )
    signatures = relationship("Signature", back_populates="visit", order_by="Signature.signed_at")


class VisitTask(TenantScoped, db.Model):
    __tablename__ = "visit_tasks"
    __table_args__ = (allowed("status", TaskStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    status: Mapped[str] = mapped_column(String(10), default=TaskStatus.PLANNED)
    refusal_reason: Mapped[str | None] = mapped_column(String(300))

    visit = relationship("Visit", back_populates="tasks")
    task = relationship("Task", lazy="joined")


class Signature(TenantScoped, db.Model):
    """A client-side signature of a completed visit; a later change to the visit voids it."""

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # How the signer is related to the client when signing (self, legal_representative, …).
    relationship_kind: Mapped[str | None] = mapped_column(String(30))
    method: Mapped[str] = mapped_column(String(10))  # drawn | typed
    typed_name: Mapped[str | None] = mapped_column(String(200))
    # The drawn signature as a PNG in the file store.
    drawing_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    facts_hash: Mapped[str] = mapped_column(String(64))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(String(200))

    visit = relationship("Visit", back_populates="signatures")
    signer = relationship("User")


schedule_request_tasks = Table(
    "schedule_request_tasks",
    db.metadata,
    Column("schedule_request_id", ForeignKey("schedule_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
)


class ScheduleRequest(TenantScoped, db.Model):
    __tablename__ = "schedule_requests"
    __table_args__ = (allowed("status", RequestStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    care_needed: Mapped[str] = mapped_column(Text)
    preferred_caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregivers.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=RequestStatus.OPEN)
    staff_note: Mapped[str | None] = mapped_column(Text)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    client = relationship("Client")
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    handled_by = relationship("User", foreign_keys=[handled_by_id])
    preferred_caregiver = relationship("Caregiver")
    tasks = relationship("Task", secondary=schedule_request_tasks)
