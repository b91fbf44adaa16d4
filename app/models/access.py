"""Access the family controls: invitations a client or representative sends, and the consent
records of every grant and revoke of access to a client's record."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TenantScoped, UTCDateTime, utcnow
from app.models.statuses import ConsentAction, InvitationStatus, allowed
from app.models.user import new_stamp


class Invitation(TenantScoped, db.Model):
    """Someone a client (or their legal representative) asked to give portal access to: the
    relationship and the sections they may see, within that relationship's ceiling."""

    __tablename__ = "invitations"
    __table_args__ = (allowed("status", InvitationStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    relationship_kind: Mapped[str] = mapped_column("relationship", String(30))
    sections: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default=InvitationStatus.AWAITING_APPROVAL)
    # In the link's payload: a new nonce kills every earlier link of this invitation.
    nonce: Mapped[str] = mapped_column(String(32), default=new_stamp)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    client = relationship("Client")
    invited_by = relationship("User", foreign_keys=[invited_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
    user = relationship("User", foreign_keys=[user_id])

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ConsentRecord(TenantScoped, db.Model):
    """One grant or revoke of access to a client's record: who did it, when, for whom, what."""

    __tablename__ = "consent_records"
    __table_args__ = (allowed("action", ConsentAction),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Whose access: an account, or (before it exists) the invitation and the name it gives.
    subject_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id", ondelete="SET NULL"))
    subject_name: Mapped[str] = mapped_column(String(201))
    relationship_kind: Mapped[str | None] = mapped_column("relationship", String(30))
    sections: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    actor = relationship("User", foreign_keys=[actor_id])
