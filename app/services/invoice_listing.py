"""Invoices as the portal and the office show them: one page of invoices with the totals due, one
invoice's lines (with the visit each came from), payments and open questions, and the
"scheduled vs clocked vs billed" comparison of a line. Each query is one SQL statement whatever
the number of invoices; access is decided by the criterion or the lookup the view passes in."""

import re
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.i18n import _l
from app.models import Conversation, Invoice, InvoiceLine, Payment
from app.models.statuses import InvoiceStatus

PER_PAGE = 20

# What the list and the detail call each state (a draft is shown to the office only).
DRAFT = "draft"
OUTSTANDING = "outstanding"
PARTLY_PAID = "partly_paid"
PAID = "paid"
VOID = "void"
STATE_LABELS = {
    DRAFT: _l("Draft"),
    OUTSTANDING: _l("Outstanding"),
    PARTLY_PAID: _l("Partly paid"),
    PAID: _l("Paid"),
    VOID: _l("Void"),
}


def state_of(invoice: Invoice) -> str:
    if invoice.status == InvoiceStatus.DRAFT:
        return DRAFT
    if invoice.status == InvoiceStatus.VOID:
        return VOID
    if invoice.status == InvoiceStatus.PAID or invoice.balance_cents <= 0:
        return PAID
    return PARTLY_PAID if invoice.paid_cents > 0 else OUTSTANDING


@dataclass
class InvoicePage:
    invoices: list[Invoice]
    total: int  # invoices matching, all pages
    due_cents: int  # the balance of every outstanding one among them
    outstanding: int  # how many are outstanding
    page: int
    pages: int


def invoice_page(criterion, page: int, per_page: int = PER_PAGE, options=()) -> InvoicePage:
    """One page of the invoices `criterion` allows, newest first (a draft by when it was made);
    the count, the number outstanding and the total due ride along as window aggregates, so it is
    one statement (and one more per relationship `options` loads)."""
    balance = case((Invoice.is_outstanding, Invoice.total_cents - Invoice.paid_cents), else_=0)
    owing = case((Invoice.is_outstanding, 1), else_=0)
    rows = db.session.execute(
        select(
            Invoice,
            func.count().over().label("total"),
            func.sum(balance).over().label("due"),
            func.sum(owing).over().label("owing"),
        )
        .where(criterion)
        .options(*options)
        .order_by(func.coalesce(Invoice.issued_at, Invoice.created_at).desc(), Invoice.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    total = rows[0].total if rows else 0
    return InvoicePage(
        invoices=[row[0] for row in rows],
        total=total,
        due_cents=int(rows[0].due or 0) if rows else 0,
        outstanding=int(rows[0].owing or 0) if rows else 0,
        page=page,
        pages=max(1, -(-total // per_page)),
    )


def pdf_filename(name: str) -> str:
    """An invoice number (or a name) as a file name that needs no quoting in a header."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", name) or "invoice"


def _minutes(start, end) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() // 60)


def hours(minutes: int | None) -> str:
    """Minutes as hours and minutes ("2 h 15 min", "2 h"), exact (no float)."""
    if minutes is None:
        return ""
    whole, rest = divmod(abs(minutes), 60)
    sign = "-" if minutes < 0 else ""
    return f"{sign}{whole} h {rest:02d} min" if rest else f"{sign}{whole} h"


@dataclass
class Line:
    """A line as the detail shows it: the row, its number on the invoice, and for a visit the
    scheduled, clocked and billed minutes side by side."""

    line: InvoiceLine
    number: int
    scheduled_minutes: int | None = None
    clocked_minutes: int | None = None
    questions: list[Conversation] = field(default_factory=list)

    @property
    def visit(self):
        return self.line.visit

    @property
    def billed_minutes(self) -> int | None:
        return self.line.billed_minutes

    @property
    def clocked_differs(self) -> bool:
        """Clocked time is not what was scheduled (late, early, short, long, or not clocked)."""
        return self.visit is not None and self.clocked_minutes != self.scheduled_minutes

    @property
    def billed_differs(self) -> bool:
        """Billed hours are neither the scheduled nor the clocked time."""
        billed = self.billed_minutes
        return (
            self.visit is not None
            and billed is not None
            and billed != self.scheduled_minutes
            and billed != self.clocked_minutes
        )

    @property
    def quantity(self) -> str:
        return hours(self.billed_minutes) if self.billed_minutes is not None else "1"


def invoice_lines(invoice: Invoice, questions_visible=None) -> list[Line]:
    """The invoice's lines in order, each with the visit it came from, and — with
    `questions_visible(conversation)`, the viewer's rule — the open threads (not marked done) that
    question each line and that the viewer may read. One statement either way."""
    query = (
        select(InvoiceLine)
        .where(InvoiceLine.invoice_id == invoice.id, InvoiceLine.agency_id == invoice.agency_id)
        .options(joinedload(InvoiceLine.visit))
        .order_by(InvoiceLine.id)
    )
    if questions_visible is not None:
        asked = and_(
            Conversation.invoice_line_id == InvoiceLine.id,
            Conversation.agency_id == invoice.agency_id,
            Conversation.client_id == invoice.client_id,
            Conversation.done_at.is_(None),
        )
        query = query.add_columns(Conversation).outerjoin(Conversation, asked).order_by(Conversation.id)
        rows = db.session.execute(query).unique().all()
    else:
        rows = [(row, None) for row in db.session.scalars(query).unique().all()]
    lines: dict[int, Line] = {}
    for row, thread in rows:
        line = lines.get(row.id)
        if line is None:
            visit = row.visit
            line = lines[row.id] = Line(
                row,
                len(lines) + 1,
                scheduled_minutes=_minutes(visit.starts_at, visit.ends_at) if visit else None,
                clocked_minutes=_minutes(visit.clock_in_at, visit.clock_out_at) if visit else None,
            )
        if thread is not None and questions_visible(thread):
            line.questions.append(thread)
    return list(lines.values())


def invoice_payments(invoice: Invoice) -> list[Payment]:
    return db.session.scalars(
        select(Payment)
        .where(Payment.invoice_id == invoice.id, Payment.agency_id == invoice.agency_id)
        .order_by(Payment.received_at, Payment.id)
    ).all()
