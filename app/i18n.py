"""Translatable text, at the bottom of the layers: models, services, auth and views all mark text here.

English is the source language; the catalogs live in app/translations (`make translations`
re-extracts them, `make` compiles them). Mark text with `_`/`gettext` inside functions and with
`_l` (lazy) where it is defined at import time (form labels and messages, label tables), always
with named placeholders: `_("Welcome, %(name)s", name=user.first_name)`. Which language a request
speaks is decided in app/web/i18n.py.
"""

from flask_babel import gettext as _
from flask_babel.speaklater import LazyString
from markupsafe import escape

__all__ = ["N_", "_", "_l"]


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
