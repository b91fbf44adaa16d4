"""Application factory: extensions, the request pipeline, blueprints, error handlers, CLI."""

import os
import secrets

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from app.extensions import babel, compress, csrf, db, limiter, login_manager, mail, migrate
from config import CONFIGS


def create_app(config_name: str | None = None, **overrides) -> Flask:
    config_name = config_name or os.environ.get("PORCHLIGHT_ENV", "development")
    config_class = CONFIGS[config_name]
    if hasattr(config_class, "check"):
        config_class.check()
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(config_class)
    app.config.update(overrides)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config["SECRET_KEY"] and config_name == "development":
        app.config["SECRET_KEY"] = _local_secret(app.instance_path)
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
    _register_pipeline(app)
    _register_blueprints(app)

    from app.web.errors import register_error_handlers

    register_error_handlers(app)

    from app.cli import register_cli

    register_cli(app)
    return app


def _local_secret(instance_path: str) -> str:
    """A development install's own random key, kept in instance/ so sessions survive restarts."""
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    with open(path) as handle:
        return handle.read().strip()


def _register_pipeline(app: Flask) -> None:
    from app.auth.sessions import enforce_session
    from app.web.security import add_security_headers
    from app.web.tenancy import enter_request_scope, leave_request_scope

    @app.before_request
    def _tenant_and_session():
        if request.endpoint in ("static", "health.healthz"):
            return None
        enter_request_scope()
        return enforce_session()

    @app.after_request
    def _commit(response):
        # One commit per request; an error answer keeps nothing unless the view asked to.
        if response.status_code < 400 or g.get("keep_changes"):
            db.session.commit()
        else:
            db.session.rollback()
        return response

    app.after_request(add_security_headers)
    app.teardown_request(leave_request_scope)

    @app.context_processor
    def _globals():
        from app.auth import policies

        return {"agency": g.get("agency"), "policies": policies, "access": g.get("access")}


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
