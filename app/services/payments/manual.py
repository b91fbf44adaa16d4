"""The manual gateway: the office records money it received itself — a cheque, a bank transfer,
cash, or a card taken by phone. Nothing is charged here; the staff member is the actor."""

from datetime import datetime

from app.models import Agency, Invoice, Payment, User
from app.services.payments import PaymentRefused, PaymentUnavailable, record_payment

MANUAL_METHODS = ("check", "transfer", "card", "cash")


def record_manual_payment(
    agency: Agency,
    actor: User,
    invoice: Invoice,
    amount_cents: int,
    method: str,
    reference: str | None,
    received_at: datetime | None = None,
    notify: bool = True,
) -> Payment:
    """Record a payment the office received (on `received_at`, default now). Raises PaymentRefused
    for an amount not above zero, above the balance, an unknown method or an invoice that is not
    outstanding. The payer (else the client) is mailed a receipt unless `notify` is off."""
    if method not in MANUAL_METHODS:
        raise PaymentRefused(f"unknown payment method {method!r}")
    return record_payment(
        agency, invoice, amount_cents, method, reference, actor, received_at=received_at, notify=notify
    )


class ManualGateway:
    """Staff record payments; there is no online checkout."""

    def start_checkout(self, agency, invoice, payer, amount_cents, success_url, cancel_url) -> str:
        raise PaymentUnavailable("the manual gateway takes no online payments")

    def record(self, agency, invoice, amount_cents, method, reference, actor) -> Payment:
        return record_manual_payment(agency, actor, invoice, amount_cents, method, reference)

    def refund(self, agency, payment, amount_cents, idempotency_key=None) -> None:
        return None  # the office sends the money back itself (a cheque, a transfer)
