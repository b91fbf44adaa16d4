"""Hostile input stops at the door: ids the database cannot hold, and control characters.

Each rule lives here once, so no view has to remember it:

- Ids. Every id column is a PostgreSQL `integer` (up to 2**31-1); a larger number in a query makes
  PostgreSQL raise, and past 2**63 SQLite's driver raises too: a 500 either way. The app's `int`
  URL converter is replaced by one bounded to that range (and to ASCII digits, one spelling per
  id), so a larger id does not match the route and answers 404 like any unknown object. Ids that
  come from forms or query strings go through `parse_id`.
- Control characters. PostgreSQL cannot store a NUL byte in text ("A string literal cannot
  contain NUL"), and no other control character belongs in anything a person types or a link
  carries. Right after the agency is known (so the error page carries its name) and before the
  session check or any view reads the request, the path, every query parameter, every form field
  name and value and every upload's file name are checked; one control character answers 400
  with a message saying what to remove. Tab, line feed and carriage return stay allowed:
  multi-line text needs them. (Werkzeug already turns invalid UTF-8 escapes such as `%ff` into
  storable text.)
"""

import re

from flask import request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from app.i18n import _l

MAX_ID = 2**31 - 1
_MAX_ID_DIGITS = len(str(MAX_ID))
# C0 controls except tab (09), line feed (0a) and carriage return (0d); DEL; the C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` for ids: ASCII digits up to MAX_ID; anything else does not match (a 404)."""

    regex = r"[1-9][0-9]{0,9}"  # no leading zeros, at most ten digits before the range check

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits, min, max, signed)


def parse_id(value: int | str | None) -> int | None:
    """An id from request input (ASCII digits, or an int from a route), None unless 1..MAX_ID."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or value.startswith("0") or len(value) > _MAX_ID_DIGITS:
            return None  # int() would take " 7", "٧", "007" or "1_0", and 5000 digits would cost
        value = int(value)
    if not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_ID else None


class UnstorableInput(BadRequest):
    """A control character in the request; `user_message` (shown on the error page) says where."""


class ControlCharacterInAddress(UnstorableInput):
    user_message = _l(
        "The web address contains an invisible control character (such as a NUL byte). "
        "Check the link and try again."
    )


class ControlCharacterInForm(UnstorableInput):
    user_message = _l(
        "The form contains an invisible control character (such as a NUL byte) that cannot be stored. "
        "Remove it and try again."
    )


def _has_control(*texts) -> bool:
    return any(_CONTROL.search(text) for text in texts)


def _names_and_values(multidict) -> list[str]:
    return [text for pair in multidict.items(multi=True) for text in pair]


def refuse_control_characters() -> None:
    """before_request: 400 for a control character anywhere a person or a link puts text."""
    if _has_control(request.path, *_names_and_values(request.args)):
        raise ControlCharacterInAddress()
    file_names = [upload.filename or "" for _, upload in request.files.items(multi=True)]
    if _has_control(*_names_and_values(request.form), *request.files.keys(), *file_names):
        raise ControlCharacterInForm()


def init_input_guard(app) -> None:
    """Call before the blueprints: the converter must be in place before the first route is added.
    The request pipeline (app/__init__.py) calls `refuse_control_characters` itself."""
    app.url_map.converters["int"] = BoundedIntConverter
