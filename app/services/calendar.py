"""The calendar's arithmetic and its one visit query, shared by the schedule and the dashboard.

A period (month, week or day) is a range of *local* dates in the viewer's time zone; visits are
stored in UTC, so the range is turned into two UTC instants before the query, and the visits are
grouped back into local days afterwards. `visits_between` is the only place the calendar loads
visits: one SQL statement with the caregiver and the tasks joined in, so a month costs the same
number of queries whether it holds ten visits or ten thousand. Callers pass the client ids the
access policy allowed and the viewer's zone; nothing here reads the request.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload

from app.extensions import db
from app.models import Caregiver, Client, Visit, VisitTask
from app.models.statuses import VisitStatus

# Weeks start on Sunday, as on a US wall calendar (the demo agencies are in the United States).
WEEK_START = 6  # date.weekday() of Sunday
# Far enough for any real schedule, near enough that "next month" can never overflow a date.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def day_bounds(zone: ZoneInfo, start: date, end: date) -> tuple[datetime, datetime]:
    """The instants that begin the first day and end the last day of a period, in `zone`."""
    return datetime.combine(start, time.min, zone), datetime.combine(end + timedelta(days=1), time.min, zone)


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
    has_photo = Caregiver.photo_file_id.is_not(None).label("has_photo")
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
            and visit.status in (VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS)
        )


def who_is_coming_today(client: Client, zone: ZoneInfo) -> Today:
    """Today's visits for the client (today in the viewer's `zone`), and the usual caregiver."""
    period = Period.of("day", datetime.now(zone).date())
    # PortalAccess loads each client with its usual caregiver, so this costs no query there.
    return Today(build_schedule([client.id], period, zone), client.usual_caregiver)
