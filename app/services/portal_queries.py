"""Portal read queries shared by the dashboard and the section pages.

Each takes the client ids (or link) that app.auth.policies already allowed, so access is decided
in one place and these only count and list. Each is one SQL statement whatever the data size.
"""

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import joinedload

from app.auth.policies import DOCUMENTS, INVOICES, PortalAccess, link_allows
from app.extensions import db
from app.models import (
    Document,
    DocumentCategory,
    Invoice,
    Signature,
    Visit,
    utcnow,
)
from app.models.client import REL_PAYER
from app.models.statuses import VisitStatus
from app.services.invoice_listing import invoice_page

# All the rows a query matches, counted before its LIMIT: the count and the first few in one query.
_TOTAL = func.count().over().label("total")


def _awaiting_signature(client_ids: list[int]):
    signed = exists().where(Signature.visit_id == Visit.id, Signature.voided_at.is_(None))
    return and_(Visit.client_id.in_(client_ids), Visit.status == VisitStatus.COMPLETED, ~signed)


def pending_signature_count(client_ids: list[int]) -> int:
    if not client_ids:
        return 0
    return db.session.scalar(select(func.count(Visit.id)).where(_awaiting_signature(client_ids)))


def upcoming_visits(client_ids: list[int], limit: int = 5) -> tuple[int, list[Visit]]:
    """How many scheduled visits lie ahead, and the next few."""
    if not client_ids:
        return 0, []
    criteria = and_(
        Visit.client_id.in_(client_ids), Visit.status == VisitStatus.SCHEDULED, Visit.starts_at >= utcnow()
    )
    rows = db.session.execute(
        select(Visit, _TOTAL)
        .where(criteria)
        .options(joinedload(Visit.caregiver))
        .order_by(Visit.starts_at)
        .limit(limit)
    ).all()
    return (rows[0].total if rows else 0), [visit for visit, _total in rows]


def invoices_summary(access: PortalAccess, client_id: int, limit: int = 5) -> tuple[int, list[Invoice]]:
    """How many invoices this user may see for the client are outstanding (issued, not fully
    paid), and the most recent `limit` of those.

    A payer's dashboard is about what is billed to them: the count and the `limit` most recent
    invoices, paid or not, for every client they pay for (each with its client loaded)."""
    link = access.link(client_id)
    if link is None or not link_allows(link, INVOICES):
        return 0, []
    if link.relationship_kind == REL_PAYER:
        page = invoice_page(
            access.invoices_criterion(), 1, per_page=limit, options=(joinedload(Invoice.client),)
        )
        return page.outstanding, page.invoices
    outstanding = and_(access.invoices_criterion(client_id), Invoice.is_outstanding)
    rows = db.session.execute(
        select(Invoice, _TOTAL)
        .where(outstanding)
        .order_by(Invoice.issued_at.desc(), Invoice.id.desc())
        .limit(limit)
    ).all()
    return (rows[0].total if rows else 0), [invoice for invoice, _total in rows]


def document_counts(access: PortalAccess, client_id: int) -> list[tuple[DocumentCategory, int]]:
    """Categories with the number of documents this user may see in each."""
    link = access.link(client_id)
    if link is None or not link_allows(link, DOCUMENTS):
        return []
    hidden = [c.id for c in link.hidden_categories]
    rows = db.session.execute(
        select(DocumentCategory, func.count(Document.id))
        .join(Document, and_(Document.category_id == DocumentCategory.id, Document.client_id == client_id))
        .where(DocumentCategory.id.not_in(hidden))
        .group_by(DocumentCategory.id)
        .order_by(DocumentCategory.position, DocumentCategory.name)
    ).all()
    return [(category, count) for category, count in rows]
