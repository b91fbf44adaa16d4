"""Application factory: extensions, the request pipeline, blueprints, error handlers, CLI."""

import os
import secrets

from flask import Flask, g, request
from sqlalchemy.engine import make_url
from werkzeug.middleware.proxy_fix import ProxyFix

from app.extensions import babel, compress, csrf, db, limiter, login_manager, mail, migrate
from config import CONFIGS


def create_app(config_name: str | None = None, **overrides) -> Flask:
    # Production unless told otherwise: a forgotten variable must not open a debug-friendly set-up.
    config_name = config_name or os.environ.get("PORCHLIGHT_ENV", "production")
    config_class = CONFIGS[config_name]
    if hasattr(config_class, "check"):
        config_class.check()
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(config_class)
    app.config.update(overrides)
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
    _make_private(app.instance_path, 0o700)  # also one made before this rule, or by another tool
    if config_name == "development":
        for name in ("SECRET_KEY", "AUDIT_KEY"):
            if not app.config[name]:
                app.config[name] = _local_secret(app.instance_path, name.lower())
    _create_private_sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config["PROXY_HOPS"]:
        # Behind a load balancer: take the client address and host from its X-Forwarded-* headers.
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    login_manager.init_app(app)
    login_manager.session_protection = None  # the server-side stamp does this job
    csrf.init_app(app)
    mail.init_app(app)
    compress.init_app(app)
    limiter.init_app(app)
    from app.web.i18n import init_i18n, select_locale

    babel.init_app(app, locale_selector=select_locale)
    init_i18n(app)

    from app.web.assets import init_assets

    init_assets(app)
    from app.web.formatting import init_formatting

    init_formatting(app)
    from app.web.input_guard import init_input_guard

    init_input_guard(app)  # before the routes: ids are bounded by the URL converter
    _register_pipeline(app)
    _register_blueprints(app)

    from app.web.errors import register_error_handlers

    register_error_handlers(app)

    from app.cli import register_cli

    register_cli(app)
    return app


def _local_secret(instance_path: str, name: str) -> str:
    """A development install's own random key, kept in instance/ so it survives restarts."""
    path = os.path.join(instance_path, name)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    with open(path) as handle:
        return handle.read().strip()


def _create_private_sqlite_file(uri: str) -> None:
    """Create a SQLite database file readable by its owner only (SQLite's journals copy the mode)."""
    url = make_url(uri)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    if not os.path.exists(url.database):
        os.makedirs(os.path.dirname(os.path.abspath(url.database)), mode=0o700, exist_ok=True)
        os.close(os.open(url.database, os.O_WRONLY | os.O_CREAT, 0o600))
    _make_private(url.database, 0o600)


def _make_private(path: str, mode: int) -> None:
    """Narrow the permissions of a file or folder we own (one created before this rule)."""
    info = os.stat(path)
    if info.st_uid == os.getuid() and info.st_mode & 0o777 != mode:
        os.chmod(path, mode)


def _register_pipeline(app: Flask) -> None:
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm.exc import StaleDataError

    from app.services import audit
    from app.web.access import AGENCY_FREE_ENDPOINTS, enforce_session
    from app.web.errors import answer_conflict
    from app.web.input_guard import refuse_control_characters
    from app.web.security import add_security_headers
    from app.web.tenancy import enter_request_scope, leave_request_scope

    @app.before_request
    def _tenant_and_session():
        agency_free = request.endpoint in AGENCY_FREE_ENDPOINTS
        audit.note_origin(request.remote_addr)
        if not agency_free:
            enter_request_scope()  # first, so that even an error page names the agency
        refuse_control_characters()  # before the session check or any view reads the request
        return None if agency_free else enforce_session()

    # after_request functions run last-registered first: the commit runs before the headers are
    # added, so a 409 that replaces the view's answer gets them too.
    app.after_request(add_security_headers)

    @app.after_request
    def _commit(response):
        # One commit per request; an error answer keeps nothing unless the view asked to.
        if response.status_code >= 400 and not g.get("keep_changes"):
            db.session.rollback()
            return response
        try:
            db.session.commit()
        except (StaleDataError, IntegrityError) as error:
            # Another request won a race the view could not see; the view has answered already, so
            # its answer (a redirect, a "saved" page) gives way to the 409 page.
            return answer_conflict(error)
        return response

    app.teardown_request(leave_request_scope)

    @app.context_processor
    def _globals():
        from app.auth import policies
        from app.services.agencies import header_logo
        from app.web.portal import unread_messages

        return {
            "header_logo": header_logo,
            "agency": g.get("agency"),
            "policies": policies,
            "access": g.get("access"),
            "unread_messages": unread_messages,
        }


def _register_blueprints(app: Flask) -> None:
    from app.blueprints import (
        admin,
        auth,
        careplan,
        dashboard,
        documents,
        health,
        invoices,
        messages,
        profile,
        schedule,
        signatures,
    )

    for module in (
        auth,
        dashboard,
        health,
        schedule,
        invoices,
        signatures,
        profile,
        messages,
        careplan,
        documents,
        admin,
    ):
        app.register_blueprint(module.bp)
