"""Signatures, invoices and payments of the demo's history.

Invoices and payments go through the billing services (app/services/invoices.py and
app/services/payments/), back-dated and without mail; signatures carry the facts hash of
app/services/signatures.py, so they show as valid until the visit changes.
"""

from datetime import date, timedelta

from app.extensions import db
from app.models import Agency, Invoice, Signature, User, Visit
from app.services import invoices, signatures
from app.services.payments.manual import record_manual_payment

from .common import (
    FIRST_INVOICE_NUMBER,
    HISTORY_DAYS,
    HOURLY_RATE_CENTS,
    INVOICE_PERIOD_DAYS,
    PAYMENT_TERMS_DAYS,
    SIGNATURE_GRACE_DAYS,
    Seed,
    at,
    local_day,
)


def sign_settled_visits(seed: Seed, agency: Agency, visits: list[Visit], signer: User) -> None:
    """Sign completed visits older than the grace period; the newer ones stay pending. Signed
    back in time (shortly after each visit), so the rows are written here, with the hash of
    app/services/signatures.py (the visits must be flushed)."""
    signable_before = seed.today - timedelta(days=SIGNATURE_GRACE_DAYS)
    for visit in visits:
        if visit.status == "completed" and local_day(visit.starts_at) < signable_before:
            db.session.add(
                Signature(
                    agency_id=agency.id,
                    visit_id=visit.id,
                    signer_id=signer.id,
                    relationship_kind="self",
                    method=signatures.TYPED,
                    typed_name=signer.display_name,
                    ip_address="127.0.0.1",
                    facts_hash=signatures.facts_hash(visit),
                    signed_at=visit.clock_out_at + timedelta(hours=seed.rng.randint(1, 30)),
                )
            )


def billing_periods(today: date) -> list[tuple[date, date]]:
    """Fortnights from HISTORY_DAYS ago that ended before today."""
    periods = []
    start = today - timedelta(days=HISTORY_DAYS)
    while (end := start + timedelta(days=INVOICE_PERIOD_DAYS - 1)) < today:
        periods.append((start, end))
        start = end + timedelta(days=1)
    return periods


def bill_fortnightly(seed, agency, staff, prefix, clients, *, payer: User) -> list[Invoice]:
    """Invoice each client's completed visits fortnight by fortnight, alternately to the client and
    to the payer, through the billing service (built, then issued at the end of the fortnight,
    without mail). The newest invoice is unpaid, the one before part-paid, older ones paid by check."""
    prepare_billing(agency, prefix)
    periods = billing_periods(seed.today)
    invoices = []
    for index, (start, end) in enumerate(periods):
        periods_since = len(periods) - 1 - index
        for client in clients:
            billed_to = payer if index % 2 else None
            invoice = issue_invoice(seed, agency, staff, client, start, end, billed_to=billed_to)
            if invoice is None:
                continue
            if periods_since == 1:
                record_payment(seed, agency, staff, invoice, invoice.total_cents // 200 * 100)
            elif periods_since > 1:
                record_payment(seed, agency, staff, invoice, invoice.total_cents)
            invoices.append(invoice)
    return invoices


def prepare_billing(agency: Agency, prefix: str) -> None:
    agency.invoice_prefix = prefix
    agency.next_invoice_number = FIRST_INVOICE_NUMBER
    agency.default_hourly_rate_cents = HOURLY_RATE_CENTS
    agency.payment_terms_days = PAYMENT_TERMS_DAYS
    db.session.flush()


def issue_invoice(seed, agency, staff, client, start: date, end: date, *, billed_to) -> Invoice | None:
    """The client's completed visits of the period on an invoice issued the morning after it
    ends; None when there was nothing to bill."""
    try:
        invoice = invoices.build_draft(agency, staff, client, start, end, billed_to=billed_to)
    except invoices.BillingRefused:
        return None
    invoices.issue(agency, invoice, staff, notify=False, when=at(end + timedelta(days=1), 10))
    return invoice


def record_payment(seed: Seed, agency: Agency, staff: User, invoice: Invoice, amount_cents: int) -> None:
    """A check the office received a few days after the invoice went out (no receipt mail)."""
    received_on = local_day(invoice.issued_at) + timedelta(days=seed.rng.randint(3, 10))
    record_manual_payment(
        agency,
        staff,
        invoice,
        amount_cents,
        "check",
        f"Check #{seed.rng.randint(1000, 9999)}",
        received_at=at(received_on, 11),
        notify=False,
    )


def bulk_line(agency, visit: Visit) -> dict:
    """One visit's invoice line for the bulk generator's raw inserts, priced as the billing service
    prices it (the visit need not be in the session)."""
    minutes = invoices.billed_minutes(visit)
    return {
        "agency_id": agency.id,
        "visit_id": visit.id,
        "description": invoices.visit_description(agency, visit),
        "billed_minutes": minutes,
        "rate_cents": agency.default_hourly_rate_cents,
        "amount_cents": invoices.line_amount(minutes, agency.default_hourly_rate_cents),
    }
