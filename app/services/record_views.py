"""Who viewed a client's record: every view of the care plan, an invoice, a signed visit record or
the caregivers' visit notes, and every download of a shared document, is one audit event, and the
client's "who viewed my record" log reads them back.

Every page that shows such a record calls `record_view(kind, actor, client_id, target, **details)`
once per request and client (the event is queued and written with the request's commit, in the
audit chain's single insert, so it costs the page no query of its own):

    record_view(INVOICE, user, invoice.client_id, invoice, label=invoice.number)          # /invoices/<id>
    record_view(INVOICE, user, invoice.client_id, invoice, label=invoice.number, how=PDF)  # its PDF
    record_view(CARE_PLAN, user, plan.client_id, plan)                                  # /care-plan
    record_view(SIGNED_VISIT, user, visit.client_id, visit, label=visit_day.isoformat())  # /signatures/<id>
    record_visit_notes(user, visits, access.shows_visit_notes, how=PRINT)                 # the schedule
    record_view(DOCUMENT, user, document.client_id, document, label=document.title)     # /documents/<id>

Staff views of the same records (an office page showing a care plan) call it the same way, with
the staff member as the actor.
"""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, false, func, literal, select, true
from sqlalchemy.orm import aliased

from app.auth.policies import DOCUMENTS, invoice_criterion, link_allows
from app.extensions import db
from app.models import AuditEvent, ClientLink, Document, Invoice, User, utcnow
from app.models.statuses import TaskStatus, VisitStatus
from app.services import audit

RECORD_VIEWED = "record.viewed"  # the one audit action; details["kind"] says what was viewed

# What was viewed (details["kind"]).
INVOICE = "invoice"
CARE_PLAN = "care_plan"
SIGNED_VISIT = "signed_visit"
VISIT_NOTES = "visit_notes"
DOCUMENT = "document"  # a shared document downloaded (label: its title)
KINDS = (INVOICE, CARE_PLAN, SIGNED_VISIT, VISIT_NOTES, DOCUMENT)

# How it was viewed (details["how"]); a page when not said.
PAGE = "page"
PRINT = "print"
PDF = "pdf"
HOWS = (PAGE, PRINT, PDF)

LOG_DAYS = 90  # the log shows this many days back
LABEL_MAX = 100


def record_view(kind: str, actor, client_id: int, target=None, **details):
    """Queue one "viewed" event for this client's record (written at the request's commit).

    `details` may carry `label` (an invoice number, a visit's ISO date) and `how` (PAGE, PRINT,
    PDF); anything else is kept in the event but not shown in the log."""
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r}")
    if details.get("how", PAGE) not in HOWS:
        raise ValueError(f"unknown way of viewing {details['how']!r}")
    if "label" in details:
        details["label"] = str(details["label"])[:LABEL_MAX]
    return audit.record(RECORD_VIEWED, actor=actor, target=target, client_id=client_id, kind=kind, **details)


def shows_notes(visit, notes_allowed: bool) -> bool:
    """Does the schedule show this visit's caregiver note or a refusal reason (the templates'
    rule: a completed visit, to someone the policy lets see notes)?"""
    if not notes_allowed or visit.status != VisitStatus.COMPLETED:
        return False
    if visit.caregiver_note:
        return True
    return any(task.status == TaskStatus.REFUSED and task.refusal_reason for task in visit.tasks)


def record_visit_notes(actor, visits, notes_allowed, how: str = PAGE) -> list[int]:
    """One VISIT_NOTES event per client whose notes these visits displayed (not one per visit);
    `notes_allowed(client_id)` is the viewer's policy. Returns the clients' ids."""
    allowed: dict[int, bool] = {}
    shown: list[int] = []
    for visit in visits:
        client_id = visit.client_id
        if client_id in shown:
            continue
        if client_id not in allowed:
            allowed[client_id] = notes_allowed(client_id)
        if shows_notes(visit, allowed[client_id]):
            shown.append(client_id)
    for client_id in shown:
        record_view(VISIT_NOTES, actor, client_id, how=how)
    return shown


@dataclass
class RecordView:
    """One line of the log: who (None when the account is gone), what, when."""

    event: AuditEvent
    viewer: User | None
    label_shown: bool = True  # False: the reader may not open what it names ("an invoice")

    @property
    def kind(self) -> str:
        return (self.event.details or {}).get("kind", "")

    @property
    def label(self) -> str | None:
        label = (self.event.details or {}).get("label")
        return str(label) if label and self.label_shown else None

    @property
    def how(self) -> str:
        return (self.event.details or {}).get("how", PAGE)

    @property
    def at(self):
        return self.event.created_at


def _label_shown(reader: ClientLink | None):
    """Whether the reader of the log may open the invoice or document an event names: an invoice
    billed to a payer, or a document in a category hidden from the reader, is "an invoice" or "a
    document" to them, without its number or title."""
    if reader is None:
        return true()
    invoice_open = (
        select(Invoice.id).where(Invoice.id == AuditEvent.target_id, invoice_criterion(reader)).exists()
    )
    if link_allows(reader, DOCUMENTS):
        hidden = [category.id for category in reader.hidden_categories]
        document_open = (
            select(Document.id)
            .where(
                Document.id == AuditEvent.target_id,
                Document.client_id == reader.client_id,
                Document.category_id.not_in(hidden),
            )
            .exists()
        )
    else:
        document_open = false()
    return case(
        (AuditEvent.target_type == Invoice.__name__, invoice_open),
        (AuditEvent.target_type == Document.__name__, document_open),
        else_=literal(True),
    )


def views_of(
    agency,
    client_id: int,
    page: int = 1,
    per_page: int = 20,
    days: int = LOG_DAYS,
    reader: ClientLink | None = None,
):
    """One page of the views of this client's record in the last `days`, newest first, with the
    viewer: (total, [RecordView]). One statement (the total rides along as a window count).
    `reader` is the link of the person reading the log, whose reach decides which invoice numbers
    and document titles the lines name (None: all of them, for the office)."""
    viewer = aliased(User)
    since = utcnow() - timedelta(days=days)
    total = func.count().over().label("total")
    rows = db.session.execute(
        select(AuditEvent, viewer, total, _label_shown(reader).label("label_shown"))
        .outerjoin(viewer, viewer.id == AuditEvent.actor_id)
        .where(
            AuditEvent.agency_id == agency.id,
            AuditEvent.client_id == client_id,
            AuditEvent.action == RECORD_VIEWED,
            AuditEvent.created_at >= since,
        )
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return (rows[0].total if rows else 0), [RecordView(row[0], row[1], bool(row.label_shown)) for row in rows]
