"""Signatures, invoices and payments as the demo writes them until their domain services exist.

These re-state rules that belong to the product, so each says which service replaces it: when
`app/services/signatures.py` (issue 9) and `app/services/invoices.py` and `app/services/payments/`
(issue 10) arrive, the demo calls them instead and these go. Until then a signature seeded here
may show as voided if the real service hashes the visit's facts differently.
"""

import hashlib
import itertools
import json
from datetime import date, datetime, timedelta

from app.extensions import db
from app.models import Agency, Invoice, InvoiceLine, Payment, Signature, User, Visit

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
    """Sign completed visits older than the grace period; the newer ones stay pending.
    Replaced by the signing operation of app/services/signatures.py (issue 9)."""
    signable_before = seed.today - timedelta(days=SIGNATURE_GRACE_DAYS)
    for visit in visits:
        if visit.status == "completed" and local_day(visit.starts_at) < signable_before:
            db.session.add(
                Signature(
                    agency_id=agency.id,
                    visit_id=visit.id,
                    signer_id=signer.id,
                    method="typed",
                    typed_name=signer.display_name,
                    ip_address="127.0.0.1",
                    facts_hash=facts_hash(visit),
                    signed_at=visit.clock_out_at + timedelta(hours=seed.rng.randint(1, 30)),
                )
            )


def facts_hash(visit: Visit) -> str:
    """SHA-256 of what the signer reviewed: times and tasks (must run after the visit is flushed).
    Replaced by the facts hash of app/services/signatures.py (issue 9)."""
    facts = {
        "visit": visit.id,
        "client": visit.client_id,
        "caregiver": visit.caregiver_id,
        "scheduled": [visit.starts_at.isoformat(), visit.ends_at.isoformat()],
        "clocked": [visit.clock_in_at.isoformat(), visit.clock_out_at.isoformat()],
        "tasks": [[task.task_id, task.status, task.refusal_reason] for task in visit.tasks],
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def billing_periods(today: date) -> list[tuple[date, date]]:
    """Fortnights from HISTORY_DAYS ago that ended before today."""
    periods = []
    start = today - timedelta(days=HISTORY_DAYS)
    while (end := start + timedelta(days=INVOICE_PERIOD_DAYS - 1)) < today:
        periods.append((start, end))
        start = end + timedelta(days=1)
    return periods


def bill_fortnightly(seed, agency, staff, prefix, accounts, *, payer: User) -> list[Invoice]:
    """Invoice each client's completed visits fortnight by fortnight, alternately to the client and
    to the payer. The newest invoice is unpaid, the one before part-paid, older ones paid by check."""
    numbers = itertools.count(FIRST_INVOICE_NUMBER)
    periods = billing_periods(seed.today)
    invoices = []
    for index, (start, end) in enumerate(periods):
        periods_since = len(periods) - 1 - index
        for client, visits in accounts:
            billed = [
                visit
                for visit in visits
                if visit.status == "completed" and start <= local_day(visit.starts_at) <= end
            ]
            invoice = issue_invoice(
                agency,
                client,
                billed,
                f"{prefix}-{next(numbers)}",
                start,
                end,
                billed_to=payer if index % 2 else None,
            )
            if periods_since == 1:
                record_payment(seed, agency, staff, invoice, invoice.total_cents // 200 * 100)
            elif periods_since > 1:
                record_payment(seed, agency, staff, invoice, invoice.total_cents)
            invoices.append(invoice)
    return invoices


def issue_invoice(agency, client, visits, number: str, start: date, end: date, *, billed_to) -> Invoice:
    """An issued invoice with a line per visit. Replaced by app/services/invoices.py (issue 10)."""
    issued_on = end + timedelta(days=1)
    lines = [
        InvoiceLine(
            **line_fields(agency, visit.id, local_day(visit.starts_at), visit.starts_at, visit.ends_at)
        )
        for visit in visits
    ]
    invoice = Invoice(
        agency_id=agency.id,
        number=number,
        client_id=client.id,
        billed_to_id=billed_to.id if billed_to else None,
        status="issued",
        period_start=start,
        period_end=end,
        issued_at=at(issued_on, 10),
        due_on=issued_on + timedelta(days=PAYMENT_TERMS_DAYS),
        total_cents=sum(line.amount_cents for line in lines),
        paid_cents=0,
        lines=lines,
    )
    db.session.add(invoice)
    return invoice


def line_fields(agency, visit_id: int, day: date, starts_at: datetime, ends_at: datetime) -> dict:
    """One visit billed at the hourly rate for its scheduled time (the bulk generator's lines too).
    Replaced by the line pricing of app/services/invoices.py (issue 10)."""
    minutes = int((ends_at - starts_at).total_seconds()) // 60
    return {
        "agency_id": agency.id,
        "visit_id": visit_id,
        "description": f"Personal care visit {day:%a %b} {day.day}",
        "billed_minutes": minutes,
        "rate_cents": HOURLY_RATE_CENTS,
        "amount_cents": minutes * HOURLY_RATE_CENTS // 60,
    }


def record_payment(seed: Seed, agency: Agency, staff: User, invoice: Invoice, amount_cents: int) -> None:
    """A check recorded by the office. Replaced by the manual payments of app/services/payments/
    (issue 10)."""
    received_on = local_day(invoice.issued_at) + timedelta(days=seed.rng.randint(3, 10))
    invoice.paid_cents += amount_cents
    if invoice.paid_cents >= invoice.total_cents:
        invoice.status = "paid"
    db.session.add(
        Payment(
            agency_id=agency.id,
            invoice=invoice,
            amount_cents=amount_cents,
            method="check",
            reference=f"Check #{seed.rng.randint(1000, 9999)}",
            received_at=at(received_on, 11),
            recorded_by_id=staff.id,
        )
    )
