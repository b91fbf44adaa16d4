"""The calendar's arithmetic and its one visit query.

A period (month, week or day) is a range of *local* dates in the viewer's time zone; visits are
stored in UTC, so the range is turned into two UTC instants before the query, and the visits are
grouped back into local days afterwards. `visits_between` is the only place the schedule loads
visits: one SQL statement with the caregiver and the tasks joined in, so a month costs the same
number of queries whether it holds ten visits or ten thousand.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import get_day_names
from flask_babel import format_number, get_locale
from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload, load_only
from werkzeug.exceptions import BadRequest, UnprocessableEntity

from app.extensions import db
from app.models import Caregiver, Client, Visit, VisitTask
from app.web.formatting import viewer_zone, week_span, when
from app.web.i18n import _, _l

VIEWS = ("month", "week", "day")
DEFAULT_VIEW = "month"
# Weeks start on Sunday, as on a US wall calendar (the demo agencies are in the United States).
WEEK_START = 6  # date.weekday() of Sunday
# Far enough for any real schedule, near enough that "next month" can never overflow a date.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# xhtml2pdf takes about 5 s per thousand visits and renders one document per process at a time.
MAX_PDF_VISITS = 1500

STATUS_LABELS = {
    # Translators: the status of a visit (in Spanish "visita", feminine).
    "scheduled": _l("Scheduled"),
    "in_progress": _l("In progress"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
    "missed": _l("Missed"),
}


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


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def week_start(day: date) -> date:
    return day - timedelta(days=(day.weekday() - WEEK_START) % 7)


@dataclass(frozen=True)
class Period:
    """The dates one calendar view covers, and where previous/next lead."""

    view: str
    anchor: date
    start: date  # first day shown
    end: date  # day after the last day shown
    previous: date
    next: date

    @classmethod
    def of(cls, view: str, anchor: date) -> "Period":
        if view == "month":
            start = anchor.replace(day=1)
            end = _add_months(start, 1)
            previous, following = _add_months(start, -1), end
        elif view == "week":
            start = week_start(anchor)
            end = start + timedelta(days=7)
            previous, following = start - timedelta(days=7), end
        else:
            start, end = anchor, anchor + timedelta(days=1)
            previous, following = anchor - timedelta(days=1), end
        # Keep prev/next inside the accepted range so their links never answer 400.
        return cls(view, anchor, start, end, max(previous, EARLIEST), min(following, LATEST))

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days)]

    @property
    def lead(self) -> int:
        """Blank cells before the first day in a calendar grid whose weeks start on Sunday."""
        return (self.start.weekday() - WEEK_START) % 7

    @property
    def title(self) -> str:
        """The heading in the request's language: "November 2026", "Nov 29 – Dec 5, 2026"."""
        if self.view == "month":
            return when(self.start, "month")
        if self.view == "week":
            return week_span(self.start, self.end - timedelta(days=1))
        return when(self.start, "full_day")

    def utc_bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """Local midnight at the start and at the end of the period, as UTC instants."""
        return (
            datetime.combine(self.start, time(), zone).astimezone(UTC),
            datetime.combine(self.end, time(), zone).astimezone(UTC),
        )


@dataclass
class Day:
    date: date
    visits: list[Visit] = field(default_factory=list)


@dataclass
class Schedule:
    """What a calendar view shows: the period, its days with their visits, and photo knowledge."""

    period: Period
    days: list[Day]
    photo_ids: set[int]  # caregivers with a photo; the others get initials and no image request
    count: int

    @property
    def weeks(self) -> list[list[Day]]:
        """The days cut into calendar weeks: one printed page (and one PDF page) each."""
        weeks: list[list[Day]] = []
        for day in self.days:
            if not weeks or day.date.weekday() == WEEK_START:
                weeks.append([])
            weeks[-1].append(day)
        return weeks


def visits_between(client_ids: list[int], start: datetime, end: datetime) -> tuple[list[Visit], set[int]]:
    """Visits of these clients starting in [start, end), with caregiver and tasks, in one query.

    The caller has already asked the access policy for `client_ids`. The caregiver's photo bytes
    are not loaded — only whether there is one, so the page can show initials without asking for
    an image that does not exist.
    """
    if not client_ids:
        return [], set()
    has_photo = Caregiver.photo.is_not(None).label("has_photo")
    rows = (
        db.session.execute(
            select(Visit, has_photo)
            .outerjoin(Visit.caregiver)
            .where(Visit.client_id.in_(client_ids), Visit.starts_at >= start, Visit.starts_at < end)
            .options(
                contains_eager(Visit.caregiver).load_only(
                    Caregiver.id, Caregiver.first_name, Caregiver.last_name
                ),
                joinedload(Visit.tasks).joinedload(VisitTask.task),
            )
            .order_by(Visit.starts_at, Visit.id)
        )
        .unique()
        .all()
    )
    visits = [visit for visit, _ in rows]
    photo_ids = {visit.caregiver_id for visit, photo in rows if photo and visit.caregiver_id}
    return visits, photo_ids


def build_schedule(client_ids: list[int], period: Period, zone: ZoneInfo) -> Schedule:
    """Load the period's visits and sort them into the local days they start on."""
    start, end = period.utc_bounds(zone)
    visits, photo_ids = visits_between(client_ids, start, end)
    days = {day: Day(day) for day in period.days}
    for visit in visits:
        local_day = visit.starts_at.astimezone(zone).date()
        if local_day in days:  # always true; guards a zone database change mid-request
            days[local_day].visits.append(visit)
    return Schedule(period, list(days.values()), photo_ids, len(visits))


def weekday_names() -> list[str]:
    """Short weekday names in the request's language, in calendar order (Sunday first)."""
    names = get_day_names("abbreviated", locale=get_locale() or "en")
    return [names[(WEEK_START + n) % 7] for n in range(7)]


def initials(name: str) -> str:
    parts = [p for p in name.split() if p]
    return "".join(p[0] for p in parts[:1] + parts[-1:]).upper() if parts else "?"


def caregiver_reaches(caregiver_id: int, client_ids: list[int]) -> bool:
    """Does this caregiver visit (or usually care for) a client the viewer may see?"""
    if not client_ids:
        return False
    visits = select(Visit.id).where(Visit.caregiver_id == caregiver_id, Visit.client_id.in_(client_ids))
    usual = select(Client.id).where(Client.usual_caregiver_id == caregiver_id, Client.id.in_(client_ids))
    return bool(db.session.scalar(select(visits.exists() | usual.exists())))


@dataclass
class Today:
    """The dashboard's "who is coming today" card for one client."""

    schedule: Schedule
    usual: Caregiver | None

    @property
    def visits(self) -> list[Visit]:
        return self.schedule.days[0].visits

    def is_stand_in(self, visit: Visit) -> bool:
        """Is someone other than the usual caregiver coming to this (not cancelled) visit?"""
        return (
            self.usual is not None
            and visit.caregiver_id is not None
            and visit.caregiver_id != self.usual.id
            and visit.status in ("scheduled", "in_progress")
        )


def who_is_coming_today(client: Client) -> Today:
    """Today's visits for the client (today in the viewer's zone), and the usual caregiver."""
    zone = viewer_zone()
    period = Period.of("day", datetime.now(zone).date())
    usual = None
    if client.usual_caregiver_id:
        usual = db.session.scalar(
            select(Caregiver)
            .where(Caregiver.id == client.usual_caregiver_id)
            .options(load_only(Caregiver.id, Caregiver.first_name, Caregiver.last_name))
        )
    return Today(build_schedule([client.id], period, zone), usual)
