"""Visits, what was done on them, signatures, and schedule requests (which create no visit)."""

from datetime import date, datetime

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint
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
# As the signature page says them ("Bathing — done").
TASK_STATUS_LABELS = {
    TaskStatus.PLANNED: _l("not recorded"),
    TaskStatus.DONE: _l("done"),
    TaskStatus.REFUSED: _l("refused"),
}


visit_series_tasks = Table(
    "visit_series_tasks",
    db.metadata,
    Column("series_id", ForeignKey("visit_series.id", ondelete="CASCADE"), primary_key=True),
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
)


class VisitSeries(TenantScoped, db.Model):
    """A weekly repeating visit: on the given weekdays at a local start time, from `first_day`
    until `last_day` (open-ended when none); visits are generated ahead from it."""

    __tablename__ = "visit_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregivers.id"))
    weekdays: Mapped[str] = mapped_column(String(20))  # ISO weekdays, "1,3,5" = Mon, Wed, Fri
    start_time: Mapped[str] = mapped_column(String(5))  # "HH:MM", the agency's local time
    minutes: Mapped[int] = mapped_column(Integer)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)
    # Visits exist up to this day; generating ahead continues from the day after.
    generated_until: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}

    client = relationship("Client")
    caregiver = relationship("Caregiver")
    tasks = relationship("Task", secondary=visit_series_tasks, order_by="Task.id")


class Visit(TenantScoped, db.Model):
    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_client_starts", "client_id", "starts_at"),
        Index("ix_visits_agency_starts", "agency_id", "starts_at"),
        UniqueConstraint("agency_id", "external_id"),
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
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # The weekly pattern that generated this visit, if any ("edit all future" follows it).
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("visit_series.id", ondelete="SET NULL"), index=True
    )
    external_id: Mapped[str | None] = mapped_column(String(64))
    summary_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}

    client = relationship("Client")
    caregiver = relationship("Caregiver")
    series = relationship("VisitSeries")
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
