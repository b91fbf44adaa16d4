"""Append-only, hash-chained audit events: each row's hash covers the previous row's hash in its
agency's chain (app/services/audit.py writes and verifies them)."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class AuditEvent(db.Model):
    # Not TenantScoped: sign-in failures for unknown names have an agency but no user, and the
    # verifier walks every agency's chain at once. Reads always filter on agency_id explicitly.
    __tablename__ = "audit_events"
    # One chain per agency (events of no agency form their own): its newest event is found by
    # (agency_id, id).
    __table_args__ = (Index("ix_audit_events_agency_chain", "agency_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[int | None] = mapped_column(Integer)
    client_id: Mapped[int | None] = mapped_column(Integer, index=True)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
