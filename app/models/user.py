"""People who sign in: agency staff and portal users (clients, representatives, payers).

A portal user's relationship to each client lives on ClientLink, not here, because one person
can be a payer for one client and an emergency contact for another.
"""

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TenantScoped, UTCDateTime, utcnow
from app.models.statuses import LinkPurpose, Role, allowed


def new_stamp() -> str:
    return secrets.token_hex(16)


class User(TenantScoped, UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("agency_id", "username"), allowed("role", Role))

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))  # stored lower case
    role: Mapped[str] = mapped_column(String(10), default=Role.PORTAL)
    is_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    # Confirmed by a link sent to the address (staff-entered addresses count as confirmed); a new
    # address waits in `pending_email` until its link is opened.
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pending_email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(Text)
    photo_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"))

    password_hash: Mapped[str | None] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Rotates on sign-out-everywhere, password change and lock: ends every session at once.
    session_stamp: Mapped[str] = mapped_column(String(32), default=new_stamp)
    # One nonce per kind of one-time link, so an anonymous "forgot password" cannot kill an unused
    # welcome link. Each rotates when its link is used or issued anew, and on every password change.
    token_nonce: Mapped[str] = mapped_column(String(32), default=new_stamp)  # welcome links
    reset_nonce: Mapped[str] = mapped_column(String(32), default=new_stamp)  # reset links
    email_nonce: Mapped[str] = mapped_column(String(32), default=new_stamp)  # e-mail confirmation links
    sign_in_nonce: Mapped[str] = mapped_column(String(32), default=new_stamp)  # e-mailed sign-in links
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_locked: Mapped[bool] = mapped_column(Boolean, default=False)  # by staff
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    security_question: Mapped[str | None] = mapped_column(String(200))
    security_answer_hash: Mapped[str | None] = mapped_column(String(255))
    security_failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The last 30-second step a code was accepted for: the same code cannot be used twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    language: Mapped[str] = mapped_column(String(5), default="en")
    time_zone: Mapped[str | None] = mapped_column(String(64))
    large_text: Mapped[bool] = mapped_column(Boolean, default=False)
    high_contrast: Mapped[bool] = mapped_column(Boolean, default=False)
    notify_messages: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_visit_summary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agency = relationship("Agency", foreign_keys="User.agency_id")
    links = relationship("ClientLink", back_populates="user", foreign_keys="ClientLink.user_id")

    @property
    def is_staff(self) -> bool:
        return self.role == Role.STAFF

    @property
    def display_name(self) -> str:
        return self.organisation_name or f"{self.first_name} {self.last_name}"

    def get_id(self) -> str:
        # The stamp rides in the session so rotating it revokes every session on the server.
        return f"{self.id}:{self.session_stamp}"

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class PasswordResetRequest(TenantScoped, db.Model):
    """A "forgot password" or "e-mail me a sign-in link" request, queued for the outbox worker.

    The form only writes this row, whatever the name, so a known and an unknown login name cost
    the same work and take the same time to answer; the worker looks the name up and mails the
    link when there is an account that may have one.
    """

    __tablename__ = "password_reset_requests"
    __table_args__ = (allowed("purpose", LinkPurpose),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20), default=LinkPurpose.RESET)
    username: Mapped[str] = mapped_column(String(80))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class UnknownNameAttempts(TenantScoped, db.Model):
    """Wrong security answers given for a login name that has no account.

    Counted like a real account's, so "too many answers" shows for unknown names exactly as for
    known ones and the question page reveals nothing about who is registered.
    """

    __tablename__ = "unknown_name_attempts"
    __table_args__ = (UniqueConstraint("agency_id", "username"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))  # lower case
    security_failed_attempts: Mapped[int] = mapped_column(Integer, default=0)


def find_login(agency_id: int, username: str | None) -> User | None:
    """The agency's account with this login name (any case, outer spaces ignored), if any."""
    name = (username or "").strip().lower()
    return db.session.scalar(
        db.select(User).where(User.agency_id == agency_id, func.lower(User.username) == name)
    )
