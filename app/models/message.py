"""Conversations between a client's portal users and the office, with per-user read state."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TenantScoped, UTCDateTime, utcnow


class Conversation(TenantScoped, db.Model):
    """A thread about one client. The client's family (everyone linked whose messages section is
    on; a payer only in threads they started) reads it, unless its starter kept it between
    themselves and the office (`is_private`). The rules are in app/auth/policies.py."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_agency_last_message", "agency_id", "last_message_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    # The office's side, shared by its staff: when someone last read the thread and when the office
    # was last told of it by mail (told again only once it has been read); "done" closes it until the
    # family writes again.
    office_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    office_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Set when a payer or client questions an invoice line.
    invoice_line_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_lines.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    client = relationship("Client")
    started_by = relationship("User", foreign_keys=[started_by_id])
    done_by = relationship("User", foreign_keys=[done_by_id])
    messages = relationship("Message", back_populates="conversation", order_by="Message.created_at")


class Message(TenantScoped, db.Model):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    conversation = relationship("Conversation", back_populates="messages")
    sender = relationship("User")


class ConversationRead(TenantScoped, db.Model):
    """How far one portal user has read one conversation (messages after this are unread), and
    when they were last told of it by mail: told again only once they have read it."""

    __tablename__ = "conversation_reads"
    __table_args__ = (UniqueConstraint("conversation_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    last_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
