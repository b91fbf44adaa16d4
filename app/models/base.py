"""Shared column helpers and the TenantScoped mixin the safety net keys on."""

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Integer
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every engine (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given for a UTC column")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        # SQLite hands back naive UTC; PostgreSQL hands back the session's time zone.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# For tables whose rows are deleted (a discarded draft, a removed link or file): SQLite would give a
# deleted row's id to the next new row, and the audit log and old links name rows by id.
# PostgreSQL sequences never reuse one. Last in a `__table_args__` tuple, or the whole of it.
NEVER_REUSED_IDS = {"sqlite_autoincrement": True}


class TenantScoped:
    """Rows owned by one agency. Every SELECT of these gets `agency_id = g.agency.id` added."""

    @declared_attr
    def agency_id(cls) -> Mapped[int]:
        return mapped_column(Integer, ForeignKey("agencies.id"), index=True)
