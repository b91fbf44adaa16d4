"""The Stripe Checkout gateway, on the `stripe` library.

`start_checkout` creates a Checkout Session for an amount of one invoice and returns the page to
send the payer to; the session carries the agency, invoice and payer ids (metadata and
`client_reference_id`). `handle_webhook` verifies Stripe's signature
(`stripe.Webhook.construct_event`) and, when a session is paid, records the payment once: the
session id is the payment's unique `gateway_event_id`, so a repeated, late or out-of-order event
(`checkout.session.completed` and `checkout.session.async_payment_succeeded` of one session)
records nothing more. A payment above the balance, in another currency or for an invoice that is
no longer outstanding is refused: nothing recorded, the money sent back to the card at once
(audited), and while Stripe cannot be reached the webhook answers 503 so Stripe tries again.

The keys are the agency's own, set by its owner in office settings and stored sealed
(app.services.gateway_keys); an agency without them uses the configuration's (STRIPE_SECRET_KEY,
STRIPE_WEBHOOK_SECRET).
"""

import stripe
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Agency, Invoice, Payment, User
from app.services import audit, gateway_keys
from app.services.payments import (
    PaymentRefused,
    PaymentUnavailable,
    check_amount,
    log_refusal,
    record_payment,
)

PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")

# What handle_webhook did with an event.
RECORDED = "recorded"
ALREADY_RECORDED = "already_recorded"
IGNORED = "ignored"
REFUSED = "refused"


class BadWebhook(ValueError):
    """The payload is not signed with our secret, or is not an event at all."""


def _agency_key(sealed: str | None, setting: str) -> str | None:
    """The agency's own key when it has one (unsealed), else the configuration's `setting`."""
    if sealed:
        return gateway_keys.unseal(sealed)
    return current_app.config.get(setting)


def _secret_key(agency: Agency) -> str:
    try:
        key = _agency_key(agency.stripe_secret_key_encrypted, "STRIPE_SECRET_KEY")
    except gateway_keys.SealError as error:
        current_app.logger.error("stripe: agency %s's secret key: %s", agency.id, error)
        raise PaymentUnavailable("the agency's Stripe secret key cannot be read") from error
    if not key:
        raise PaymentUnavailable("no Stripe secret key for this agency and none configured")
    return key


def start_checkout(
    agency: Agency, invoice: Invoice, payer: User, amount_cents: int, success_url: str, cancel_url: str
) -> str:
    """Create a Checkout Session for `amount_cents` of `invoice`; the URL of its payment page.
    The line names the invoice number and the agency only — nothing about care."""
    check_amount(invoice, amount_cents)
    ids = {"agency_id": str(agency.id), "invoice_id": str(invoice.id), "payer_id": str(payer.id)}
    params = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": agency.currency.lower(),
                    "unit_amount": amount_cents,
                    "product_data": {"name": f"{' '.join(agency.name.split())} — {invoice.number}"},
                },
            }
        ],
        "client_reference_id": f"{agency.id}-{invoice.id}",
        "metadata": ids,
        "payment_intent_data": {"metadata": ids},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if payer.email:
        params["customer_email"] = payer.email
    try:
        session = stripe.checkout.Session.create(api_key=_secret_key(agency), **params)
    except stripe.StripeError as error:
        current_app.logger.error("stripe: no checkout session for invoice %s: %s", invoice.id, error)
        raise PaymentUnavailable("Stripe did not create a checkout session") from error
    return session.url


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def handle_webhook(agency: Agency, payload: bytes, signature: str | None) -> str:
    """Verify and act on one webhook delivery of this agency; raises BadWebhook when it is not
    Stripe's. Returns RECORDED, ALREADY_RECORDED, IGNORED or REFUSED."""
    try:
        secret = _agency_key(agency.stripe_webhook_secret_encrypted, "STRIPE_WEBHOOK_SECRET")
    except gateway_keys.SealError as error:
        current_app.logger.error("stripe: agency %s's webhook secret: %s", agency.id, error)
        raise BadWebhook("the agency's webhook secret cannot be read") from error
    if not secret or not signature:
        raise BadWebhook("no webhook secret configured or no signature sent")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret).to_dict()
    except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError) as error:
        raise BadWebhook(str(error)) from error
    if event.get("type") not in PAID_EVENTS:
        return IGNORED
    session = (event.get("data") or {}).get("object") or {}
    if session.get("payment_status") != "paid":
        return IGNORED  # an asynchronous method: async_payment_succeeded follows
    session_id = session.get("id")
    metadata = session.get("metadata") or {}
    invoice_id = _int(metadata.get("invoice_id"))
    if not session_id or _int(metadata.get("agency_id")) != agency.id or invoice_id is None:
        log_refusal("stripe session %s names no invoice of agency %s", session_id, agency.id)
        return IGNORED
    if db.session.scalar(select(Payment.id).where(Payment.gateway_event_id == session_id)) is not None:
        return ALREADY_RECORDED
    invoice = db.session.scalar(
        select(Invoice).where(Invoice.id == invoice_id, Invoice.agency_id == agency.id)
    )
    amount = session.get("amount_total")
    if invoice is None or not isinstance(amount, int):
        log_refusal("stripe session %s: invoice %s not found or no amount", session_id, invoice_id)
        return REFUSED
    if (session.get("currency") or "").lower() != agency.currency.lower():
        log_refusal(
            "stripe session %s is in %s, not %s", session_id, session.get("currency"), agency.currency
        )
        return _give_back(agency, session, "currency")
    payer_id = _int(metadata.get("payer_id"))
    payer = db.session.get(User, payer_id) if payer_id else None
    if payer is not None and payer.agency_id != agency.id:
        payer = None
    try:
        with db.session.begin_nested():
            record_payment(
                agency,
                invoice,
                amount,
                "card",
                session.get("payment_intent") or session_id,
                None,
                gateway_id=session_id,
                receipt_to=payer,
            )
    except PaymentRefused as error:
        log_refusal(
            "stripe session %s (%s cents) for invoice %s: %s", session_id, amount, invoice.number, error
        )
        return _give_back(agency, session, "not_outstanding_or_over_balance")
    except IntegrityError:
        return ALREADY_RECORDED  # the same session recorded by a delivery running alongside
    return RECORDED


class RefundPending(RuntimeError):
    """Money Stripe took for nothing could not be sent back yet: answer so that Stripe retries."""


def _give_back(agency: Agency, session: dict, why: str) -> str:
    """Money Stripe took that no invoice can take (paid meanwhile, above the balance, another
    currency) goes straight back to the card, once however often the event comes (the session is
    the idempotency key), and the office reads it in the audit log. Returns REFUSED; raises
    RefundPending when Stripe cannot be reached, so the webhook is delivered again later."""
    session_id = session.get("id")
    intent = session.get("payment_intent")
    if not intent:
        current_app.logger.error("stripe session %s refused but names no payment intent", session_id)
        return REFUSED
    try:
        given_back = stripe.Refund.create(
            api_key=_secret_key(agency),
            payment_intent=intent,
            metadata={"agency_id": str(agency.id), "session": str(session_id)},
            idempotency_key=f"refused-{session_id}",
        )
    except (stripe.StripeError, PaymentUnavailable) as error:
        current_app.logger.error("stripe: refund of refused session %s failed: %s", session_id, error)
        raise RefundPending(str(error)) from error
    audit.record(
        "payment.refused_and_refunded",
        actor=None,
        agency_id=agency.id,
        session=session_id,
        refund=given_back.id,
        amount_cents=session.get("amount_total"),
        reason=why,
    )
    return REFUSED


def refund(agency: Agency, payment: Payment, amount_cents: int, idempotency_key: str | None = None) -> str:
    """Give back `amount_cents` of a card payment taken through Checkout (its payment intent);
    Stripe's refund id. Raises PaymentRefused when there is nothing Stripe can refund or it says no."""
    intent = payment.reference or ""
    if not intent.startswith("pi_"):
        raise PaymentRefused("no Stripe payment intent is on record for this payment")
    try:
        result = stripe.Refund.create(
            api_key=_secret_key(agency),
            payment_intent=intent,
            amount=amount_cents,
            metadata={"agency_id": str(agency.id), "payment_id": str(payment.id)},
            idempotency_key=idempotency_key,
        )
    except PaymentUnavailable as error:
        raise PaymentRefused(str(error)) from error
    except stripe.StripeError as error:
        current_app.logger.error("stripe: refund of payment %s refused: %s", payment.id, error)
        raise PaymentRefused(error.user_message or "Stripe did not make the refund") from error
    return result.id


def refunder(agency: Agency, payment: Payment):
    """How a payment's money goes back: through Stripe for one it took, else by the office itself
    (None: nothing to call)."""
    if payment.gateway_event_id is None or payment.is_refund:
        return None
    return lambda taken, amount_cents, key: refund(agency, taken, amount_cents, key)


class StripeGateway:
    def start_checkout(self, agency, invoice, payer, amount_cents, success_url, cancel_url) -> str:
        return start_checkout(agency, invoice, payer, amount_cents, success_url, cancel_url)

    def record(self, agency, invoice, amount_cents, method, reference, actor) -> Payment:
        return record_payment(agency, invoice, amount_cents, method, reference, actor)

    def refund(self, agency, payment, amount_cents, idempotency_key=None) -> str:
        return refund(agency, payment, amount_cents, idempotency_key)
