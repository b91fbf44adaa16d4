"""Which language a request speaks: the signed-in user's choice, else the browser's preference.

The marking functions (`_`, `_l`, `N_`) live in app/i18n.py, below every layer that shows text.
"""

from flask import current_app, request
from flask_babel import get_locale
from flask_login import current_user

__all__ = ["init_i18n", "select_locale"]


def select_locale() -> str | None:
    """The signed-in user's chosen language, else the browser's preference among ours."""
    supported = current_app.config["BABEL_SUPPORTED_LOCALES"]
    if current_user and current_user.is_authenticated and current_user.language in supported:
        return current_user.language
    return request.accept_languages.best_match(supported) if request else None


def init_i18n(app) -> None:
    # `{% trans %}` blocks collapse their whitespace, as the extractor does (babel.cfg).
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"])
