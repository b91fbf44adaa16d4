"""CSV export of the agency's clients, caregivers and visits, in the columns the import reads
(app/services/csv_import.COLUMNS), so an export imported again changes nothing; and of the office's
other lists, people and leads, for the agency's own records.

Rows are produced as they are read (`yield_per`), a couple of statements whatever the size, so a
large agency's file streams rather than sitting in memory. A cell that a spreadsheet would run as a
formula (it begins with = + - @, a tab or a carriage return) is written with a leading single
quote; the import takes that quote off again, so the round trip keeps the value.
"""

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import Caregiver, Client, ClientLead, ClientLink, Task, User, Visit, VisitTask
from app.models.statuses import Role
from app.services.csv_import import TASK_SEPARATOR, columns

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_DAYS = 400
DEFAULT_DAYS = 30
YIELD = 500


def neutralise(value) -> str:
    """The cell as text, with a quote before anything a spreadsheet would take for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(header: list[str], rows):
    """The CSV text, a few hundred rows at a time (Excel-style, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for number, row in enumerate(rows, start=1):
        writer.writerow([neutralise(cell) for cell in row])
        if number % YIELD == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _people(agency, model):
    names = columns("clients" if model is Client else "caregivers")
    query = (
        select(*(getattr(model, name) for name in names))
        .where(model.agency_id == agency.id)
        .order_by(model.last_name, model.first_name, model.id)
        .execution_options(yield_per=YIELD)
    )
    return _stream(query)


def _stream(query):
    for row in db.session.execute(query):
        yield list(row)


def client_rows(agency):
    """The agency's clients, by name (the statement runs when the rows are read)."""
    return _people(agency, Client)


def caregiver_rows(agency):
    """The agency's caregivers, by name (the statement runs when the rows are read)."""
    return _people(agency, Caregiver)


def visit_range(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants from the start of `first` to the end of `last`, local days."""
    start = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def visit_rows(agency, first: date, last: date):
    """The visits starting between the local days `first` and `last` (both included), in time
    order: two statements, read together (visits, and their task names in the same order). The
    statements are built now and run when the rows are read (after the request's commit)."""
    zone = agency.zone
    start, end = visit_range(first, last, zone)
    carer = aliased(Caregiver)
    window = (Visit.agency_id == agency.id, Visit.starts_at >= start, Visit.starts_at < end)
    visits = (
        select(
            Visit.id,
            Visit.external_id,
            Client.external_id,
            Visit.starts_at,
            Visit.ends_at,
            carer.external_id,
            Visit.status,
        )
        .join(Client, Client.id == Visit.client_id)
        .outerjoin(carer, carer.id == Visit.caregiver_id)
        .where(*window)
        .order_by(Visit.starts_at, Visit.id)
        .execution_options(yield_per=YIELD)
    )
    tasks = (
        select(VisitTask.visit_id, Task.name)
        .join(Visit, Visit.id == VisitTask.visit_id)
        .join(Task, Task.id == VisitTask.task_id)
        .where(*window)
        .order_by(Visit.starts_at, Visit.id, VisitTask.id)
        .execution_options(yield_per=YIELD)
    )
    return _visit_stream(visits, tasks, zone)


def _visit_stream(visits, tasks, zone):
    task_stream = iter(db.session.execute(tasks))
    pending = next(task_stream, None)
    for visit_id, external_id, client_key, starts_at, ends_at, caregiver_key, status in db.session.execute(
        visits
    ):
        names = []
        while pending is not None and pending[0] == visit_id:
            names.append(pending[1])
            pending = next(task_stream, None)
        local_start = starts_at.astimezone(zone)
        yield [
            external_id,
            client_key,
            local_start.date().isoformat(),
            local_start.strftime("%H:%M"),
            ends_at.astimezone(zone).strftime("%H:%M"),
            caregiver_key,
            status,
            TASK_SEPARATOR.join(names),
        ]


LEAD_COLUMNS = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "address",
    "source",
    "status",
    "assigned_to",
    "received",
]
PEOPLE_COLUMNS = [
    "first_name",
    "last_name",
    "organisation",
    "login_name",
    "email",
    "phone",
    "kind",
    "active",
    "clients",
]


def lead_rows(agency):
    """The agency's leads, newest first (the enquiry text stays in Porchlight: it may hold health
    details)."""
    assignee = aliased(User)
    query = (
        select(
            ClientLead.first_name,
            ClientLead.last_name,
            ClientLead.email,
            ClientLead.phone,
            ClientLead.address,
            ClientLead.source,
            ClientLead.status,
            assignee.username,
            ClientLead.created_at,
        )
        .outerjoin(assignee, assignee.id == ClientLead.assigned_to_id)
        .where(ClientLead.agency_id == agency.id)
        .order_by(ClientLead.created_at.desc(), ClientLead.id.desc())
        .execution_options(yield_per=YIELD)
    )
    return _lead_stream(query, agency.zone)


def _lead_stream(query, zone):
    for row in db.session.execute(query):
        yield [*row[:-1], row[-1].astimezone(zone).date().isoformat()]


def people_rows(agency):
    """Everyone with an account, by name, with their links ("payer: Margaret Jones; …"): two
    statements read together, whatever the number of people."""
    people = (
        select(
            User.id,
            User.first_name,
            User.last_name,
            User.organisation_name,
            User.username,
            User.email,
            User.phone,
            User.role,
            User.is_owner,
            User.is_active,
        )
        .where(User.agency_id == agency.id)
        .order_by(User.last_name, User.first_name, User.id)
        .execution_options(yield_per=YIELD)
    )
    links = (
        select(ClientLink.user_id, ClientLink.relationship_kind, Client.first_name, Client.last_name)
        .join(User, User.id == ClientLink.user_id)
        .join(Client, Client.id == ClientLink.client_id)
        .where(ClientLink.agency_id == agency.id)
        .order_by(User.last_name, User.first_name, User.id, Client.last_name, Client.first_name)
        .execution_options(yield_per=YIELD)
    )
    return _people_stream(people, links)


def _people_stream(people, links):
    link_stream = iter(db.session.execute(links))
    pending = next(link_stream, None)
    for (
        user_id,
        first,
        last,
        organisation,
        username,
        email,
        phone,
        role,
        is_owner,
        active,
    ) in db.session.execute(people):
        clients = []
        while pending is not None and pending[0] == user_id:
            clients.append(f"{pending[1]}: {pending[2]} {pending[3]}")
            pending = next(link_stream, None)
        kind = ("owner" if is_owner else "office staff") if role == Role.STAFF else "portal"
        yield [
            first,
            last,
            organisation,
            username,
            email,
            phone,
            kind,
            "yes" if active else "no",
            "; ".join(clients),
        ]
