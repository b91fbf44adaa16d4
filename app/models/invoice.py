"""Invoices, their lines and payments. Money is integer cents throughout."""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint, and_
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import NEVER_REUSED_IDS, TenantScoped, UTCDateTime, utcnow
from app.models.statuses import InvoiceStatus, allowed


class Invoice(TenantScoped, db.Model):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("agency_id", "number"),
        allowed("status", InvoiceStatus),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None while a draft: a number is given only when the invoice is issued.
    number: Mapped[str | None] = mapped_column(String(30))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    # A payer's account, or NULL when the invoice is billed to the client themself.
    billed_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=InvoiceStatus.DRAFT)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_on: Mapped[date | None] = mapped_column(Date)
    total_cents: Mapped[int] = mapped_column(Integer, default=0)
    paid_cents: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str | None] = mapped_column(Text)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}

    client = relationship("Client")
    billed_to = relationship("User")
    lines = relationship(
        "InvoiceLine", back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.id"
    )
    payments = relationship("Payment", back_populates="invoice", order_by="Payment.received_at")

    @property
    def balance_cents(self) -> int:
        return self.total_cents - self.paid_cents

    @hybrid_property
    def is_outstanding(self) -> bool:
        """Issued and not fully paid: in Python on a row, and as SQL in a query's WHERE."""
        return self.status == InvoiceStatus.ISSUED and self.balance_cents > 0

    @is_outstanding.inplace.expression
    @classmethod
    def _is_outstanding_expression(cls):
        return and_(cls.status == InvoiceStatus.ISSUED, cls.total_cents > cls.paid_cents)


class InvoiceLine(TenantScoped, db.Model):
    """One billed item; for a visit it keeps scheduled, clocked and billed time side by side."""

    __tablename__ = "invoice_lines"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(String(300))
    billed_minutes: Mapped[int | None] = mapped_column(Integer)
    rate_cents: Mapped[int] = mapped_column(Integer, default=0)  # per hour, or per unit
    amount_cents: Mapped[int] = mapped_column(Integer)

    invoice = relationship("Invoice", back_populates="lines")
    visit = relationship("Visit")


class Payment(TenantScoped, db.Model):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(20))  # card | check | cash | transfer
    reference: Mapped[str | None] = mapped_column(String(120))
    # The gateway's event id: unique, so a webhook delivered twice records one payment.
    gateway_event_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A refund is a payment of a negative amount that names the payment it gives money back from.
    refund_of_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))

    invoice = relationship("Invoice", back_populates="payments")

    @property
    def is_refund(self) -> bool:
        return self.refund_of_id is not None
