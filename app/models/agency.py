"""Agencies are the tenants: one deployment serves many, each found from the request host."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class Agency(db.Model):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    host: Mapped[str | None] = mapped_column(String(253), unique=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    time_zone: Mapped[str] = mapped_column(String(64), default="America/Chicago")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    # Billing: invoice numbers are "<prefix>-<n>", n taken from the counter when an invoice is
    # issued (app/services/invoices.py), so issued numbers run on without gaps.
    invoice_prefix: Mapped[str] = mapped_column(String(12), default="INV")
    next_invoice_number: Mapped[int] = mapped_column(Integer, default=1001)
    # The hourly rate of a visit when neither its tasks nor its client carry one.
    default_hourly_rate_cents: Mapped[int] = mapped_column(Integer, default=0)
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=14)
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(Text)
    # stored_files.agency_id points back here: the key is added once both tables exist.
    logo_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", use_alter=True))
    session_idle_minutes: Mapped[int] = mapped_column(Integer, default=15)
    security_questions_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    staff_two_factor_required: Mapped[bool] = mapped_column(Boolean, default=False)
    schedule_request_recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, ondelete="SET NULL")
    )
    schedule_request_horizon_days: Mapped[int] = mapped_column(Integer, default=90)
    message_template: Mapped[str | None] = mapped_column(Text)
    # Who hears of new portal messages by mail (else the office address).
    message_recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, ondelete="SET NULL")
    )
    # Older clients forget passwords: a one-time sign-in link by e-mail, unless the agency says no.
    email_sign_in_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # A family's invitations wait for the office unless the agency lets them go straight out.
    invitations_need_approval: Mapped[bool] = mapped_column(Boolean, default=True)
    payment_gateway: Mapped[str] = mapped_column(String(20), default="none")
    # The agency's own Stripe keys, sealed (app.services.gateway_keys); none: the deployment's.
    stripe_secret_key_encrypted: Mapped[str | None] = mapped_column(Text)
    stripe_webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped on every change: two tabs saving the office settings cannot silently overwrite each other.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def zone(self) -> ZoneInfo:
        """The office's time zone: what "today", a day's bounds and a typed time mean."""
        return ZoneInfo(self.time_zone)

    def today(self) -> date:
        return utcnow().astimezone(self.zone).date()

    def __repr__(self) -> str:
        return f"<Agency {self.slug}>"
