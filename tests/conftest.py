"""Test fixtures: one app per session, a database left as it was after every test, two agencies in
every test.

Most tests run inside one outer transaction that is rolled back at the end: the app's commits
release savepoints on that connection. Tests that need real commits (a second connection, threads,
a live server, migrations) are marked `commits`, and the tables are emptied after them.

Tests never hold an application context while they make requests (Flask would share `g` and the
session between the test and the request); factories open a short context, commit, and hand back
detached objects whose columns are loaded.
"""

import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from sqlalchemy import event, select, text
from werkzeug.datastructures import Headers

from app import create_app
from app.auth.passwords import hash_secret
from app.extensions import db, limiter
from app.models import (
    Agency,
    Caregiver,
    Client,
    ClientLink,
    Invoice,
    Task,
    User,
    Visit,
    utcnow,
)
from app.services import storage
from app.tenancy import all_agencies
from app.web.assets import compress_static

pytest_plugins = ["tests.stripe_stub"]  # the local Stripe stand-in's fixtures, for any test module

PASSWORD = "correct horse battery staple"
HOST_A = "alpha.localhost"
HOST_B = "beta.localhost"
TRANSLATIONS = Path(__file__).resolve().parents[1] / "app" / "translations"
STATIC = Path(__file__).resolve().parents[1] / "app" / "static"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def compiled_translations():
    """Compile each catalog whose .mo is missing or older than its .po, as `make` does, so that
    `pytest` alone works on a fresh clone (the .mo files are not in git)."""
    for po_path in TRANSLATIONS.glob("*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po:
            catalog = read_po(po)
        # Write beside the target and rename, so a concurrent run never reads half a file.
        fd, temporary = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as mo:
            write_mo(mo, catalog)
        os.chmod(temporary, 0o644)
        os.replace(temporary, mo_path)
    return TRANSLATIONS


@pytest.fixture(scope="session")
def compressed_static():
    """Build the missing or stale .br/.gz copies of app/static, as `make` does (they are not in git).
    Before the app starts: WhiteNoise reads the folder once."""
    compress_static(STATIC)
    return STATIC


@pytest.fixture(scope="session")
def app(tmp_path_factory, compiled_translations, compressed_static):
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    files = tmp_path_factory.mktemp("files")  # the storage service's directory, thrown away with the run
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, STORAGE_DIR=str(files))
    app.test_client_class = PortalClient
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            # Test data is thrown away: skip the disk syncs that dominate the suite's time.
            event.listen(db.engine, "connect", _sqlite_fast)
            db.engine.dispose()
        # A session on a connection already in a transaction works in a savepoint of it.
        db.session.configure(join_transaction_mode="create_savepoint")
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def _sqlite_fast(dbapi_connection, _record):
    dbapi_connection.execute("PRAGMA synchronous=OFF")


def _empty_tables():
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        db.session.execute(text("PRAGMA foreign_keys=OFF"))
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
    db.session.commit()


@contextmanager
def _rolled_back(app):
    """Bind every session of the app (factories, requests, the outbox) to one connection inside a
    transaction, and roll it back at the end."""
    with app.app_context():
        engine = db.engines[None]
        connection = engine.connect()
        outer = connection.begin()
        if engine.dialect.name == "sqlite":
            # pysqlite's own transaction handling breaks SAVEPOINT: begin by hand instead.
            connection.connection.dbapi_connection.isolation_level = None
            connection.exec_driver_sql("BEGIN")
        db.engines[None] = connection
    try:
        yield connection
    finally:
        with app.app_context():
            db.engines[None] = engine
        outer.rollback()
        if engine.dialect.name == "sqlite":
            connection.connection.dbapi_connection.isolation_level = ""
        connection.close()


@pytest.fixture(scope="module")
def module_rows(app):
    """For a module whose tests all read the same rows (the route walks): module-scoped fixtures
    that take this one build them once inside a transaction, and each test of the module rolls
    back to a savepoint of it. Yields the app."""
    with _rolled_back(app) as connection:
        app.extensions["module_connection"] = connection
        try:
            yield app
        finally:
            del app.extensions["module_connection"]


@pytest.fixture(autouse=True)
def _isolated(request, app):
    if request.node.get_closest_marker("commits") or "live_server" in request.fixturenames:
        yield
        with app.app_context():
            _empty_tables()
    elif "module_connection" in app.extensions:
        savepoint = app.extensions["module_connection"].begin_nested()
        try:
            yield
        finally:
            savepoint.rollback()
    else:
        with _rolled_back(app):
            yield
    limiter.reset()


@contextmanager
def in_app(app):
    """A short application context that may read every agency (test assertions, factories)."""
    with app.app_context(), all_agencies():
        yield db.session


class Factory:
    """Builds committed rows and returns them detached with their columns loaded."""

    _password_hash = None

    def __init__(self, app):
        self.app = app

    def save(self, *objects):
        with in_app(self.app) as session:
            session.add_all(objects)
            session.commit()
            for obj in objects:
                session.refresh(obj)
            session.expunge_all()
        return objects[0] if len(objects) == 1 else objects

    def password_hash(self):
        if Factory._password_hash is None:
            with self.app.app_context():
                Factory._password_hash = hash_secret(PASSWORD)
        return Factory._password_hash

    def agency(self, slug="alpha", host=HOST_A, **kw):
        kw.setdefault("name", f"{slug.title()} Home Care")
        kw.setdefault("contact_email", f"office@{slug}.localhost")
        return self.save(Agency(slug=slug, host=host, **kw))

    def user(self, agency, username, role="portal", password=True, **kw):
        first, _, last = kw.pop("name", f"{username.title()} Test").partition(" ")
        kw.setdefault("email", f"{username}@example.com")
        if kw["email"]:
            kw.setdefault("email_confirmed_at", utcnow())  # as the office enters it
        return self.save(
            User(
                agency_id=agency.id,
                username=username,
                role=role,
                first_name=first,
                last_name=last or "Test",
                password_hash=self.password_hash() if password else None,
                must_change_password=kw.pop("must_change_password", False),
                **kw,
            )
        )

    def client(self, agency, name="Margaret Jones", **kw):
        first, _, last = name.partition(" ")
        return self.save(Client(agency_id=agency.id, first_name=first, last_name=last, **kw))

    def link(self, user, client, kind="self", **flags):
        return self.save(
            ClientLink(
                agency_id=client.agency_id,
                user_id=user.id,
                client_id=client.id,
                relationship_kind=kind,
                **flags,
            )
        )

    def stored_file(self, agency, data: bytes, content_type=None):
        """Bytes put through the storage service, as an upload would; the type is read from an image."""
        with in_app(self.app) as session:
            stored = storage.put(agency, data, content_type or storage.image_type(data) or "text/plain")
            session.commit()
            session.refresh(stored)
            session.expunge(stored)
        return stored

    def caregiver(self, agency, name="Ana Torres", photo: bytes | None = None, **kw):
        first, _, last = name.partition(" ")
        if photo is not None:
            kw["photo_file_id"] = self.stored_file(agency, photo).id
        return self.save(Caregiver(agency_id=agency.id, first_name=first, last_name=last, **kw))

    def task(self, agency, name="Bathing"):
        return self.save(Task(agency_id=agency.id, name=name))

    def visit(self, client, starts_at, hours=2, **kw):
        from datetime import timedelta

        return self.save(
            Visit(
                agency_id=client.agency_id,
                client_id=client.id,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=hours),
                **kw,
            )
        )

    def invoice(self, client, number, total_cents=10000, billed_to=None, status="issued", **kw):
        from datetime import date

        kw.setdefault("issued_at", utcnow())
        return self.save(
            Invoice(
                agency_id=client.agency_id,
                client_id=client.id,
                number=number,
                total_cents=total_cents,
                billed_to_id=billed_to.id if billed_to else None,
                status=status,
                period_start=kw.pop("period_start", date(2026, 11, 1)),
                period_end=kw.pop("period_end", date(2026, 11, 14)),
                **kw,
            )
        )


@pytest.fixture
def make(app):
    return Factory(app)


@pytest.fixture
def world(make):
    return build_world(make)


def build_world(make):
    """Two agencies, each with staff and a client; agency A also has a family around its client."""
    a = make.agency("alpha", HOST_A, is_default=True)
    b = make.agency("beta", HOST_B)
    w = type("World", (), {})()
    w.a, w.b = a, b
    w.staff_a = make.user(a, "admin", role="staff", is_owner=True, name="Sam Rivera")
    w.staff_b = make.user(b, "admin", role="staff", is_owner=True, name="Bea Staff")
    w.client_a = make.client(a, "Margaret Jones")
    w.client_a2 = make.client(a, "Harold Smith")
    w.client_b = make.client(b, "Alice Brown")
    w.margaret = make.user(a, "margaretjones", name="Margaret Jones")
    w.harold = make.user(a, "haroldsmith", name="Harold Smith")
    w.susan = make.user(a, "susanjones", name="Susan Jones")
    w.robert = make.user(a, "robertjones", name="Robert Jones")
    w.paul = make.user(a, "paulsmith", name="Paul Smith")
    w.alice = make.user(b, "alicebrown", name="Alice Brown")
    make.link(w.margaret, w.client_a, "self")
    make.link(w.harold, w.client_a2, "self")
    make.link(w.susan, w.client_a, "emergency_contact", may_view_invoices=True)
    make.link(w.robert, w.client_a, "payer")
    make.link(w.robert, w.client_a2, "payer")
    make.link(w.paul, w.client_a2, "legal_representative", may_view_care_plan=True)
    make.link(w.alice, w.client_b, "self")
    return w


class PortalClient(FlaskClient):
    """The test client of every test (`app.test_client()` makes one): a browser on agency A's address.

    Every request goes to `host` unless it names its own Host header or `host=`; `post_form` reads
    the CSRF token from the page a browser would have shown, so tests post what a user submits.
    """

    host = HOST_A

    def open(self, *args, **kwargs):
        # Redirects being followed arrive as a ready EnvironBuilder whose host comes from Location.
        if (not args or isinstance(args[0], str)) and "base_url" not in kwargs:
            headers = Headers(kwargs.pop("headers", None))
            if "Host" not in headers:
                headers["Host"] = self.host
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    @staticmethod
    def _headers(host, htmx, headers) -> Headers:
        out = Headers(headers)
        if host:
            out["Host"] = host
        if htmx:
            out["HX-Request"] = "true"
        return out

    def get(self, path, htmx=False, host=None, headers=None, **kw):
        return super().get(path, headers=self._headers(host, htmx, headers), **kw)

    def csrf_token(self, path="/login", host=None) -> str:
        """The session's CSRF token as `path` shows it; a page without a form falls back to /login."""
        match = CSRF_RE.search(self.get(path, host=host).get_data(as_text=True))
        if match is None and path != "/login":
            match = CSRF_RE.search(
                self.get("/login", host=host, follow_redirects=True).get_data(as_text=True)
            )
        assert match, f"no CSRF token on {path}"
        return match.group(1) or match.group(2)

    def post_form(self, path, data=None, htmx=False, token_from=None, follow=False, host=None, headers=None):
        """Submit a form as a browser does (the token in a field) or as htmx does (the token in the
        X-CSRFToken header, with HX-Request); the token is read from `token_from`, else `path`."""
        token = self.csrf_token(token_from or path, host)
        data = dict(data or {})
        headers = self._headers(host, htmx, headers)
        if htmx:
            headers["X-CSRFToken"] = token
        else:
            data["csrf_token"] = token
        return self.post(path, data=data, headers=headers, follow_redirects=follow)


def csrf_token(client, path="/login", host=HOST_A) -> str:
    return client.csrf_token(path, host)


def login(client, username, password=PASSWORD, host=HOST_A, follow=False):
    return client.post_form(
        "/login", {"username": username, "password": password}, token_from="/login", host=host, follow=follow
    )


@pytest.fixture
def client(app):
    return app.test_client()


def deliver_resets(app) -> int:
    """Answer queued "forgot password" requests, as the outbox worker does between rounds."""
    from app.services.password_resets import deliver_reset_requests

    with in_app(app):
        return deliver_reset_requests()


# What a test's transaction adds around the app's own statements: not the app's work.
_TRANSACTION_STATEMENT = re.compile(r"\s*(BEGIN|SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b", re.I)


@contextmanager
def recorded_sql(app):
    """The SQL statements the app runs inside the block, whitespace folded (query-count tests)."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if not _TRANSACTION_STATEMENT.match(statement):
            statements.append(re.sub(r"\s+", " ", statement).strip())

    with app.app_context():
        bind = db.engines[None]
    event.listen(bind, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(bind, "before_cursor_execute", record)


def set_columns(app, model, row_id, **columns):
    """Change some columns of one row (any agency's) and commit, as the office or a migration would."""
    with in_app(app) as session:
        row = session.get(model, row_id)
        for name, value in columns.items():
            setattr(row, name, value)
        session.commit()


def get_one(app, model, **filters):
    with in_app(app) as session:
        obj = session.scalar(select(model).filter_by(**filters))
        if obj is not None:
            session.expunge(obj)
        return obj
