"""What the database knows about a stored file; the bytes live in the storage directory.

Rows that own a file (a photo, a logo, a document, a lead attachment) point here by foreign key,
so the bytes stay out of the database and its backups stay small. The same bytes are stored once
per agency: the (agency, sha256) pair is unique, and two documents with equal contents share one
row. app/services/storage.py is the only code that writes or reads the bytes.
"""

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import NEVER_REUSED_IDS, TenantScoped, UTCDateTime, utcnow


class StoredFile(TenantScoped, db.Model):
    __tablename__ = "stored_files"
    __table_args__ = (UniqueConstraint("agency_id", "sha256"), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))  # hex digest of the bytes: also their file name
    size_bytes: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<StoredFile {self.id} {self.sha256[:12]}>"
