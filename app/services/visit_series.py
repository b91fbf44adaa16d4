"""Weekly repeating visits: a pattern (weekdays at a local start time, for so many minutes, from a
first day until an optional last day) and the visits generated ahead from it.

Each visit is made by app/services/visits.create_visit and changed by update_visit (so a signed
fact that changes voids its signature) or cancel_visit. The local time is kept across daylight
saving changes; a day on which the clocks skip the start time gets no visit and is reported.
`generate_ahead` is idempotent: `generated_until` says how far visits exist.

Functions here change rows, audit and flush; they never commit.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.i18n import _
from app.models import Caregiver, Task, Visit, VisitSeries
from app.models.base import utcnow
from app.models.statuses import TaskStatus, VisitStatus
from app.services import audit
from app.services import visits as visit_service

GENERATE_WEEKS = 8
MAX_MINUTES = 24 * 60
MAX_WEEKS = 104


class SeriesRefused(ValueError):
    """The pattern cannot be saved; the message says why."""


@dataclass
class Outcome:
    created: int = 0
    moved: int = 0
    cancelled: int = 0
    skipped: list[date] = field(default_factory=list)  # days the clocks skip the start time


def weekday_list(text: str | None) -> list[int]:
    return sorted({int(part) for part in (text or "").split(",") if part.strip().isdigit()})


def _weekdays_text(days) -> str:
    days = sorted(set(days))
    if not days or any(d not in range(1, 8) for d in days):
        raise SeriesRefused(_("Choose at least one weekday."))
    return ",".join(str(d) for d in days)


def _start_text(at: time) -> str:
    return at.strftime("%H:%M")


def start_of(series: VisitSeries) -> time:
    return datetime.strptime(series.start_time, "%H:%M").time()


def _check(agency, *, caregiver_id, minutes, first_day, last_day, task_ids) -> list[Task]:
    if not isinstance(minutes, int) or not 0 < minutes <= MAX_MINUTES:
        raise SeriesRefused(_("A visit lasts between 1 minute and 24 hours."))
    if last_day is not None and last_day < first_day:
        raise SeriesRefused(_("The last day cannot be before the first day."))
    if caregiver_id is not None and not db.session.scalar(
        select(Caregiver.id).where(
            Caregiver.id == caregiver_id, Caregiver.agency_id == agency.id, Caregiver.is_active.is_(True)
        )
    ):
        raise SeriesRefused(_("This caregiver is not the agency's."))
    task_ids = set(task_ids or ())
    tasks = []
    if task_ids:
        tasks = db.session.scalars(
            select(Task).where(Task.id.in_(task_ids), Task.agency_id == agency.id, Task.is_active.is_(True))
        ).all()
        if {t.id for t in tasks} != task_ids:
            raise SeriesRefused(_("A task is not the agency's."))
    return sorted(tasks, key=lambda t: t.id)


def _horizon(series: VisitSeries, today: date, weeks: int) -> date:
    until = max(today, series.first_day) + timedelta(days=7 * weeks - 1)
    if series.last_day is not None:
        until = min(until, series.last_day)
    return until


def _moments(series: VisitSeries, zone, day: date):
    starts = visit_service.local_moment(zone, day, start_of(series))
    if starts is None:
        return None
    return starts, starts + timedelta(minutes=series.minutes)


def _add_visit(agency, actor, series, day, zone, outcome) -> Visit | None:
    moments = _moments(series, zone, day)
    if moments is None:
        outcome.skipped.append(day)
        return None
    visit = visit_service.create_visit(
        agency,
        actor,
        series.client,
        starts_at=moments[0],
        ends_at=moments[1],
        caregiver_id=series.caregiver_id,
        task_ids=[task.id for task in series.tasks],
        series_id=series.id,
    )
    outcome.created += 1
    return visit


def _fill(agency, actor, series, zone, start: date, until: date, covered: set[date], outcome) -> None:
    """Visits on the pattern's weekdays from `start` to `until`, except the `covered` days."""
    weekdays = set(weekday_list(series.weekdays))
    day = start
    while day <= until:
        if day.isoweekday() in weekdays and day not in covered:
            _add_visit(agency, actor, series, day, zone, outcome)
        day += timedelta(days=1)


def generate(agency, actor, series: VisitSeries, today: date, weeks: int = GENERATE_WEEKS) -> Outcome:
    """Generate the series' visits from where it stopped (or today / its first day) up to `weeks`
    ahead; running it again creates nothing new."""
    outcome = Outcome()
    zone = agency.zone
    until = _horizon(series, today, weeks)
    start = max(series.first_day, today)
    if series.generated_until is not None:
        start = max(start, series.generated_until + timedelta(days=1))
    if start > until:
        return outcome
    _fill(agency, actor, series, zone, start, until, set(), outcome)
    series.generated_until = until
    db.session.flush()
    return outcome


def create_series(
    agency,
    actor,
    client,
    *,
    weekdays,
    start_time: time,
    minutes: int,
    first_day: date,
    last_day: date | None = None,
    caregiver_id: int | None = None,
    task_ids=(),
    today: date,
) -> tuple[VisitSeries, Outcome]:
    """A new weekly pattern for the agency's client, with its visits generated ahead."""
    if client.agency_id != agency.id:
        raise SeriesRefused(_("This client is not the agency's."))
    days = _weekdays_text(weekdays)
    tasks = _check(
        agency,
        caregiver_id=caregiver_id,
        minutes=minutes,
        first_day=first_day,
        last_day=last_day,
        task_ids=task_ids,
    )
    series = VisitSeries(
        agency_id=agency.id,
        client_id=client.id,
        client=client,
        caregiver_id=caregiver_id,
        weekdays=days,
        start_time=_start_text(start_time),
        minutes=minutes,
        first_day=first_day,
        last_day=last_day,
        tasks=tasks,
    )
    db.session.add(series)
    db.session.flush()
    outcome = generate(agency, actor, series, today)
    audit.record(
        "series.created",
        actor=actor,
        target=series,
        client_id=client.id,
        weekdays=days,
        start_time=series.start_time,
        minutes=minutes,
        first_day=first_day.isoformat(),
        last_day=last_day.isoformat() if last_day else None,
        visits=outcome.created,
        skipped=[d.isoformat() for d in outcome.skipped],
    )
    return series, outcome


def _series_reasons() -> set[str]:
    return {"Series changed", _("Series changed")}


def future_visits(series: VisitSeries, *, scheduled_only: bool = True) -> list[Visit]:
    """The series' visits that have not started yet and are still only scheduled."""
    criteria = [
        Visit.series_id == series.id,
        Visit.agency_id == series.agency_id,
        Visit.starts_at >= utcnow(),
    ]
    if scheduled_only:
        criteria.append(Visit.status == VisitStatus.SCHEDULED)
    return db.session.scalars(
        select(Visit)
        .where(*criteria)
        .options(selectinload(Visit.tasks), selectinload(Visit.signatures))
        .order_by(Visit.starts_at, Visit.id)
    ).all()


def change_future(
    agency,
    actor,
    series: VisitSeries,
    *,
    weekdays,
    start_time: time,
    minutes: int,
    last_day: date | None,
    caregiver_id: int | None,
    task_ids=(),
    today: date,
) -> tuple[list[str], Outcome]:
    """Change the pattern and all its future, still scheduled visits (the past, completed, started
    and cancelled ones stay as they are): a visit on a day still in the pattern is moved through
    update_visit, one on a day no longer in it is cancelled ("Series changed"), and new weekdays
    get visits up to where the series was generated."""
    if series.agency_id != agency.id:
        raise SeriesRefused(_("This pattern is not the agency's."))
    days = _weekdays_text(weekdays)
    tasks = _check(
        agency,
        caregiver_id=caregiver_id,
        minutes=minutes,
        first_day=series.first_day,
        last_day=last_day,
        task_ids=task_ids,
    )
    wanted = {
        "weekdays": days,
        "start_time": _start_text(start_time),
        "minutes": minutes,
        "last_day": last_day,
        "caregiver_id": caregiver_id,
    }
    changed = [name for name, value in wanted.items() if getattr(series, name) != value]
    if [t.id for t in series.tasks] != [t.id for t in tasks]:
        changed.append("tasks")
    outcome = Outcome()
    if not changed:
        return [], outcome
    for name in changed:
        if name != "tasks":
            setattr(series, name, wanted[name])
    series.tasks = tasks
    db.session.flush()

    zone = agency.zone
    weekday_set = set(weekday_list(days))
    reason = _("Series changed")
    task_plan = [visit_service.TaskDone(task_id=t.id, status=TaskStatus.PLANNED) for t in tasks]
    for visit in future_visits(series):
        day = visit.starts_at.astimezone(zone).date()
        moments = _moments(series, zone, day)
        out_of_pattern = day.isoweekday() not in weekday_set or (last_day is not None and day > last_day)
        if out_of_pattern or moments is None:
            if moments is None and not out_of_pattern:
                outcome.skipped.append(day)
            visit_service.cancel_visit(agency, actor, visit, reason)
            outcome.cancelled += 1
            continue
        kept = {row.task_id: row for row in visit.tasks}
        plan = [
            visit_service.TaskDone(t.task_id, kept[t.task_id].status, kept[t.task_id].refusal_reason)
            if t.task_id in kept
            else t
            for t in task_plan
        ]
        if visit_service.update_visit(
            agency,
            actor,
            visit,
            starts_at=moments[0],
            ends_at=moments[1],
            caregiver_id=caregiver_id,
            tasks=plan,
        ):
            outcome.moved += 1

    # New weekdays: visits from today up to where the series is generated, on days not yet covered.
    if series.generated_until is not None:
        until = series.generated_until if last_day is None else min(series.generated_until, last_day)
        start = max(series.first_day, today)
        begins = datetime.combine(start, time.min, zone)
        covered = set()
        for starts_at, status, cancel_reason in db.session.execute(
            select(Visit.starts_at, Visit.status, Visit.cancel_reason).where(
                Visit.series_id == series.id, Visit.agency_id == agency.id, Visit.starts_at >= begins
            )
        ):
            if status != VisitStatus.CANCELLED or cancel_reason not in _series_reasons():
                covered.add(starts_at.astimezone(zone).date())
        now_local = utcnow().astimezone(zone)
        if start == now_local.date() and now_local.time() >= start_of(series):
            covered.add(start)  # today's time has passed: no visit in the past
        _fill(agency, actor, series, zone, start, until, covered, outcome)
        if last_day is not None and series.generated_until > last_day:
            series.generated_until = last_day
    db.session.flush()
    audit.record(
        "series.changed",
        actor=actor,
        target=series,
        client_id=series.client_id,
        fields=changed,
        created=outcome.created,
        moved=outcome.moved,
        cancelled=outcome.cancelled,
    )
    return changed, outcome


def end_series(agency, actor, series: VisitSeries, from_day: date, reason: str) -> Outcome:
    """No more visits from `from_day`: the series' last day becomes the day before, and its future
    scheduled visits from that day are cancelled with the office's reason."""
    reason = (reason or "").strip()
    if series.agency_id != agency.id:
        raise SeriesRefused(_("This pattern is not the agency's."))
    if not reason:
        raise SeriesRefused(_("Say why the visits end."))
    zone = agency.zone
    outcome = Outcome()
    begins = datetime.combine(from_day, time.min, zone)
    for visit in future_visits(series):
        if visit.starts_at >= begins:
            visit_service.cancel_visit(agency, actor, visit, reason)
            outcome.cancelled += 1
    last_day = from_day - timedelta(days=1)
    if series.last_day is None or series.last_day > last_day:
        series.last_day = last_day
    if series.generated_until is not None and series.generated_until > last_day:
        series.generated_until = last_day
    db.session.flush()
    audit.record(
        "series.ended",
        actor=actor,
        target=series,
        client_id=series.client_id,
        from_day=from_day.isoformat(),
        reason=reason,
        cancelled=outcome.cancelled,
    )
    return outcome


def generate_ahead(agency, today: date, weeks: int = GENERATE_WEEKS, actor=None) -> int:
    """Generate every open series of the agency up to `weeks` ahead; the number of new visits."""
    weeks = max(1, min(weeks, MAX_WEEKS))
    series_list = db.session.scalars(
        select(VisitSeries)
        .where(
            VisitSeries.agency_id == agency.id,
            (VisitSeries.last_day.is_(None)) | (VisitSeries.last_day >= today),
        )
        .options(selectinload(VisitSeries.tasks), selectinload(VisitSeries.client))
        .order_by(VisitSeries.id)
    ).all()
    created = 0
    for series in series_list:
        created += generate(agency, actor, series, today, weeks).created
    return created
