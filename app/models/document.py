"""Files the agency shares with a client's portal users, grouped by agency-defined categories."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import NEVER_REUSED_IDS, TenantScoped, UTCDateTime, utcnow


class DocumentCategory(TenantScoped, db.Model):
    __tablename__ = "document_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Families may add files here (a signed form, say), with the same checks as the office's.
    families_may_upload: Mapped[bool] = mapped_column(Boolean, default=False)


class Document(TenantScoped, db.Model):
    __tablename__ = "documents"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("document_categories.id"))
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id"))  # its size and type too
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    category = relationship("DocumentCategory")
