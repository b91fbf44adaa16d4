"""Reading the calendar's query string: which view, which date, and what a PDF may hold.

The arithmetic and the visit query are in app/services/calendar.py (the dashboard uses them too).
"""

import re
from datetime import date

from flask_babel import format_number
from werkzeug.exceptions import BadRequest, UnprocessableEntity

from app.i18n import _
from app.services.calendar import EARLIEST, LATEST

VIEWS = ("month", "week", "day")
DEFAULT_VIEW = "month"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# xhtml2pdf takes about 5 s per thousand visits and renders one document per process at a time.
MAX_PDF_VISITS = 1500


class BadCalendarQuery(BadRequest):
    """A view or date in the query string that cannot be shown; the message says which."""


class TooManyForPdf(UnprocessableEntity):
    """A period with more visits than one PDF should hold (a big payer's month, say)."""

    def __init__(self, count: int):
        super().__init__(
            _(
                "This view has %(count)s visits, too many for one PDF. "
                "Choose the week view, or one client, and try again.",
                count=format_number(count),
            )
        )


def parse_view(value: str | None) -> str:
    """The view named in the query string; anything but month, week or day is a 400."""
    if not value:
        return DEFAULT_VIEW
    if value not in VIEWS:
        raise BadCalendarQuery(_("There is no such calendar view. Choose month, week or day."))
    return value


def parse_date(value: str | None, today: date) -> date:
    """A strict YYYY-MM-DD (no week dates, no other digits), else a 400."""
    if not value:
        return today
    if not _ISO_DATE.fullmatch(value):
        raise BadCalendarQuery(_("That date is not valid. Dates are written YYYY-MM-DD, e.g. 2026-11-30."))
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadCalendarQuery(
            _("That date does not exist. Dates are written YYYY-MM-DD, e.g. 2026-11-30.")
        ) from None
    if not EARLIEST <= day <= LATEST:
        raise BadCalendarQuery(_("That date is too far in the past or the future."))
    return day
