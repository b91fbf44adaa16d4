"""Translations: which language a request speaks, and lazy strings for module-level definitions.

English is the source language; the catalogs live in app/translations (`make translations`
re-extracts them, `make` compiles them). Mark text with `_`/`gettext` inside functions and with
`_l` (lazy) where it is defined at import time (form labels and messages, label tables), always
with named placeholders: `_("Welcome, %(name)s", name=user.first_name)`.
"""

from flask import current_app, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel.speaklater import LazyString
from flask_login import current_user
from markupsafe import escape

__all__ = ["N_", "_", "_l", "init_i18n", "select_locale"]


class LazyText(LazyString):
    """A lazily translated string that Jinja escapes like any other text.

    Flask-Babel's LazyString declares itself safe HTML (its `__html__` returns the raw text), so a
    label such as "Enter the agency's name." would print differently from a plain string.
    """

    def __html__(self):
        return escape(str(self))


def _l(string: str, **variables) -> LazyText:
    """Translate when the string is used, in the language of the request using it."""
    return LazyText(_, string, **variables)


def N_(string: str) -> str:
    """Mark a constant for the catalog without translating it; translate it where it is shown."""
    return string


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
