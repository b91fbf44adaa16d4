"""Schedule requests: a family asks the office for care; staff handle or decline it.

A request never creates a visit — the office plans visits. Creating one stores the request,
audits it and queues a mail to the office user chosen in office settings (or the agency's
contact address). The mail names who asked for whom and links to the queue; the care wanted,
tasks and notes stay in the portal (no health information in e-mail). Nothing here commits.
"""

from datetime import date, datetime, time

from flask import current_app
from sqlalchemy import case, exists, or_, select
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.i18n import _l
from app.models import Agency, Caregiver, ClientCaregiver, ScheduleRequest, Task, User, Visit, utcnow
from app.models.statuses import RequestStatus, VisitStatus
from app.services import agencies, audit
from app.services.links import agency_url
from app.services.mail import queue_mail

DECISIONS = (RequestStatus.HANDLED, RequestStatus.DECLINED)
# Translators: the status of a schedule request (in Spanish "solicitud", feminine).
STATUS_LABELS = {
    RequestStatus.OPEN: _l("Open"),
    RequestStatus.HANDLED: _l("Handled"),
    RequestStatus.DECLINED: _l("Declined"),
}
STAFF_NOTE_MAX = 2000


def offered_caregivers(client) -> list[Caregiver]:
    """Caregivers the client may ask for: marked preferred for them *and* who have completed a visit
    with them (the agency decides who is preferred; a name alone is not enough)."""
    worked_with = exists().where(
        Visit.client_id == client.id,
        Visit.caregiver_id == Caregiver.id,
        Visit.status == VisitStatus.COMPLETED,
    )
    return db.session.scalars(
        select(Caregiver)
        .join(ClientCaregiver, ClientCaregiver.caregiver_id == Caregiver.id)
        .where(
            Caregiver.agency_id == client.agency_id,
            ClientCaregiver.client_id == client.id,
            ClientCaregiver.is_preferred.is_(True),
            Caregiver.is_active.is_(True),
            worked_with,
        )
        .order_by(Caregiver.first_name, Caregiver.last_name)
    ).all()


def active_tasks(agency: Agency) -> list[Task]:
    return db.session.scalars(
        select(Task).where(Task.agency_id == agency.id, Task.is_active.is_(True)).order_by(Task.name)
    ).all()


def office_recipient(agency: Agency) -> tuple[str | None, str | None]:
    """Who hears of new requests: the staff member chosen in office settings, else the office."""
    return agencies.office_recipient(agency, agency.schedule_request_recipient_id)


def create_request(
    agency: Agency,
    client,
    requester: User,
    *,
    day: date,
    start: time,
    end: time,
    care_needed: str,
    caregiver: Caregiver | None = None,
    task_ids: list[int] | tuple = (),
    notes: str | None = None,
) -> ScheduleRequest:
    """Store a request (times given in the agency's time zone), audit it and tell the office."""
    zone = agency.zone
    tasks = []
    if task_ids:
        tasks = db.session.scalars(
            select(Task).where(
                Task.agency_id == agency.id, Task.is_active.is_(True), Task.id.in_(list(task_ids))
            )
        ).all()
    request_row = ScheduleRequest(
        agency_id=agency.id,
        client_id=client.id,
        requested_by_id=requester.id,
        starts_at=datetime.combine(day, start, tzinfo=zone),
        ends_at=datetime.combine(day, end, tzinfo=zone),
        care_needed=care_needed.strip(),
        preferred_caregiver_id=caregiver.id if caregiver is not None else None,
        notes=(notes or "").strip() or None,
        status=RequestStatus.OPEN,
        tasks=list(tasks),
    )
    db.session.add(request_row)
    db.session.flush()
    audit.record("schedule_request.created", target=request_row, client_id=client.id, actor=requester)
    recipient, language = office_recipient(agency)
    if recipient:
        queue_mail(
            recipient,
            "schedule_request",
            agency=agency,
            locale=language,
            requester=requester,
            client=client,
            link=agency_url(agency, "admin.schedule_requests"),
        )
    else:
        current_app.logger.warning("agency %s has no address for schedule requests", agency.slug)
    return request_row


def requests_for_clients(client_ids: list[int]) -> list[ScheduleRequest]:
    """What the portal shows: every request for these clients, newest first."""
    if not client_ids:
        return []
    return db.session.scalars(
        select(ScheduleRequest)
        .options(
            selectinload(ScheduleRequest.tasks),
            selectinload(ScheduleRequest.client),
            selectinload(ScheduleRequest.requested_by),
            selectinload(ScheduleRequest.preferred_caregiver),
        )
        .where(ScheduleRequest.client_id.in_(client_ids))
        .order_by(ScheduleRequest.created_at.desc(), ScheduleRequest.id.desc())
    ).all()


def office_queue(agency: Agency, recent_closed: int = 100) -> list[ScheduleRequest]:
    """The admin queue: every open request (oldest first: it has waited longest), then the most
    recently decided ones. One statement for the rows and the people, one for the tasks."""
    mine = ScheduleRequest.agency_id == agency.id
    is_open = ScheduleRequest.status == RequestStatus.OPEN
    recent = (
        select(ScheduleRequest.id)
        .where(mine, ~is_open)
        .order_by(ScheduleRequest.handled_at.desc(), ScheduleRequest.id.desc())
        .limit(recent_closed)
    )
    return db.session.scalars(
        select(ScheduleRequest)
        .options(
            selectinload(ScheduleRequest.tasks),
            joinedload(ScheduleRequest.client),
            joinedload(ScheduleRequest.requested_by),
            joinedload(ScheduleRequest.handled_by),
            joinedload(ScheduleRequest.preferred_caregiver),
        )
        .where(mine, or_(is_open, ScheduleRequest.id.in_(recent.scalar_subquery())))
        .order_by(
            case((is_open, 0), else_=1),
            case((is_open, ScheduleRequest.created_at)),
            case((is_open, ScheduleRequest.id)),
            ScheduleRequest.handled_at.desc(),
            ScheduleRequest.id.desc(),
        )
    ).all()


def decide_request(request_row: ScheduleRequest, staff: User, status: str, note: str | None) -> None:
    """Mark a request handled or declined, with a note the requester will read."""
    if status not in DECISIONS:
        raise ValueError(f"unknown decision {status!r}")
    previous = request_row.status
    request_row.status = status
    request_row.staff_note = (note or "").strip() or None
    request_row.handled_by_id = staff.id
    request_row.handled_at = utcnow()
    db.session.flush()
    audit.record(
        f"schedule_request.{status}",
        target=request_row,
        client_id=request_row.client_id,
        actor=staff,
        previous=previous,
    )
