"""Paying an invoice online (issue 9, item 4): `/invoices/<id>/pay` creates a Stripe Checkout
Session and sends the payer there; Stripe's webhook records the payment once, refuses
overpayment and queues a receipt without health details; staff record manual payments.

Stripe is never reached: the library's `api_base` points at a stub HTTP server on 127.0.0.1, and
webhook payloads are signed here with the test secret the way Stripe signs them."""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
import stripe
from sqlalchemy import select

from app.models import Agency, AuditEvent, Invoice, InvoiceLine, OutboxMail, Payment, User, utcnow
from app.services.payments import PaymentRefused
from app.services.payments.manual import record_manual_payment
from tests.conftest import get_one, in_app, login
from tests.stripe_stub import WEBHOOK_SECRET as SECRET

WEBHOOK = "/payments/stripe/webhook"


@pytest.fixture
def bills(make, world, stripe_stub):
    """Agency A takes Stripe; Margaret owes 100.00 of 125.50, Robert owes 310.00, and others."""
    agency = get_one(make.app, Agency, id=world.a.id)
    agency.payment_gateway = "stripe"
    make.save(agency)
    b = type("Bills", (), {})()
    b.own = make.invoice(world.client_a, "INV-1002", 12550, paid_cents=2550, issued_at=utcnow())
    make.save(
        InvoiceLine(
            agency_id=world.a.id,
            invoice_id=b.own.id,
            description="Personal care visit",
            billed_minutes=135,
            rate_cents=2900,
            amount_cents=12550,
        )
    )
    b.robert = make.invoice(world.client_a, "INV-R1", 31000, billed_to=world.robert)
    b.harold = make.invoice(world.client_a2, "INV-H1", 5000)
    b.paid = make.invoice(world.client_a, "INV-PAID", 900, status="paid", paid_cents=900)
    b.draft = make.invoice(world.client_a, "INV-DRAFT", 900, status="draft")
    b.alice = make.invoice(world.client_b, "BETA-1", 6600, issued_at=utcnow() - timedelta(days=1))
    b.stub = stripe_stub
    return b


def _pay(client, invoice, amount=None, **kw):
    data = {} if amount is None else {"amount": amount}
    kw.setdefault("token_from", f"/invoices/{invoice.id}/pay")
    return client.post_form(f"/invoices/{invoice.id}/pay", data, **kw)


def _signed(payload: str, secret=SECRET, at=None) -> str:
    at = int(at or time.time())
    digest = hmac.new(secret.encode(), f"{at}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def _event(invoice, amount_cents, session_id="cs_test_1", kind="checkout.session.completed", **extra):
    session = {
        "id": session_id,
        "object": "checkout.session",
        "amount_total": amount_cents,
        "currency": "usd",
        "payment_status": "paid",
        "payment_intent": f"pi_{session_id}",
        "client_reference_id": f"{invoice.agency_id}-{invoice.id}",
        "metadata": {"agency_id": str(invoice.agency_id), "invoice_id": str(invoice.id)} | extra,
    }
    return json.dumps(
        {"id": f"evt_{session_id}_{kind}", "object": "event", "type": kind, "data": {"object": session}}
    )


def _deliver(client, payload, signature=None):
    return client.post(
        WEBHOOK,
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": signature if signature is not None else _signed(payload)},
    )


def _payments(app, invoice):
    with in_app(app) as session:
        return session.scalars(select(Payment).where(Payment.invoice_id == invoice.id)).all()


# --- pressing Pay ---------------------------------------------------------------------------------


def test_the_client_presses_pay_and_goes_to_stripe_with_the_balance(client, world, bills, stripe_stub):
    login(client, "margaretjones")
    detail = client.get(f"/invoices/{bills.own.id}").get_data(as_text=True)
    assert f'action="/invoices/{bills.own.id}/pay"' in detail and "Pay online" in detail
    assert 'value="100.00"' in detail  # the balance, ready to pay in full
    response = _pay(client, bills.own, "100.00")
    assert response.status_code == 303
    assert response.headers["Location"] == "https://checkout.stripe.test/pay/cs_test_1"
    [call] = stripe_stub.received
    form = call["form"]
    assert call["path"] == "/v1/checkout/sessions" and call["auth"] == "Bearer sk_test_porchlight"
    assert form["line_items[0][price_data][unit_amount]"] == "10000"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["metadata[agency_id]"] == str(world.a.id)
    assert form["metadata[invoice_id]"] == str(bills.own.id)
    assert form["metadata[payer_id]"] == str(world.margaret.id)
    assert form["client_reference_id"] == f"{world.a.id}-{bills.own.id}"
    assert form["mode"] == "payment" and form["success_url"].endswith(f"/invoices/{bills.own.id}?paid=1")
    assert "Personal care" not in json.dumps(form)  # the line names the invoice number only


def test_a_partial_amount_and_the_htmx_redirect(client, world, bills, stripe_stub):
    login(client, "robertjones")
    response = _pay(client, bills.robert, "120.5", htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "https://checkout.stripe.test/pay/cs_test_1"
    assert stripe_stub.received[0]["form"]["line_items[0][price_data][unit_amount]"] == "12050"


def test_the_pay_page_without_javascript(client, world, bills):
    login(client, "margaretjones")
    page = client.get(f"/invoices/{bills.own.id}/pay")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Pay invoice INV-1002" in html and "The balance is $100.00" in html


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5", "Enter an amount above zero."),
        ("0", "Enter an amount above zero."),
        ("0.00", "Enter an amount above zero."),
        ("10.001", "Use at most two decimals"),
        ("NaN", "Enter an amount in digits"),
        ("Infinity", "Enter an amount in digits"),
        ("-Infinity", "Enter an amount above zero."),
        ("1e309", "Enter an amount in digits"),
        ("1e2", "Enter an amount in digits"),
        ("١٢", "Enter an amount in digits"),
        ("１２", "Enter an amount in digits"),
        ("1,00.00", "Enter an amount in digits"),
        ("10 0", "Enter an amount in digits"),
        ("0x10", "Enter an amount in digits"),
        ("100.01", "You can pay at most the balance, $100.00."),
        ("99999999999999999999", "That amount is too large."),
        ("123456789012345678901", "That amount is too large."),
        ("", "Enter the amount to pay."),
    ],
)
def test_bad_amounts_answer_422_beside_the_field(client, world, bills, stripe_stub, amount, message):
    login(client, "margaretjones")
    response = _pay(client, bills.own, amount)
    assert response.status_code == 422, amount
    html = response.get_data(as_text=True)
    assert f'id="pay-amount-{bills.own.id}-error" class="error">{message}' in html
    assert 'aria-invalid="true"' in html
    assert stripe_stub.received == []
    fragment = _pay(client, bills.own, amount, htmx=True)
    assert fragment.status_code == 422 and "<html" not in fragment.get_data(as_text=True)


@pytest.mark.parametrize("amount", ["100", "$100.00", "100.0", " 99.99 ", "1"])
def test_good_amounts_are_read_as_cents(client, world, bills, stripe_stub, amount):
    login(client, "margaretjones")
    assert _pay(client, bills.own, amount).status_code == 303
    sent = int(stripe_stub.received[0]["form"]["line_items[0][price_data][unit_amount]"])
    assert sent == {"100": 10000, "$100.00": 10000, "100.0": 10000, " 99.99 ": 9999, "1": 100}[amount]


def test_an_emergency_contact_sees_no_pay_button_and_is_refused(client, world, bills, stripe_stub):
    login(client, "susanjones")
    detail = client.get(f"/invoices/{bills.own.id}").get_data(as_text=True)
    assert "$100.00" in detail  # she sees the invoice (ticked "may view invoices")
    assert "/pay" not in detail and "Pay online" not in detail
    assert client.get(f"/invoices/{bills.own.id}/pay").status_code == 404
    token = client.csrf_token(f"/invoices/{bills.own.id}")
    refused = client.post(f"/invoices/{bills.own.id}/pay", data={"amount": "100.00", "csrf_token": token})
    assert refused.status_code == 404
    assert stripe_stub.received == []


def test_others_invoices_and_not_outstanding_ones_are_404(client, world, bills, stripe_stub):
    login(client, "margaretjones")
    for invoice in (bills.robert, bills.harold, bills.paid, bills.draft, bills.alice):
        response = _pay(client, invoice, "1.00", token_from=f"/invoices/{bills.own.id}")
        assert response.status_code == 404, invoice.number
        assert client.get(f"/invoices/{invoice.id}/pay").status_code == 404
    login(client, "alicebrown", host="beta.localhost")
    response = client.post_form(
        f"/invoices/{bills.own.id}/pay", {"amount": "1.00"}, token_from="/invoices", host="beta.localhost"
    )
    assert response.status_code == 404
    assert stripe_stub.received == []


def test_no_pay_button_unless_the_agency_takes_stripe(client, make, world, bills, stripe_stub):
    agency = get_one(make.app, Agency, id=world.a.id)
    agency.payment_gateway = "manual"
    make.save(agency)
    login(client, "margaretjones")
    detail = client.get(f"/invoices/{bills.own.id}").get_data(as_text=True)
    assert "Pay online" not in detail and "/pay" not in detail
    assert _pay(client, bills.own, "1.00", token_from=f"/invoices/{bills.own.id}").status_code == 404


def test_stripe_down_is_a_message_not_a_500(client, world, bills, monkeypatch):
    monkeypatch.setattr(stripe, "api_base", "http://127.0.0.1:9")  # nothing listens there
    login(client, "margaretjones")
    response = _pay(client, bills.own, "10.00")
    assert response.status_code == 503
    assert "Online payment is not available right now" in response.get_data(as_text=True)


# --- the webhook ----------------------------------------------------------------------------------


def test_a_bad_signature_is_400_and_records_nothing(app, client, world, bills):
    payload = _event(bills.own, 10000)
    for signature in ("", "t=1,v1=00", _signed(payload, secret="whsec_other"), _signed(payload, at=1)):
        assert _deliver(client, payload, signature).status_code == 400, signature
    assert _deliver(client, payload.replace("10000", "1"), _signed(payload)).status_code == 400
    assert _deliver(client, "not json", _signed("not json")).status_code == 400
    assert _payments(app, bills.own) == []


def test_a_completed_session_records_one_payment_however_often_it_comes(app, client, world, bills):
    payload = _event(bills.own, 4000, payer_id=str(world.margaret.id))
    first = _deliver(client, payload)  # no CSRF token: Stripe has none
    assert first.status_code == 200 and first.json["outcome"] == "recorded"
    again = _deliver(client, payload)
    assert again.status_code == 200 and again.json["outcome"] == "already_recorded"
    late = _deliver(client, _event(bills.own, 4000, kind="checkout.session.async_payment_succeeded"))
    assert late.status_code == 200 and late.json["outcome"] == "already_recorded"
    [payment] = _payments(app, bills.own)
    assert (payment.amount_cents, payment.method, payment.gateway_event_id) == (4000, "card", "cs_test_1")
    assert payment.reference == "pi_cs_test_1"
    invoice = get_one(app, Invoice, id=bills.own.id)
    assert (invoice.paid_cents, invoice.status) == (6550, "issued")
    with in_app(app) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "payment.recorded"))
        assert event.actor_id is None and event.details["amount_cents"] == 4000
        assert event.client_id == world.client_a.id


def test_paying_the_balance_marks_the_invoice_paid(app, client, world, bills):
    assert _deliver(client, _event(bills.own, 10000)).json["outcome"] == "recorded"
    invoice = get_one(app, Invoice, id=bills.own.id)
    assert (invoice.paid_cents, invoice.status, invoice.balance_cents) == (12550, "paid", 0)
    # A second session for the same invoice (paid twice over) records nothing and goes back to the
    # card, once however often Stripe tells us.
    for _attempt in range(2):
        assert _deliver(client, _event(bills.own, 100, session_id="cs_test_2")).json["outcome"] == "refused"
    assert len(_payments(app, bills.own)) == 1
    refunds = [call for call in bills.stub.received if call["path"] == "/v1/refunds"]
    assert [call["form"]["payment_intent"] for call in refunds] == ["pi_cs_test_2", "pi_cs_test_2"]
    assert {call["idempotency_key"] for call in refunds} == {"refused-cs_test_2"}
    with in_app(app) as session:
        given_back = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "payment.refused_and_refunded")
        ).all()
        assert given_back and given_back[0].details["amount_cents"] == 100


def test_money_that_cannot_go_back_yet_makes_stripe_try_again(app, client, world, bills):
    bills.stub.refund_error = (
        400,
        {"error": {"message": "charge already refunded", "type": "invalid_request_error"}},
    )
    response = _deliver(client, _event(bills.own, 10001))
    assert response.status_code == 503
    assert _payments(app, bills.own) == []


def test_an_event_for_more_than_the_balance_records_nothing(app, client, world, bills):
    response = _deliver(client, _event(bills.own, 10001))
    assert response.status_code == 200 and response.json["outcome"] == "refused"
    assert _payments(app, bills.own) == []
    assert get_one(app, Invoice, id=bills.own.id).paid_cents == 2550
    with in_app(app) as session:
        assert session.scalar(select(OutboxMail)) is None


def test_events_that_are_not_ours_or_not_paid_record_nothing(app, client, world, bills):
    unpaid = json.loads(_event(bills.own, 1000))
    unpaid["data"]["object"]["payment_status"] = "unpaid"
    assert _deliver(client, json.dumps(unpaid)).json["outcome"] == "ignored"
    other = _event(bills.alice, 1000)  # agency B's invoice, delivered to agency A's address
    assert _deliver(client, other).json["outcome"] == "ignored"
    assert (
        _deliver(client, _event(bills.own, 1000, kind="payment_intent.created")).json["outcome"] == "ignored"
    )
    euros = json.loads(_event(bills.own, 1000))
    euros["data"]["object"]["currency"] = "eur"
    assert _deliver(client, json.dumps(euros)).json["outcome"] == "refused"
    assert _payments(app, bills.own) == [] and _payments(app, bills.alice) == []


def test_the_receipt_carries_amounts_and_no_health_details(app, client, world, bills):
    _deliver(client, _event(bills.own, 4000, payer_id=str(world.margaret.id)))
    with in_app(app) as session:
        [mail] = session.scalars(select(OutboxMail)).all()
    assert mail.to_address == "margaretjones@example.com"
    assert mail.subject == "Payment received by Alpha Home Care"
    assert "$40.00" in mail.body_text and "INV-1002" in mail.body_text and "$60.00" in mail.body_text
    text = (mail.subject + mail.body_text).lower()
    for word in ("personal care", "visit", "medic", "diagnos", "care plan", "margaret jones", "135"):
        assert word not in text, word


def test_the_payment_shows_on_the_invoice(client, world, bills):
    _deliver(client, _event(bills.own, 4000))
    login(client, "margaretjones")
    html = client.get(f"/invoices/{bills.own.id}?paid=1").get_data(as_text=True)
    assert "$40.00" in html and "$60.00" in html and "once Stripe confirms it" in html


# --- manual payments ------------------------------------------------------------------------------


def test_a_manual_payment_is_recorded_and_refuses_overpayment(app, world, bills):
    with in_app(app) as session:
        agency = session.get(Agency, world.a.id)
        staff = session.get(User, world.staff_a.id)
        invoice = session.get(Invoice, bills.own.id)
        for amount in (0, -100, 10001):
            with pytest.raises(PaymentRefused):
                record_manual_payment(agency, staff, invoice, amount, "check", "cheque 1")
        with pytest.raises(PaymentRefused):
            record_manual_payment(agency, staff, invoice, 100, "bitcoin", None)
        assert invoice.paid_cents == 2550
        payment = record_manual_payment(agency, staff, invoice, 10000, "check", "cheque 1042")
        assert (payment.recorded_by_id, payment.reference) == (world.staff_a.id, "cheque 1042")
        assert (invoice.paid_cents, invoice.status) == (12550, "paid")
        with pytest.raises(PaymentRefused):
            record_manual_payment(agency, staff, invoice, 1, "transfer", None)
        [mail] = session.scalars(select(OutboxMail)).all()
        assert mail.to_address == "margaretjones@example.com" and "$100.00" in mail.body_text
        session.rollback()


def test_a_delivery_racing_another_records_nothing_more(app, client, make, world, bills):
    """The unique session id is the last word: when the look-up misses a payment recorded under the
    same session id (here: by a delivery the look-up cannot see), the insert's clash answers
    "already recorded" and the invoice is untouched."""
    make.save(
        Payment(
            agency_id=world.b.id,
            invoice_id=bills.alice.id,
            amount_cents=100,
            method="card",
            gateway_event_id="cs_test_1",
        )
    )
    response = _deliver(client, _event(bills.own, 4000))
    assert response.status_code == 200 and response.json["outcome"] == "already_recorded"
    assert _payments(app, bills.own) == []
    assert get_one(app, Invoice, id=bills.own.id).paid_cents == 2550
    with in_app(app) as session:
        assert session.scalar(select(OutboxMail)) is None
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "payment.recorded")) is None
