"""Files behind one interface: the bytes in a private directory, what we know of them in the database.

Photos, logos, documents and lead attachments are stored here and nowhere else (never in the
database, never under static/). A file is named by the sha256 of its bytes and kept at
`STORAGE_DIR/<agency id>/ab/cd/abcd…` (two levels of fan-out keep folders small); folders are
0700 and files 0600. Its `StoredFile` row records agency, hash, size and type, once per agency:
putting the same bytes again hands back the same row.

Bytes and row cannot commit together, so the order is chosen for what a failure leaves behind:
- `put` writes the file first (to a temporary name, then renamed: never half a file under a hash
  name), then the row. A rollback leaves a file no row names, which is harmless: it is exactly
  the bytes its name says, and the next `put` of those bytes reuses it.
- `delete` removes the row now and the file only after the transaction commits; a rollback keeps
  both. A file some row still points at is not deleted at all.

Storing is plumbing, not an operation of its own: the service that owns the upload (a document,
a profile picture) audits it. Like every service this flushes and never commits.
"""

import hashlib
import os
import tempfile
from contextlib import nullcontext
from functools import cache
from pathlib import Path

from flask import current_app
from sqlalchemy import Engine, event, exists, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Agency, StoredFile

_INSERTS = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}
_PENDING_UNLINKS = "storage_pending_unlinks"  # session.info key: files to remove after the commit
# Photo formats we serve, by their first bytes (WebP is RIFF....WEBP); anything else is refused.
_IMAGE_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


class StoredFileDamaged(RuntimeError):
    """The bytes on disk are not the ones the row describes (a damaged disk or a mismatched restore)."""


def put(agency: Agency, data: bytes, content_type: str) -> StoredFile:
    """Store these bytes for the agency and return their row (the existing one for bytes it already has)."""
    digest = hashlib.sha256(data).hexdigest()
    _write_once(_path(agency.id, digest), data)
    # One upsert that hands back the row: two requests storing the same bytes at once both end up
    # with the one row, where a SELECT-then-INSERT would let the second fail on the unique key.
    insert = _INSERTS[db.session.get_bind().dialect.name](StoredFile)
    statement = (
        insert.values(agency_id=agency.id, sha256=digest, size_bytes=len(data), content_type=content_type)
        .on_conflict_do_update(
            index_elements=["agency_id", "sha256"], set_={"sha256": insert.excluded.sha256}
        )
        .returning(StoredFile)
    )
    return db.session.scalars(statement, execution_options={"populate_existing": True}).one()


def get(agency: Agency, file_id: int | None) -> StoredFile | None:
    """The agency's file with this id; None for no id, an unknown one or another agency's."""
    if file_id is None:
        return None
    return db.session.scalars(
        select(StoredFile).where(StoredFile.id == file_id, StoredFile.agency_id == agency.id)
    ).one_or_none()


def read(stored: StoredFile) -> bytes:
    """The file's bytes, checked against their hash: a damaged or mismatched file is an error, never
    silently someone else's picture."""
    data = _path(stored.agency_id, stored.sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != stored.sha256:
        raise StoredFileDamaged(f"stored file {stored.id} does not match its hash")
    return data


def delete(stored: StoredFile) -> bool:
    """Forget a file no row points at any more: its row goes now, its bytes once the transaction
    commits. False, and nothing done, while a photo, logo, document or attachment still uses it."""
    # One statement asks every owner column at once.
    used = or_(*(exists().where(column == stored.id) for column in _owner_columns()))
    if db.session.scalar(select(used), execution_options={"skip_tenant_scope": True}):
        return False
    db.session.delete(stored)
    db.session.flush()
    db.session.info.setdefault(_PENDING_UNLINKS, set()).add((stored.agency_id, stored.sha256))
    return True


def image_type(data: bytes) -> str | None:
    """The type of a JPEG, PNG or WebP image, read from its bytes; None for anything else."""
    kind = next((kind for magic, kind in _IMAGE_MAGIC.items() if data.startswith(magic)), None)
    if kind is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = "image/webp"
    return kind


@cache
def _owner_columns() -> tuple:
    """Every column that points at a stored file, read from the models (one list: theirs)."""
    return tuple(
        fk.parent
        for table in db.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table is StoredFile.__table__
    )


def _path(agency_id: int, digest: str) -> Path:
    return Path(current_app.config["STORAGE_DIR"]) / str(agency_id) / digest[:2] / digest[2:4] / digest


def _write_once(path: Path, data: bytes) -> None:
    """Write the file unless it is there already (its name is its contents)."""
    if path.exists():
        return
    _private_folders(path.parent)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)  # atomic: readers see no file or the whole file
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _private_folders(folder: Path) -> None:
    """Create the folder and any missing above it, each 0700 (os.makedirs would give the ones
    above the umask's mode)."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        each.mkdir(mode=0o700, exist_ok=True)
        os.chmod(each, 0o700)


@event.listens_for(Session, "after_commit")
def _unlink_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_UNLINKS, None)
    if not pending:
        return
    # The session cannot run SQL here; a connection of its own sees what is committed. The same
    # bytes may have been stored again meanwhile, or the delete undone by a rolled-back savepoint.
    # (A session joined to an outer transaction, as in the tests, asks that transaction instead.)
    bind = session.get_bind()
    with bind.connect() if isinstance(bind, Engine) else nullcontext(bind) as connection:
        for agency_id, digest in pending:
            again = connection.scalar(
                select(StoredFile.id).where(StoredFile.agency_id == agency_id, StoredFile.sha256 == digest)
            )
            if again is None:
                _path(agency_id, digest).unlink(missing_ok=True)


@event.listens_for(Session, "after_rollback")
def _keep_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_UNLINKS, None)
