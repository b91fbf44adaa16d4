"""Configuration: production is the default and fails safe; the factory honours the environment."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.models import AuditEvent
from config import ProductionConfig
from tests.conftest import in_app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def production(monkeypatch):
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", "x" * 40)
    monkeypatch.setattr(ProductionConfig, "AUDIT_KEY", "y" * 40)
    return ProductionConfig


@pytest.mark.parametrize("name", ["SECRET_KEY", "AUDIT_KEY"])
def test_production_refuses_to_start_without_its_keys(production, monkeypatch, name):
    monkeypatch.setattr(ProductionConfig, name, None)
    with pytest.raises(RuntimeError, match=name):
        create_app("production")


def test_production_starts_with_its_keys_and_secure_cookies(production, tmp_path):
    app = create_app("production", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.sqlite3'}")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["PREFERRED_URL_SCHEME"] == "https"
    assert app.config["DEFAULT_AGENCY_HOSTS"] == ()
    assert not app.debug


def _wsgi_config(env: dict) -> subprocess.CompletedProcess:
    """Import wsgi.py in a fresh interpreter, as gunicorn would, and print the config it chose."""
    code = "import wsgi; print(wsgi.app.config['HSTS_SECONDS'] > 0, wsgi.app.config['PREFERRED_URL_SCHEME'])"
    clean = {k: v for k, v in os.environ.items() if k not in ("PORCHLIGHT_ENV", "SECRET_KEY", "AUDIT_KEY")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_wsgi_runs_production_unless_told_development(tmp_path):
    database = {"DATABASE_URL": f"sqlite:///{tmp_path / 'w.sqlite3'}"}
    refused = _wsgi_config(database)
    assert refused.returncode != 0 and "SECRET_KEY must be set in production" in refused.stderr
    production = _wsgi_config({**database, "SECRET_KEY": "s" * 40, "AUDIT_KEY": "a" * 40})
    assert production.stdout.split() == ["True", "https"], production.stderr
    development = _wsgi_config({**database, "PORCHLIGHT_ENV": "development"})
    assert development.stdout.split() == ["False", "http"], development.stderr


def test_production_pages_carry_hsts(production, tmp_path):
    app = create_app("production", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'h.sqlite3'}")
    with app.app_context():
        db.create_all()
    response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_test_pages_carry_no_hsts(client, world):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_instance_folder_and_sqlite_file_are_private(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    database = instance / "porchlight.sqlite3"
    monkeypatch.setattr("flask.Flask.auto_find_instance_path", lambda self: str(instance))
    app = create_app("development", SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}")
    with app.app_context():
        db.session.execute(text("CREATE TABLE t (x INTEGER)"))
        db.session.commit()
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    for key in ("secret_key", "audit_key"):
        assert stat.S_IMODE((instance / key).stat().st_mode) == 0o600
    assert app.config["AUDIT_KEY"] == (instance / "audit_key").read_text().strip()


def test_an_existing_instance_folder_and_sqlite_file_are_made_private(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    database = instance / "old.sqlite3"
    database.write_bytes(b"")
    database.chmod(0o644)
    monkeypatch.setattr("flask.Flask.auto_find_instance_path", lambda self: str(instance))
    create_app("development", SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}")
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_audit_chain_is_keyed(app, world):
    """Someone who can write to the database but lacks AUDIT_KEY cannot rewrite an event and
    recompute the chain: a plain SHA-256, or an HMAC with another key, does not verify."""
    import hashlib

    from app.services import audit

    with in_app(app) as session:
        first = audit.record("test.event", actor=None, agency_id=world.a.id, note="original")
        session.commit()
        assert audit.verify_chain() is None
        first.details = {"note": "rewritten"}
        first.hash = hashlib.sha256(audit.canonical(first)).hexdigest()
        session.commit()
        assert audit.verify_chain() == first.id
        app.config["AUDIT_KEY"], saved = "someone else's key", app.config["AUDIT_KEY"]
        try:
            first.hash = audit._digest(first)
            session.commit()
        finally:
            app.config["AUDIT_KEY"] = saved
        assert audit.verify_chain() == first.id
        assert session.get(AuditEvent, first.id).details == {"note": "rewritten"}
