"""What needs the office's attention, for the admin home: each count in one statement.

New schedule requests, family messages not read, invitations waiting for approval, completed
visits without a valid signature, overdue invoices and today's visits without a caregiver — each
a scalar subquery of the rule its own module states, so the home costs one statement however
large the agency is, and each stops counting at COUNT_CAP ("1000+").
"""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, exists, func, select

from app.extensions import db
from app.models import (
    Agency,
    Client,
    Conversation,
    Invitation,
    Invoice,
    ScheduleRequest,
    Signature,
    User,
    Visit,
)
from app.models.statuses import RequestStatus, Role, VisitStatus
from app.services import family_access, messages
from app.services.calendar import day_bounds


@dataclass
class Attention:
    open_requests: int
    waiting_messages: int
    waiting_invitations: int
    unsigned_visits: int
    overdue_invoices: int
    unassigned_today: int
    clients: int
    portal_users: int


# A count stops here: past it the office needs a list, not a number, and counting every unsigned
# visit of a large agency (a hundred thousand) would cost the home page most of a second.
COUNT_CAP = 1000


def _count(model, *criteria):
    capped = select(model.id).where(*criteria).limit(COUNT_CAP).subquery()
    return select(func.count()).select_from(capped).scalar_subquery()


def _total(model, *criteria):
    return select(func.count(model.id)).where(*criteria).scalar_subquery()


def overdue(today: date):
    """SQL: an invoice still owed after its due day."""
    return and_(Invoice.is_outstanding, Invoice.due_on < today)


# Unsigned visits the office still chases: those of the last three months (the span of a shift
# signatures report); older ones are for the report, not the home page.
UNSIGNED_DAYS = 93


def unsigned_since(today: date) -> date:
    return today - timedelta(days=UNSIGNED_DAYS - 1)


def unsigned_criterion(agency: Agency):
    """SQL: the agency's completed visits without a live signature."""
    signed = exists().where(Signature.visit_id == Visit.id, Signature.voided_at.is_(None))
    return and_(Visit.agency_id == agency.id, Visit.status == VisitStatus.COMPLETED, ~signed)


def attention(agency: Agency, today: date) -> Attention:
    zone = agency.zone
    begins, ends = day_bounds(zone, today, today)
    recent, _ = day_bounds(zone, unsigned_since(today), today)
    row = db.session.execute(
        select(
            _count(
                ScheduleRequest,
                ScheduleRequest.agency_id == agency.id,
                ScheduleRequest.status == RequestStatus.OPEN,
            ),
            _count(Conversation, messages.office_waiting_criterion(agency)),
            _count(Invitation, family_access.waiting(agency)),
            _count(Visit, unsigned_criterion(agency), Visit.starts_at >= recent, Visit.starts_at < ends),
            _count(Invoice, Invoice.agency_id == agency.id, overdue(today)),
            _count(
                Visit,
                Visit.agency_id == agency.id,
                Visit.status == VisitStatus.SCHEDULED,
                Visit.caregiver_id.is_(None),
                Visit.starts_at >= begins,
                Visit.starts_at < ends,
            ),
            _total(Client, Client.agency_id == agency.id, Client.is_active.is_(True)),
            _total(User, User.agency_id == agency.id, User.role == Role.PORTAL),
        )
    ).one()
    return Attention(*(int(value or 0) for value in row))
