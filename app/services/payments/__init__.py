"""Payments: the gateway interface and the one way a payment is recorded.

A gateway takes money for an invoice: `stripe_checkout` sends the payer to a Stripe Checkout page
and records the payment when Stripe's webhook says it is paid; `manual` is staff recording a
cheque, a transfer or a card taken by phone. Both end in `record_payment`, which refuses a payment
that is not above zero or more than the balance, bumps the invoice's `paid_cents` (a versioned
row, so a concurrent change is a conflict, never a lost update), marks it paid at a zero balance,
audits, and queues a receipt mail that names amounts and the invoice number only — no lines,
visits or anything about care.
"""

from datetime import datetime
from typing import Protocol

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.i18n import _l
from app.models import Agency, ClientLink, Invoice, Payment, User
from app.models.base import utcnow
from app.models.client import REL_SELF
from app.models.statuses import InvoiceStatus
from app.services import audit
from app.services.links import AgencyHasNoAddress, agency_url
from app.services.mail import queue_mail

METHOD_LABELS = {
    "card": _l("Card"),
    "check": _l("Check"),
    "transfer": _l("Bank transfer"),
    "cash": _l("Cash"),
}
METHODS = tuple(METHOD_LABELS)


class PaymentRefused(ValueError):
    """The payment cannot be recorded (not above zero, above the balance, invoice not outstanding)."""


class PaymentUnavailable(RuntimeError):
    """The gateway cannot take a payment now (not configured, or its API failed)."""


class PaymentGateway(Protocol):
    """What every gateway offers. An online gateway sends the payer away to pay; a manual one
    raises PaymentUnavailable from `start_checkout`."""

    def start_checkout(
        self,
        agency: Agency,
        invoice: Invoice,
        payer: User,
        amount_cents: int,
        success_url: str,
        cancel_url: str,
    ) -> str:
        """Start paying `amount_cents` of `invoice`; the URL to send the payer to."""
        ...

    def record(
        self, agency: Agency, invoice: Invoice, amount_cents: int, method: str, reference: str | None, actor
    ) -> Payment:
        """Record money received for `invoice`."""
        ...

    def refund(
        self, agency: Agency, payment: Payment, amount_cents: int, idempotency_key: str | None = None
    ) -> str | None:
        """Send `amount_cents` of `payment` back; the gateway's refund id (None: the office does it)."""
        ...


def check_amount(invoice: Invoice, amount_cents: int) -> None:
    """Refuse what may never be recorded: not an integer above zero, more than the balance, or an
    invoice that is not outstanding (a draft, void or paid one)."""
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise PaymentRefused("the amount must be a whole number of cents above zero")
    if invoice.status != InvoiceStatus.ISSUED or invoice.balance_cents <= 0:
        raise PaymentRefused(f"invoice {invoice.number} is not outstanding ({invoice.status})")
    if amount_cents > invoice.balance_cents:
        raise PaymentRefused(
            f"{amount_cents} cents is more than the balance of {invoice.number} ({invoice.balance_cents})"
        )


def record_payment(
    agency: Agency,
    invoice: Invoice,
    amount_cents: int,
    method: str,
    reference: str | None,
    actor,
    *,
    gateway_id: str | None = None,
    receipt_to: User | None = None,
    received_at: datetime | None = None,
    notify: bool = True,
) -> Payment:
    """Record a payment: refuse overpayment, bump the invoice, audit, queue the receipt (unless
    `notify` is off). Flushes, never commits. `gateway_id` (unique) is what makes a gateway's
    repeated notice record once."""
    if invoice.agency_id != agency.id:
        raise PaymentRefused("the invoice belongs to another agency")
    if method not in METHODS:
        raise PaymentRefused(f"unknown payment method {method!r}")
    check_amount(invoice, amount_cents)
    payment = Payment(
        agency_id=agency.id,
        invoice_id=invoice.id,
        amount_cents=amount_cents,
        method=method,
        reference=(reference or None) and reference[:120],
        gateway_event_id=gateway_id,
        recorded_by_id=actor.id if actor is not None else None,
        received_at=received_at or utcnow(),
    )
    db.session.add(payment)
    invoice.paid_cents = invoice.paid_cents + amount_cents
    if invoice.balance_cents == 0:
        invoice.status = InvoiceStatus.PAID
    db.session.flush()
    audit.record(
        "payment.recorded",
        actor=actor,
        target=invoice,
        client_id=invoice.client_id,
        agency_id=agency.id,
        payment_id=payment.id,
        amount_cents=amount_cents,
        method=method,
        invoice=invoice.number,
    )
    if notify:
        queue_receipts(agency, invoice, payment, receipt_to)
    return payment


def receipt_recipients(invoice: Invoice, payer: User | None = None) -> list[User]:
    """Who hears of a payment: the one who paid online, else the invoice's payer, else the client's
    own account(s)."""
    if payer is not None:
        return [payer]
    if invoice.billed_to_id is not None:
        return [db.session.get(User, invoice.billed_to_id)]
    return list(
        db.session.scalars(
            select(User)
            .join(ClientLink, ClientLink.user_id == User.id)
            .where(ClientLink.client_id == invoice.client_id, ClientLink.relationship_kind == REL_SELF)
        )
    )


def mail_about_invoice(agency: Agency, invoice: Invoice, template: str, payer: User | None = None, **context):
    """Queue `template` to whoever hears of this invoice (`receipt_recipients`), each in their
    language, with the agency's name, the invoice number and its portal address (no care details)."""
    try:
        link = agency_url(agency, "invoices.detail", invoice_id=invoice.id)
    except AgencyHasNoAddress:
        link = None
    for user in receipt_recipients(invoice, payer):
        if user is None or not user.email:
            continue
        queue_mail(
            user.email,
            template,
            agency=agency,
            locale=user.language,
            agency_name=" ".join(agency.name.split()),
            number=invoice.number,
            link=link,
            **context,
        )


def queue_receipts(agency: Agency, invoice: Invoice, payment: Payment, payer: User | None = None) -> None:
    mail_about_invoice(
        agency,
        invoice,
        "payment_receipt",
        payer,
        amount_cents=payment.amount_cents,
        balance_cents=invoice.balance_cents,
    )


def log_refusal(message: str, *args) -> None:
    current_app.logger.warning("payment refused: " + message, *args)
