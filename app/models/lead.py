"""Client leads: enquiries the office follows up and may convert into clients."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import NEVER_REUSED_IDS, TenantScoped, UTCDateTime, utcnow


class ClientLead(TenantScoped, db.Model):
    __tablename__ = "client_leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)  # the enquiry as first taken down
    source: Mapped[str | None] = mapped_column(String(100))  # how they heard of the agency
    status: Mapped[str] = mapped_column(String(20), default="new")  # new | contacted | converted | lost
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    converted_client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    assigned_to = relationship("User")
    attachments = relationship("LeadAttachment", back_populates="lead", cascade="all, delete-orphan")
    lead_notes = relationship(
        "LeadNote", cascade="all, delete-orphan", order_by="LeadNote.created_at.desc(), LeadNote.id.desc()"
    )


class LeadAttachment(TenantScoped, db.Model):
    __tablename__ = "lead_attachments"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("client_leads.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id"))  # its size and type too
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lead = relationship("ClientLead", back_populates="attachments")
    file = relationship("StoredFile")


class LeadNote(TenantScoped, db.Model):
    """A dated note on a lead ("called back, wants mornings"), newest shown first."""

    __tablename__ = "lead_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("client_leads.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author = relationship("User")
