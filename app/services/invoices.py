"""Billing: build an invoice from a client's completed, unbilled visits, edit the draft, issue it
with the agency's next number, void it, refund a payment, and a statement for a period.

The rules live here once:
- **Unbilled** visit: completed and on no line of an invoice that is not void (a void invoice's
  visits can be billed again).
- **Billed time**: the clocked time rounded to the nearest quarter hour (at least one quarter), or
  the scheduled time when the caregiver did not clock both in and out.
- **Rate**: the highest hourly rate among the tasks done on the visit that carry one, else the
  client's hourly rate, else the agency's default; a line's amount is minutes × rate / 60, rounded
  half up to the cent.
- **Numbers**: a draft has none; issuing takes the agency's counter with one UPDATE … RETURNING in
  the request's transaction, so numbers run on without gaps (a failed request rolls its number
  back with everything else) and two requests issuing at once wait for each other.

Functions change rows, audit and flush; they never commit. Refusals are `BillingRefused` with a
message for the person who asked.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from babel.dates import format_date
from sqlalchemy import and_, case, exists, func, select, update
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.i18n import _
from app.models import Agency, Client, ClientLink, Invoice, InvoiceLine, Payment, Task, User, Visit, VisitTask
from app.models.base import utcnow
from app.models.client import REL_PAYER
from app.models.statuses import InvoiceStatus, TaskStatus, VisitStatus
from app.services import audit
from app.services.calendar import day_bounds
from app.services.payments import PaymentRefused, mail_about_invoice

QUARTER_HOUR = 15
MAX_PERIOD_DAYS = 366
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)  # days a person may mean
MAX_LINE_MINUTES = 24 * 60
MAX_CENTS = 10_000_000_00  # ten million in the currency: above it is a typing mistake
VOID_REASON_LENGTH = 300
MAX_LINES = 500  # lines on one invoice (a draft's form shows them all)


class BillingRefused(ValueError):
    """The change cannot be made; the message says why, for the staff member who asked."""


def billed_minutes(visit: Visit) -> int:
    """The time billed for a visit: clocked, to the nearest quarter hour, else (not clocked both
    ways, or clocked for more than a day) scheduled."""
    clocked = None
    if visit.clock_in_at is not None and visit.clock_out_at is not None:
        clocked = (visit.clock_out_at - visit.clock_in_at).total_seconds()
    # A clock left running past a day is a forgotten clock-out, not a day's care.
    if clocked is not None and clocked <= MAX_LINE_MINUTES * 60:
        seconds = max(int(clocked), 0)
        quarter = QUARTER_HOUR * 60
        quarters = (seconds + quarter // 2) // quarter  # half a quarter and up rounds up
        return max(quarters, 1) * QUARTER_HOUR
    return int((visit.ends_at - visit.starts_at).total_seconds() // 60)


def hourly_rate(agency: Agency, client: Client, visit: Visit) -> int:
    """The visit's hourly rate in cents: its dearest rated task done, the client's, the agency's."""
    rated = [
        done.task.hourly_rate_cents
        for done in visit.tasks
        if done.status == TaskStatus.DONE and done.task.hourly_rate_cents is not None
    ]
    if rated:
        return max(rated)
    if client.hourly_rate_cents is not None:
        return client.hourly_rate_cents
    return agency.default_hourly_rate_cents


def line_amount(minutes: int, rate_cents: int) -> int:
    """Minutes at an hourly rate, half a cent and up rounded up (integers only)."""
    return (minutes * rate_cents + 30) // 60


def _local_bounds(agency: Agency, start: date, end: date) -> tuple[datetime, datetime]:
    return day_bounds(agency.zone, start, end)


def _already_billed():
    """SQL: this visit is on a line of an invoice that is not void."""
    return exists().where(
        InvoiceLine.visit_id == Visit.id,
        InvoiceLine.agency_id == Visit.agency_id,
        Invoice.id == InvoiceLine.invoice_id,
        Invoice.status != InvoiceStatus.VOID,
    )


def check_period(start: date, end: date) -> None:
    if not (
        date(2000, 1, 1) <= start <= date(2099, 12, 31) and date(2000, 1, 1) <= end <= date(2099, 12, 31)
    ):
        raise BillingRefused(_("Enter a date between 2000 and 2099."))
    if end < start:
        raise BillingRefused(_("The period must end on or after the day it starts."))
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise BillingRefused(_("A period can be at most a year long."))


def unbilled_visits(agency: Agency, client: Client, start: date, end: date) -> list[Visit]:
    """The client's completed visits starting in the period (the agency's days) that no live
    invoice bills yet, oldest first, with their tasks. Two statements whatever their number."""
    check_period(start, end)
    begins, ends = _local_bounds(agency, start, end)
    return list(
        db.session.scalars(
            select(Visit)
            .where(
                Visit.agency_id == agency.id,
                Visit.client_id == client.id,
                Visit.status == VisitStatus.COMPLETED,
                Visit.starts_at >= begins,
                Visit.starts_at < ends,
                ~_already_billed(),
            )
            .options(selectinload(Visit.tasks).joinedload(VisitTask.task))
            .order_by(Visit.starts_at, Visit.id)
        )
    )


def unbilled_count(agency: Agency, client: Client, start: date, end: date) -> int:
    check_period(start, end)
    begins, ends = _local_bounds(agency, start, end)
    return db.session.scalar(
        select(func.count(Visit.id)).where(
            Visit.agency_id == agency.id,
            Visit.client_id == client.id,
            Visit.status == VisitStatus.COMPLETED,
            Visit.starts_at >= begins,
            Visit.starts_at < ends,
            ~_already_billed(),
        )
    )


def visit_description(agency: Agency, visit: Visit) -> str:
    day = visit.starts_at.astimezone(agency.zone).date()
    return f"Care visit {format_date(day, 'EEE MMM d, y', locale='en_US')}"


def build_draft(
    agency: Agency, actor: User, client: Client, start: date, end: date, billed_to: User | None = None
) -> Invoice:
    """A draft invoice with a line per completed, unbilled visit of the period. The client's row
    is locked first (PostgreSQL), so two drafts built at once cannot both take the same visits:
    the second waits for the first to commit and then finds them billed."""
    if client.agency_id != agency.id:
        raise BillingRefused(_("This client is not the agency's."))
    db.session.execute(select(Client.id).where(Client.id == client.id).with_for_update())
    visits = unbilled_visits(agency, client, start, end)
    if not visits:
        raise BillingRefused(_("There are no completed, unbilled visits for this client in this period."))
    if len(visits) > MAX_LINES:
        raise BillingRefused(
            _("%(count)d visits are too many for one invoice: choose a shorter period.", count=len(visits))
        )
    invoice = Invoice(
        agency_id=agency.id,
        client_id=client.id,
        billed_to_id=billed_to.id if billed_to is not None else None,
        status=InvoiceStatus.DRAFT,
        period_start=start,
        period_end=end,
        paid_cents=0,
    )
    for visit in visits:
        minutes = billed_minutes(visit)
        rate = hourly_rate(agency, client, visit)
        invoice.lines.append(
            InvoiceLine(
                agency_id=agency.id,
                visit_id=visit.id,
                description=visit_description(agency, visit),
                billed_minutes=minutes,
                rate_cents=rate,
                amount_cents=line_amount(minutes, rate),
            )
        )
    invoice.total_cents = sum(line.amount_cents for line in invoice.lines)
    if invoice.total_cents > MAX_CENTS:
        raise BillingRefused(_("The total is too large for one invoice."))
    db.session.add(invoice)
    db.session.flush()
    audit.record(
        "invoice.drafted",
        actor=actor,
        target=invoice,
        client_id=client.id,
        visits=len(visits),
        total_cents=invoice.total_cents,
    )
    return invoice


@dataclass
class LineChange:
    """What the draft form says of one line: its text, billed minutes (None: a unit line), rate."""

    line_id: int
    description: str
    billed_minutes: int | None
    rate_cents: int
    remove: bool = False


@dataclass
class DraftChange:
    lines: list[LineChange]
    billed_to: User | None
    due_on: date | None
    notes: str | None
    # An extra line: text and amount (one unit), e.g. mileage or a supply.
    new_description: str | None = None
    new_amount_cents: int | None = None


def _require_draft(invoice: Invoice) -> None:
    if invoice.status != InvoiceStatus.DRAFT:
        raise BillingRefused(_("Only a draft can be changed; this invoice is already issued."))


def update_draft(invoice: Invoice, actor: User, change: DraftChange) -> None:
    """Apply the draft form: line texts, minutes and rates, removals, an added line, the payer,
    due date and notes; the total follows. Everything is checked before anything changes: a
    change that would leave no line, names a line not on the draft or overflows is refused."""
    _require_draft(invoice)
    by_id = {line.id: line for line in invoice.lines}
    if any(wanted.line_id not in by_id for wanted in change.lines):
        raise BillingRefused(_("A line of this draft was removed meanwhile. Reload the page."))
    changes = {wanted.line_id: wanted for wanted in change.lines}
    for wanted in change.lines:
        if not 0 <= wanted.rate_cents <= MAX_CENTS:
            raise BillingRefused(_("A rate must be zero or more and not absurdly large."))
        if wanted.billed_minutes is not None and not 1 <= wanted.billed_minutes <= MAX_LINE_MINUTES:
            raise BillingRefused(_("Billed minutes must be between 1 and 1440."))
    if change.new_description and not 0 < (change.new_amount_cents or 0) <= MAX_CENTS:
        raise BillingRefused(_("Enter the amount of the added line."))
    kept = [line for line in invoice.lines if not (line.id in changes and changes[line.id].remove)]
    if not kept and not change.new_description:
        raise BillingRefused(_("A draft needs at least one line. Discard the draft instead."))

    def priced(line: InvoiceLine) -> tuple[int | None, int, int]:
        wanted = changes.get(line.id)
        minutes = line.billed_minutes
        rate = wanted.rate_cents if wanted else line.rate_cents
        if minutes is not None and wanted and wanted.billed_minutes is not None:
            minutes = wanted.billed_minutes
        return minutes, rate, rate if minutes is None else line_amount(minutes, rate)

    if len(kept) + (1 if change.new_description else 0) > MAX_LINES:
        raise BillingRefused(_("An invoice can have at most 500 lines."))
    prices = {line.id: priced(line) for line in kept}
    added = (change.new_amount_cents or 0) if change.new_description else 0
    if sum(amount for _m, _r, amount in prices.values()) + added > MAX_CENTS:
        raise BillingRefused(_("The total is too large for one invoice."))
    for line in list(invoice.lines):
        if line.id not in prices:
            invoice.lines.remove(line)
            continue
        line.billed_minutes, line.rate_cents, line.amount_cents = prices[line.id]
        if line.id in changes:
            line.description = changes[line.id].description
    if change.new_description:
        invoice.lines.append(
            InvoiceLine(
                agency_id=invoice.agency_id,
                description=change.new_description,
                billed_minutes=None,
                rate_cents=added,
                amount_cents=added,
            )
        )
    invoice.billed_to_id = change.billed_to.id if change.billed_to is not None else None
    invoice.due_on = change.due_on
    invoice.notes = change.notes or None
    invoice.total_cents = sum(line.amount_cents for line in invoice.lines)
    db.session.flush()
    audit.record(
        "invoice.draft_changed",
        actor=actor,
        target=invoice,
        client_id=invoice.client_id,
        lines=len(invoice.lines),
        total_cents=invoice.total_cents,
    )


def discard_draft(invoice: Invoice, actor: User) -> None:
    _require_draft(invoice)
    audit.record("invoice.draft_discarded", actor=actor, target=invoice, client_id=invoice.client_id)
    db.session.delete(invoice)
    db.session.flush()


def is_payer_of(client_id: int, user_id: int) -> bool:
    return db.session.scalar(
        select(
            exists().where(
                ClientLink.client_id == client_id,
                ClientLink.user_id == user_id,
                ClientLink.relationship_kind == REL_PAYER,
            )
        )
    )


def take_invoice_number(agency: Agency) -> str:
    """The agency's next invoice number, counted up in the database (row-locked until commit)."""
    number = db.session.execute(
        update(Agency)
        .where(Agency.id == agency.id)
        .values(next_invoice_number=Agency.next_invoice_number + 1)
        .returning(Agency.next_invoice_number, Agency.invoice_prefix)
        .execution_options(synchronize_session=False)
    ).one()
    return f"{number.invoice_prefix}-{number.next_invoice_number - 1}"


def issue(agency: Agency, invoice: Invoice, actor: User, *, notify: bool = True, when=None) -> None:
    """Give the draft its number and send it out: issued now (or `when`, for the demo's history),
    due after the agency's payment terms unless the draft says a date; the client or payer is
    mailed that it is waiting (the number and amount only) unless `notify` is off."""
    _require_draft(invoice)
    if invoice.agency_id != agency.id:
        raise BillingRefused(_("This invoice is not the agency's."))
    if not invoice.lines or invoice.total_cents <= 0:
        raise BillingRefused(_("An invoice needs at least one line and a total above zero."))
    if invoice.billed_to_id is not None and not is_payer_of(invoice.client_id, invoice.billed_to_id):
        # The payer's access was removed after the draft named them.
        raise BillingRefused(
            _("The person this draft is billed to is no longer the client's payer: choose who is billed.")
        )
    invoice.number = take_invoice_number(agency)
    invoice.status = InvoiceStatus.ISSUED
    invoice.issued_at = when or utcnow()
    if invoice.due_on is None:
        issued_day = invoice.issued_at.astimezone(agency.zone).date()
        invoice.due_on = issued_day + timedelta(days=agency.payment_terms_days)
    db.session.flush()
    audit.record(
        "invoice.issued",
        actor=actor,
        target=invoice,
        client_id=invoice.client_id,
        invoice=invoice.number,
        total_cents=invoice.total_cents,
    )
    if notify:
        mail_about_invoice(
            agency, invoice, "invoice_issued", total_cents=invoice.total_cents, due_on=invoice.due_on
        )


def void(invoice: Invoice, actor: User, reason: str) -> None:
    """Void an issued invoice that holds no money (refund its payments first); its visits can be
    billed again. The reason is kept and shown."""
    reason = (reason or "").strip()
    if not reason:
        raise BillingRefused(_("Say why the invoice is void."))
    if invoice.status == InvoiceStatus.DRAFT:
        raise BillingRefused(_("A draft is not voided: discard it instead."))
    if invoice.status == InvoiceStatus.VOID:
        raise BillingRefused(_("This invoice is already void."))
    if invoice.paid_cents != 0:
        raise BillingRefused(_("Payments were recorded on this invoice: refund them before voiding it."))
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = utcnow()
    invoice.void_reason = reason[:VOID_REASON_LENGTH]
    db.session.flush()
    audit.record(
        "invoice.voided",
        actor=actor,
        target=invoice,
        client_id=invoice.client_id,
        invoice=invoice.number,
        reason=invoice.void_reason,
    )


def refundable_amounts(payments: list[Payment]) -> dict[int, int]:
    """What is left to give back of each payment among an invoice's `payments` (refunds included):
    its amount less the refunds already made of it; a refund itself has nothing to give back."""
    left = {payment.id: payment.amount_cents for payment in payments if not payment.is_refund}
    for payment in payments:
        if payment.is_refund and payment.refund_of_id in left:
            left[payment.refund_of_id] += payment.amount_cents  # a refund's amount is negative
    return left


def refundable_cents(payment: Payment) -> int:
    if payment.is_refund:
        return 0
    given_back = db.session.scalars(
        select(Payment).where(Payment.refund_of_id == payment.id, Payment.agency_id == payment.agency_id)
    ).all()
    return refundable_amounts([payment, *given_back])[payment.id]


def refund(
    agency: Agency,
    payment: Payment,
    actor: User,
    amount_cents: int,
    reason: str,
    *,
    gateway_refund=None,
) -> Payment:
    """Give back `amount_cents` of a payment: a negative payment naming it, the invoice's paid
    amount down (a paid invoice is outstanding again). `gateway_refund(payment, amount)` — for a
    payment taken online — returns the gateway's refund id once the money is on its way back;
    an office payment is given back by the office itself (a cheque, a transfer).
    `gateway_refund(payment, amount, idempotency_key)` is asked last, after every check, with a
    key naming what was refunded before, so a retried request cannot refund twice."""
    if payment.agency_id != agency.id:
        raise BillingRefused(_("This payment is not the agency's."))
    # Lock the invoice and read it afresh: a second refund posted at once waits here, then sees
    # the first (and the gateway is never asked twice for the same money).
    invoice = db.session.scalars(
        select(Invoice)
        .where(Invoice.id == payment.invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.PAID):
        raise BillingRefused(_("Only payments of an issued invoice can be refunded."))
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise BillingRefused(_("Enter an amount above zero."))
    left = refundable_cents(payment)
    if amount_cents > left:
        raise BillingRefused(_("That is more than is left to refund of this payment."))
    reason = (reason or "").strip()
    if not reason:
        raise BillingRefused(_("Say why the money is given back."))
    try:
        gateway_id = (
            gateway_refund(payment, amount_cents, f"refund-{payment.id}-{payment.amount_cents - left}")
            if gateway_refund is not None
            else None
        )
    except PaymentRefused as error:
        raise BillingRefused(_("The payment service refused the refund: %(reason)s", reason=error)) from error
    given_back = Payment(
        agency_id=agency.id,
        invoice_id=invoice.id,
        amount_cents=-amount_cents,
        method=payment.method,
        reference=reason[:120],
        gateway_event_id=gateway_id,
        recorded_by_id=actor.id,
        refund_of_id=payment.id,
    )
    db.session.add(given_back)
    invoice.paid_cents = invoice.paid_cents - amount_cents
    if invoice.status == InvoiceStatus.PAID and invoice.balance_cents > 0:
        invoice.status = InvoiceStatus.ISSUED
    db.session.flush()
    audit.record(
        "payment.refunded",
        actor=actor,
        target=invoice,
        client_id=invoice.client_id,
        payment_id=payment.id,
        refund_id=given_back.id,
        amount_cents=amount_cents,
        invoice=invoice.number,
    )
    return given_back


@dataclass
class StatementRow:
    on: date
    invoice: Invoice
    payment: Payment | None  # None: the invoice itself was issued that day
    charge_cents: int
    credit_cents: int
    balance_cents: int


@dataclass
class Statement:
    start: date
    end: date
    opening_cents: int
    rows: list[StatementRow]
    invoiced_cents: int
    paid_cents: int
    closing_cents: int
    client_ids: list[int]  # the clients whose money it shows, the opening balance's included


def statement(
    agency: Agency, start: date, end: date, *, client: Client | None = None, payer: User | None = None
) -> Statement:
    """Invoices issued and payments received in the period for a client (whoever pays) or for a
    payer (every client they pay for), with the opening and running balance. Three statements
    whatever the number of invoices."""
    check_period(start, end)
    if (client is None) == (payer is None):
        raise ValueError("a statement is for a client or for a payer")
    zone = agency.zone
    begins, ends = _local_bounds(agency, start, end)
    whose = Invoice.client_id == client.id if client is not None else Invoice.billed_to_id == payer.id
    billed = and_(
        Invoice.agency_id == agency.id,
        whose,
        Invoice.status.in_((InvoiceStatus.ISSUED, InvoiceStatus.PAID)),
    )
    paid_before = (
        select(func.coalesce(func.sum(Payment.amount_cents), 0))
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .where(billed, Payment.agency_id == agency.id, Payment.received_at < begins)
        .scalar_subquery()
    )
    # Per client billed by the period's end: what was charged before it (the opening balance's
    # charges), and which clients' money the statement shows at all.
    per_client = db.session.execute(
        select(
            Invoice.client_id,
            func.sum(case((Invoice.issued_at < begins, Invoice.total_cents), else_=0)),
            paid_before,
        )
        .where(billed, Invoice.issued_at < ends)
        .group_by(Invoice.client_id)
        .order_by(Invoice.client_id)
    ).all()
    opening_charges = sum(int(charged or 0) for _client_id, charged, _paid in per_client)
    opening_credits = per_client[0][2] if per_client else 0
    invoices = db.session.scalars(
        select(Invoice)
        .where(billed, Invoice.issued_at >= begins, Invoice.issued_at < ends)
        .options(joinedload(Invoice.client))
    ).all()
    payments = db.session.execute(
        select(Payment, Invoice)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .where(billed, Payment.agency_id == agency.id)
        .where(Payment.received_at >= begins, Payment.received_at < ends)
    ).all()
    events = [(inv.issued_at, 0, inv.id, inv, None) for inv in invoices]
    events += [(pay.received_at, 1, pay.id, inv, pay) for pay, inv in payments]
    events.sort(key=lambda event: event[:3])
    opening = int(opening_charges) - int(opening_credits)
    balance = opening
    rows = []
    for moment, _kind, _id, invoice, payment in events:
        charge = invoice.total_cents if payment is None else 0
        credit = payment.amount_cents if payment is not None else 0
        balance += charge - credit
        rows.append(StatementRow(moment.astimezone(zone).date(), invoice, payment, charge, credit, balance))
    invoiced = sum(row.charge_cents for row in rows)
    paid = sum(row.credit_cents for row in rows)
    client_ids = [client.id] if client is not None else [client_id for client_id, _c, _p in per_client]
    return Statement(start, end, opening, rows, invoiced, paid, opening + invoiced - paid, client_ids)


@dataclass
class BillingSettings:
    invoice_prefix: str
    payment_terms_days: int
    default_hourly_rate_cents: int
    task_rates: dict[int, int | None]  # task id → its own hourly rate, None: none


def update_billing_settings(agency: Agency, actor: User, settings: BillingSettings) -> None:
    """The agency's invoice numbering prefix, payment terms and rates (its default and each task's
    own); the counter runs on under a new prefix. Audited by what changed."""
    tasks = {
        task.id: task
        for task in db.session.scalars(
            select(Task).where(Task.agency_id == agency.id, Task.id.in_(settings.task_rates))
        )
    }
    if len(tasks) != len(settings.task_rates):
        raise BillingRefused(_("A task of this list was removed meanwhile. Reload the page."))
    changed = [
        name
        for name in ("invoice_prefix", "payment_terms_days", "default_hourly_rate_cents")
        if getattr(agency, name) != getattr(settings, name)
    ]
    for name in changed:
        setattr(agency, name, getattr(settings, name))
    for task_id, rate in settings.task_rates.items():
        if tasks[task_id].hourly_rate_cents != rate:
            tasks[task_id].hourly_rate_cents = rate
            changed.append(f"task:{task_id}")
    if changed:
        db.session.flush()
        audit.record(
            "billing.settings_changed", actor=actor, target=agency, agency_id=agency.id, fields=changed
        )


def set_client_rate(client: Client, actor: User, hourly_rate_cents: int | None) -> None:
    """The client's own hourly rate (None: the agency's default applies)."""
    if client.hourly_rate_cents == hourly_rate_cents:
        return
    client.hourly_rate_cents = hourly_rate_cents
    db.session.flush()
    audit.record(
        "billing.client_rate_changed",
        actor=actor,
        target=client,
        client_id=client.id,
        hourly_rate_cents=hourly_rate_cents,
    )
