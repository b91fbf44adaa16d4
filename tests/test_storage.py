"""The storage service: bytes in a private directory under their hash, metadata in `stored_files`.

Each test that looks at the disk gets a STORAGE_DIR of its own. What is checked is what was
stored: the bytes on disk and their modes, the rows, what a later read or a photo request gets,
and what the migration leaves in the database and the directory on the way up and back down.
"""

import hashlib
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path

import flask_migrate
import pytest
from sqlalchemy import MetaData, Table, create_engine, func, inspect, select, text

from app import create_app
from app.extensions import db
from app.models import Agency, StoredFile
from app.services import storage
from app.tenancy import agency_scope
from tests.conftest import in_app, login
from tests.test_migrations import (
    ON_POSTGRES,
    TEST_DATABASE_URL,
    _keep_logging,  # noqa: F401  (autouse: undoes env.py's logging set-up)
)

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15"
    b"\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n% a care agreement\n"
BEFORE = "d2b7e4f1a9c3"  # the revision before stored files


@pytest.fixture
def files(app, tmp_path, monkeypatch):
    """A storage directory of this test's own, not yet created."""
    root = tmp_path / "files"
    monkeypatch.setitem(app.config, "STORAGE_DIR", str(root))
    return root


def _on_disk(root: Path, agency_id: int, data: bytes) -> Path:
    digest = hashlib.sha256(data).hexdigest()
    return root / str(agency_id) / digest[:2] / digest[2:4] / digest


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _rows(app):
    with in_app(app) as session:
        return session.execute(select(StoredFile.agency_id, StoredFile.sha256)).all()


# --- put, read, once per agency -------------------------------------------------------------------


def test_put_then_read_gives_the_bytes_back_with_size_and_type_recorded(app, world, files):
    with in_app(app) as session:
        stored = storage.put(world.a, PDF, "application/pdf")
        session.commit()
        stored_id = stored.id
    with in_app(app) as session:
        stored = storage.get(world.a, stored_id)
        assert storage.read(stored) == PDF
        assert (stored.agency_id, stored.size_bytes, stored.content_type) == (
            world.a.id,
            len(PDF),
            "application/pdf",
        )
        assert stored.sha256 == hashlib.sha256(PDF).hexdigest() and stored.created_at is not None
    assert _on_disk(files, world.a.id, PDF).read_bytes() == PDF


def test_files_and_folders_are_private(app, world, files):
    with in_app(app) as session:
        storage.put(world.a, PDF, "application/pdf")
        session.commit()
    path = _on_disk(files, world.a.id, PDF)
    assert _mode(path) == 0o600
    folders = [files, files / str(world.a.id), path.parent.parent, path.parent]
    assert [_mode(folder) for folder in folders] == [0o700] * 4
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left beside it


def test_the_same_bytes_are_stored_once_per_agency(app, world, files):
    with in_app(app) as session:
        first = storage.put(world.a, PDF, "application/pdf")
        again = storage.put(world.a, PDF, "application/pdf")
        other_agency = storage.put(world.b, PDF, "application/pdf")
        session.commit()
        assert again.id == first.id and other_agency.id != first.id
    assert sorted(_rows(app)) == sorted([(world.a.id, first.sha256), (world.b.id, first.sha256)])
    # One file per agency: deleting agency B's data never touches agency A's folder.
    assert sorted(p.name for p in files.iterdir()) == sorted([str(world.a.id), str(world.b.id)])


def test_another_agencys_file_is_not_found_by_id(app, world, files):
    with in_app(app) as session:
        file_id = storage.put(world.a, PDF, "application/pdf").id
        session.commit()
    with app.app_context(), agency_scope(world.b):
        assert storage.get(world.b, file_id) is None
        assert storage.get(world.b, None) is None
    with app.app_context(), agency_scope(world.a):
        assert storage.get(world.a, file_id).id == file_id


def test_a_rolled_back_put_leaves_a_harmless_file_that_the_next_put_reuses(app, world, files):
    with in_app(app) as session:
        storage.put(world.a, PDF, "application/pdf")
        session.rollback()
    assert _rows(app) == []
    path = _on_disk(files, world.a.id, PDF)
    assert path.read_bytes() == PDF  # its name says what it holds: nothing refers to it, nothing is wrong
    with in_app(app) as session:
        stored = storage.put(world.a, PDF, "application/pdf")
        session.commit()
        assert storage.read(stored) == PDF
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_damaged_file_is_an_error_not_other_bytes(app, world, files):
    with in_app(app) as session:
        stored = storage.put(world.a, PDF, "application/pdf")
        session.commit()
        _on_disk(files, world.a.id, PDF).write_bytes(b"%PDF-1.4\n% someone else's agreement\n")
        with pytest.raises(storage.StoredFileDamaged):
            storage.read(stored)


# --- delete ---------------------------------------------------------------------------------------


def test_delete_removes_the_row_now_and_the_file_after_the_commit(app, world, files):
    path = _on_disk(files, world.a.id, PDF)
    with in_app(app) as session:
        stored = storage.put(world.a, PDF, "application/pdf")
        session.commit()
        stored_id = stored.id
        assert storage.delete(stored) is True
        assert path.exists()  # until the commit: a rollback must find its bytes
        session.rollback()
    assert path.exists() and len(_rows(app)) == 1
    with in_app(app) as session:
        assert storage.delete(storage.get(world.a, stored_id)) is True
        session.commit()
    assert not path.exists() and _rows(app) == []


def test_a_file_still_used_is_not_deleted(app, make, world, files):
    ana = make.caregiver(world.a, "Ana Torres", photo=PNG)
    with in_app(app) as session:
        assert storage.delete(storage.get(world.a, ana.photo_file_id)) is False
        session.commit()
    assert _on_disk(files, world.a.id, PNG).read_bytes() == PNG and len(_rows(app)) == 1


# --- the caregiver photo, served from storage -----------------------------------------------------


@pytest.fixture
def visited_by(make, world):
    """Make a caregiver of agency A who visits Margaret."""

    def make_caregiver(**kw):
        caregiver = make.caregiver(world.a, "Łucja Nowak", **kw)
        make.visit(world.client_a, datetime(2026, 11, 30, 15, 0, tzinfo=UTC), caregiver_id=caregiver.id)
        return caregiver

    return make_caregiver


def test_caregiver_photo_is_served_from_storage_privately_for_an_hour(client, world, files, visited_by):
    lucja = visited_by(photo=PNG)
    login(client, "margaretjones")
    response = client.get(f"/schedule/caregivers/{lucja.id}/photo")
    assert response.status_code == 200 and response.data == PNG
    assert response.mimetype == "image/png" and response.headers["Content-Disposition"] == "inline"
    assert response.cache_control.private and response.cache_control.max_age == 3600
    assert _on_disk(files, world.a.id, PNG).read_bytes() == PNG


def test_a_stored_photo_that_is_no_image_is_not_served(client, make, world, files, visited_by):
    page = make.stored_file(world.a, b"<html><script>alert(1)</script>", "image/png")  # a lying type
    lucja = visited_by(photo_file_id=page.id)
    login(client, "margaretjones")
    assert client.get(f"/schedule/caregivers/{lucja.id}/photo").status_code == 404


def test_a_photo_pointing_at_another_agencys_file_is_not_served(client, make, world, files, visited_by):
    foreign = make.stored_file(world.b, PNG)
    lucja = visited_by(photo_file_id=foreign.id)
    login(client, "margaretjones")
    assert client.get(f"/schedule/caregivers/{lucja.id}/photo").status_code == 404


@pytest.mark.parametrize("damage", ["missing", "changed"])
def test_a_photo_lost_or_damaged_on_disk_is_not_served_and_is_logged(
    client, world, files, visited_by, damage, caplog
):
    lucja = visited_by(photo=PNG)
    path = _on_disk(files, world.a.id, PNG)
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(PNG + b"tampered")
    login(client, "margaretjones")
    response = client.get(f"/schedule/caregivers/{lucja.id}/photo")
    assert response.status_code == 404
    assert "stored photo" in caplog.text and "unreadable" in caplog.text


def test_the_calendar_knows_who_has_a_photo_without_reading_it(app, client, make, world, files, visited_by):
    lucja = visited_by(photo=PNG)
    ana = make.caregiver(world.a, "Ana Torres")
    make.visit(world.client_a, datetime(2026, 12, 1, 15, 0, tzinfo=UTC), caregiver_id=ana.id)
    login(client, "margaretjones")
    html = client.get("/schedule?view=week&date=2026-11-30").get_data(as_text=True)
    assert f'src="/schedule/caregivers/{lucja.id}/photo"' in html
    assert f"/schedule/caregivers/{ana.id}/photo" not in html


# --- the migration: blobs out to the directory, and back --------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def migrating_app(request, tmp_path):
    """An app on an empty database of its own (a SQLite file, or a PostgreSQL schema) at the revision
    before stored files, with its own storage directory."""
    overrides = {"STORAGE_DIR": str(tmp_path / "files")}
    if request.param == "sqlite":
        app = create_app(
            "testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'm.sqlite3'}", **overrides
        )
        cleanup = None
    else:
        if not ON_POSTGRES:
            pytest.skip("TEST_DATABASE_URL does not point at PostgreSQL")
        schema = f"storage_test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        options = {"pool_pre_ping": True, "connect_args": {"options": f"-csearch_path={schema}"}}
        app = create_app(
            "testing",
            SQLALCHEMY_DATABASE_URI=TEST_DATABASE_URL,
            SQLALCHEMY_ENGINE_OPTIONS=options,
            **overrides,
        )

        def cleanup():
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()

    with app.app_context():
        try:
            flask_migrate.upgrade(revision=BEFORE)
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()
            if cleanup:
                cleanup()


def _insert(connection, table: str, **values) -> int:
    reflected = Table(table, MetaData(), autoload_with=connection)
    return connection.execute(reflected.insert().values(**values)).inserted_primary_key[0]


def _row(connection, table: str, row_id: int) -> dict:
    reflected = Table(table, MetaData(), autoload_with=connection)
    return dict(connection.execute(select(reflected).where(reflected.c.id == row_id)).mappings().one())


def test_the_migration_moves_blobs_into_storage_and_back(migrating_app):
    now = datetime.now(UTC)
    root = Path(migrating_app.config["STORAGE_DIR"])
    with db.engine.begin() as connection:
        agency = _insert(
            connection,
            "agencies",
            slug="alpha",
            name="Alpha",
            is_default=True,
            time_zone="America/Chicago",
            currency="USD",
            logo=PNG,
            session_idle_minutes=15,
            security_questions_enabled=False,
            staff_two_factor_required=False,
            schedule_request_horizon_days=90,
            payment_gateway="none",
            created_at=now,
            version=1,
        )
        carer = dict(agency_id=agency, last_name="Nowak", is_active=True)
        with_photo = _insert(connection, "caregivers", first_name="Łucja", photo=PNG, **carer)
        without = _insert(connection, "caregivers", first_name="Ana", photo=None, **carer)
        lead = _insert(
            connection,
            "client_leads",
            agency_id=agency,
            first_name="Lena",
            last_name="Lead",
            status="new",
            created_at=now,
        )
        attachment = _insert(
            connection,
            "lead_attachments",
            agency_id=agency,
            lead_id=lead,
            filename="note.txt",
            content_type="text/plain",
            size_bytes=2,
            data=b"hi",
            uploaded_at=now,
        )

    flask_migrate.upgrade()
    with db.engine.connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("caregivers")}
        assert "photo" not in columns and "photo_file_id" in columns
        logo_file = _row(connection, "agencies", agency)["logo_file_id"]
        assert (
            _row(connection, "caregivers", with_photo)["photo_file_id"] == logo_file
        )  # same bytes: one file
        assert _row(connection, "caregivers", without)["photo_file_id"] is None
        note_file = _row(connection, "lead_attachments", attachment)["file_id"]
        assert connection.scalar(select(func.count()).select_from(text("stored_files"))) == 2
    alpha = db.session.get(Agency, agency)
    with agency_scope(alpha):
        photo, note = storage.get(alpha, logo_file), storage.get(alpha, note_file)
        assert (
            storage.read(photo) == PNG and photo.content_type == "image/png" and photo.size_bytes == len(PNG)
        )
        assert storage.read(note) == b"hi" and note.content_type == "text/plain" and note.size_bytes == 2
    assert _mode(_on_disk(root, agency, PNG)) == 0o600 and _mode(_on_disk(root, agency, PNG).parent) == 0o700
    db.session.remove()

    flask_migrate.downgrade(revision=BEFORE)
    with db.engine.connect() as connection:
        assert "stored_files" not in inspect(connection).get_table_names()
        assert _row(connection, "agencies", agency)["logo"] == PNG
        assert _row(connection, "caregivers", with_photo)["photo"] == PNG
        assert _row(connection, "caregivers", without)["photo"] is None
        restored = _row(connection, "lead_attachments", attachment)
        assert (restored["data"], restored["content_type"], restored["size_bytes"]) == (
            b"hi",
            "text/plain",
            2,
        )
