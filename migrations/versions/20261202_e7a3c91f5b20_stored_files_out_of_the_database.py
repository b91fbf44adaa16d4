"""stored files: photos, logos, documents and lead attachments move out of the database

Revision ID: e7a3c91f5b20
Revises: d2b7e4f1a9c3
Create Date: 2026-12-02 01:00:00

Creates `stored_files`, gives each owner a `*_file_id`, writes every blob into the storage
directory (`STORAGE_DIR` of the app running the migration, `instance/files` by default) and drops
the blob columns; documents and lead attachments also hand their size and type to the stored
file. The downgrade reads the files back into the blobs and leaves the directory as it is (the
files are plain copies by then; remove it once the downgrade is kept).

The directory layout and the file writing are copied here, not imported from
app/services/storage.py, so that this revision keeps doing what it did when that module changes
(as a migration copies table definitions instead of importing models).
"""

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from flask import current_app

import app.models.base

# revision identifiers, used by Alembic.
revision = "e7a3c91f5b20"
down_revision = "d2b7e4f1a9c3"
branch_labels = None
depends_on = None


@dataclass(frozen=True)
class Owner:
    table: str
    agency_column: str  # whose file it is: agencies own their logo
    blob: str
    file_column: str
    typed: bool  # has content_type and size_bytes of its own (documents, attachments): required file


OWNERS = (
    Owner("agencies", "id", "logo", "logo_file_id", typed=False),
    Owner("users", "agency_id", "photo", "photo_file_id", typed=False),
    Owner("caregivers", "agency_id", "photo", "photo_file_id", typed=False),
    Owner("documents", "agency_id", "data", "file_id", typed=True),
    Owner("lead_attachments", "agency_id", "data", "file_id", typed=True),
)
IMAGE_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}

stored_files = sa.table(
    "stored_files",
    sa.column("id", sa.Integer),
    sa.column("agency_id", sa.Integer),
    sa.column("sha256", sa.String),
    sa.column("size_bytes", sa.Integer),
    sa.column("content_type", sa.String),
    sa.column("created_at", app.models.base.UTCDateTime(timezone=True)),
)


def _fk_name(owner: Owner) -> str:
    return f"fk_{owner.table}_{owner.file_column}_stored_files"


def _owner_table(owner: Owner):
    columns = [owner.agency_column, owner.file_column] if owner.agency_column != "id" else [owner.file_column]
    typed = [sa.column("content_type", sa.String), sa.column("size_bytes", sa.Integer)] if owner.typed else []
    return sa.table(
        owner.table,
        sa.column("id", sa.Integer),
        sa.column(owner.blob, sa.LargeBinary),
        *(sa.column(name, sa.Integer) for name in columns),
        *typed,
    )


def _path(agency_id: int, digest: str) -> Path:
    return Path(current_app.config["STORAGE_DIR"]) / str(agency_id) / digest[:2] / digest[2:4] / digest


def _write_once(path: Path, data: bytes) -> None:
    if path.exists():
        return
    missing, folder = [], path.parent
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        each.mkdir(mode=0o700, exist_ok=True)
        os.chmod(each, 0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _image_type(data: bytes) -> str:
    kind = next((kind for magic, kind in IMAGE_MAGIC.items() if data.startswith(magic)), None)
    if kind is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = "image/webp"
    return kind or "application/octet-stream"


def _store(connection, agency_id: int, data: bytes, content_type: str) -> int:
    """The file first, then its row (once per agency and hash), as the storage service does."""
    digest = hashlib.sha256(data).hexdigest()
    _write_once(_path(agency_id, digest), data)
    find = sa.select(stored_files.c.id).where(
        stored_files.c.agency_id == agency_id, stored_files.c.sha256 == digest
    )
    found = connection.scalar(find)
    if found is None:
        connection.execute(
            stored_files.insert().values(
                agency_id=agency_id,
                sha256=digest,
                size_bytes=len(data),
                content_type=content_type,
                created_at=datetime.now(UTC),
            )
        )
        found = connection.scalar(find)
    return found


def _move_out(connection, owner: Owner) -> None:
    table = _owner_table(owner)
    blob = table.c[owner.blob]
    # A document or attachment must have a file: an empty one where its bytes were missing.
    wanted = sa.select(table.c.id).order_by(table.c.id)
    ids = connection.scalars(wanted if owner.typed else wanted.where(blob.is_not(None))).all()
    for row_id in ids:  # one blob in memory at a time
        row = connection.execute(sa.select(table).where(table.c.id == row_id)).mappings().one()
        data = row[owner.blob] or b""
        content_type = row["content_type"] if owner.typed else _image_type(data)
        file_id = _store(connection, row[owner.agency_column], data, content_type)
        connection.execute(table.update().where(table.c.id == row_id).values({owner.file_column: file_id}))


def _move_back(connection, owner: Owner) -> None:
    table = _owner_table(owner)
    files = stored_files.c
    rows = connection.execute(
        sa.select(table.c.id.label("owner_id"), files.agency_id, files.sha256, files.content_type, files.size_bytes)
        .join(stored_files, files.id == table.c[owner.file_column])
        .order_by(table.c.id)
    ).mappings()
    for row in rows.all():
        data = _path(row["agency_id"], row["sha256"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != row["sha256"]:
            raise RuntimeError(f"{owner.table} {row['owner_id']}: the stored file does not match its hash")
        values = {owner.blob: data}
        if owner.typed:
            values |= {"content_type": row["content_type"], "size_bytes": row["size_bytes"]}
        connection.execute(table.update().where(table.c.id == row["owner_id"]).values(values))


def upgrade():
    op.create_table(
        "stored_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_stored_files_agency_id_agencies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_files")),
        sa.UniqueConstraint("agency_id", "sha256", name=op.f("uq_stored_files_agency_id_sha256")),
    )
    with op.batch_alter_table("stored_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_files_agency_id"), ["agency_id"], unique=False)

    for owner in OWNERS:
        with op.batch_alter_table(owner.table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(owner.file_column, sa.Integer(), nullable=True))
            batch_op.create_foreign_key(_fk_name(owner), "stored_files", [owner.file_column], ["id"])

    connection = op.get_bind()
    for owner in OWNERS:
        _move_out(connection, owner)

    for owner in OWNERS:
        with op.batch_alter_table(owner.table, schema=None) as batch_op:
            batch_op.drop_column(owner.blob)
            if owner.typed:
                batch_op.drop_column("content_type")
                batch_op.drop_column("size_bytes")
                batch_op.alter_column(owner.file_column, existing_type=sa.Integer(), nullable=False)


def downgrade():
    for owner in OWNERS:
        with op.batch_alter_table(owner.table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(owner.blob, sa.LargeBinary(), nullable=True))
            if owner.typed:
                batch_op.add_column(sa.Column("content_type", sa.String(length=100), nullable=True))
                batch_op.add_column(sa.Column("size_bytes", sa.Integer(), nullable=True))

    connection = op.get_bind()
    for owner in OWNERS:
        _move_back(connection, owner)

    for owner in OWNERS:
        with op.batch_alter_table(owner.table, schema=None) as batch_op:
            batch_op.drop_constraint(_fk_name(owner), type_="foreignkey")
            batch_op.drop_column(owner.file_column)
            if owner.typed:
                batch_op.alter_column("content_type", existing_type=sa.String(length=100), nullable=False)
                batch_op.alter_column("size_bytes", existing_type=sa.Integer(), nullable=False)

    with op.batch_alter_table("stored_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_files_agency_id"))
    op.drop_table("stored_files")
