"""Caregivers (not portal users) and the agency's task list."""

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TenantScoped


class Caregiver(TenantScoped, db.Model):
    __tablename__ = "caregivers"
    __table_args__ = (UniqueConstraint("agency_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    photo_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"))
    # What families read on the "who is coming" card: a few sentences and the languages spoken.
    bio: Mapped[str | None] = mapped_column(Text)
    languages: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    external_id: Mapped[str | None] = mapped_column(String(64))

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class ClientCaregiver(TenantScoped, db.Model):
    """A caregiver the agency marked as preferred for a client (offered in schedule requests)."""

    __tablename__ = "client_caregivers"
    __table_args__ = (UniqueConstraint("client_id", "caregiver_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    caregiver_id: Mapped[int] = mapped_column(ForeignKey("caregivers.id", ondelete="CASCADE"))
    is_preferred: Mapped[bool] = mapped_column(Boolean, default=True)

    caregiver = relationship("Caregiver")


class Task(TenantScoped, db.Model):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # A task with its own hourly rate (skilled care, say) bills the whole visit at that rate.
    hourly_rate_cents: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
