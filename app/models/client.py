"""Clients (people receiving care) and the links that give portal users access to them."""

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.i18n import _l
from app.models.base import NEVER_REUSED_IDS, TenantScoped, UTCDateTime, utcnow

REL_SELF = "self"
REL_LEGAL = "legal_representative"
REL_EMERGENCY = "emergency_contact"
REL_PAYER = "payer"
RELATIONSHIPS = (REL_SELF, REL_LEGAL, REL_EMERGENCY, REL_PAYER)
RELATIONSHIP_LABELS = {
    REL_SELF: _l("Client"),
    REL_LEGAL: _l("Legal representative"),
    REL_EMERGENCY: _l("Emergency contact / family"),
    REL_PAYER: _l("Payer"),
}
# Who someone is to the client, inside a sentence ("Susan Jones · emergency contact / family").
RELATIONSHIP_WORDS = {
    REL_SELF: _l("the client"),
    REL_LEGAL: _l("legal representative"),
    REL_EMERGENCY: _l("emergency contact / family"),
    REL_PAYER: _l("payer"),
}

client_link_hidden_categories = Table(
    "client_link_hidden_categories",
    db.metadata,
    Column("client_link_id", ForeignKey("client_links.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "document_category_id",
        ForeignKey("document_categories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)


class Client(TenantScoped, db.Model):
    __tablename__ = "clients"
    __table_args__ = (UniqueConstraint("agency_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    usual_caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregivers.id"))
    # This client's hourly rate; none: the agency's default (a rated task overrides both).
    hourly_rate_cents: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The client's id in the agency's other software: a CSV re-import updates this row.
    external_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    usual_caregiver = relationship("Caregiver", foreign_keys=[usual_caregiver_id])
    links = relationship("ClientLink", back_populates="client")

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def __repr__(self) -> str:
        return f"<Client {self.display_name}>"


class ClientLink(TenantScoped, db.Model):
    """What one portal user may see of one client: a relationship ceiling plus agency switches."""

    __tablename__ = "client_links"
    __table_args__ = (UniqueConstraint("user_id", "client_id"), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    relationship_kind: Mapped[str] = mapped_column("relationship", String(30))
    # Agency ticks that raise a ceiling.
    may_view_care_plan: Mapped[bool] = mapped_column(Boolean, default=False)  # legal rep only
    may_view_invoices: Mapped[bool] = mapped_column(Boolean, default=False)  # emergency contact
    # Caregiver notes and refusal reasons: clients and family see them; a payer only when ticked
    # (minimum necessary).
    may_view_visit_notes: Mapped[bool] = mapped_column(Boolean, default=False)  # payer
    # An emergency contact signs visit records only where the agency ticks it.
    may_sign_visits: Mapped[bool] = mapped_column(Boolean, default=False)  # emergency contact
    # The "individualised" per-user switches; every section on by default.
    show_schedule: Mapped[bool] = mapped_column(Boolean, default=True)
    show_schedule_requests: Mapped[bool] = mapped_column(Boolean, default=True)
    show_invoices: Mapped[bool] = mapped_column(Boolean, default=True)
    show_payments: Mapped[bool] = mapped_column(Boolean, default=True)
    show_signatures: Mapped[bool] = mapped_column(Boolean, default=True)
    show_messages: Mapped[bool] = mapped_column(Boolean, default=True)
    show_documents: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user = relationship("User", back_populates="links", foreign_keys=[user_id])
    client = relationship("Client", back_populates="links")
    hidden_categories = relationship("DocumentCategory", secondary=client_link_hidden_categories)
