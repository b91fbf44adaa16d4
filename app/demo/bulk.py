"""Evergreen Health, the large agency for benchmarks (`flask seed-demo --scale large`): a thousand
clients with a visit or two a day for four months and about 50,000 invoices.

Unlike the small demo it goes through bulk INSERTs, not the domain services: the unit of work
(and an audit event per row) would take many minutes, and nobody reads these rows one by one.
"""

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert

from app.extensions import db
from app.models import Agency, Client, ClientLink, Invoice, InvoiceLine, Payment, User, Visit
from app.models.client import REL_SELF

from .common import (
    MESSAGE_TEMPLATE,
    PAYMENT_TERMS_DAYS,
    SUBSTITUTE_RATE,
    Seed,
    add_agency,
    add_caregivers,
    add_staff_owner,
    add_tasks,
    at,
    days_around,
    local_day,
)
from .records import bulk_line, prepare_billing

LARGE_CLIENT_COUNT = 1000
LARGE_CLIENTS_PER_BATCH = 25  # about 5,000 visits per batch
LARGE_INVOICED_DAYS = 50  # one invoice per client per day of care, ~50,000 in all
LARGE_CAREGIVER_COUNT = 40  # distinct names drawn from the name lists
LARGE_FIRST_INVOICE_NUMBER = 100001
BULK_CHUNK = 5000

FIRST_NAMES = (
    "James Mary John Patricia Michael Linda William Barbara Richard Betty Joseph Helen Thomas "
    "Dorothy Charles Ruth George Shirley Frank Joan Raymond Virginia Walter Evelyn Arthur Jean Henry "
    "Alice Albert Frances Eugene Martha Carl Gloria Ralph Marie Louis Ann Howard Rose"
).split()
LAST_NAMES = (
    "Anderson Baker Campbell Davis Evans Fisher Garcia Harris Irwin Jackson King Lopez Miller Nelson "
    "Olsen Parker Quinn Reed Sanchez Turner Underwood Vasquez Walker Young Zimmerman Brooks Collins "
    "Dixon Ellis Foster Gray Hughes Jenkins Kelly Lewis Morgan Nguyen Owens Price Russell"
).split()


@dataclass(frozen=True)
class _BulkClient:
    id: int
    usual_caregiver_id: int


def seed_evergreen(seed: Seed) -> None:
    agency = add_agency(
        slug="evergreen",
        name="Evergreen Health",
        host="evergreen.localhost",
        contact_email="office@evergreen.example.org",
        contact_phone="(847) 555-0200",
        payment_gateway="manual",
        message_template=MESSAGE_TEMPLATE,
    )
    admin = add_staff_owner(seed, agency, "Elena", "Park")
    add_tasks(agency)
    caregiver_names = [
        f"{first} {last}"
        for first, last in zip(
            seed.rng.sample(FIRST_NAMES, LARGE_CAREGIVER_COUNT),
            seed.rng.sample(LAST_NAMES, LARGE_CAREGIVER_COUNT),
            strict=True,
        )
    ]
    caregivers = add_caregivers(agency, caregiver_names)
    db.session.flush()
    caregiver_ids = [caregiver.id for caregiver in caregivers.values()]
    agency.schedule_request_recipient_id = agency.message_recipient_id = admin.id
    clients = _bulk_add_clients(seed, agency, caregiver_ids)
    prepare_billing(agency, "EVG")
    invoice_numbers = itertools.count(LARGE_FIRST_INVOICE_NUMBER)
    for start in range(0, len(clients), LARGE_CLIENTS_PER_BATCH):
        batch = clients[start : start + LARGE_CLIENTS_PER_BATCH]
        _bulk_add_visits_and_invoices(seed, agency, admin, batch, caregiver_ids, invoice_numbers)
    agency.next_invoice_number = next(invoice_numbers)  # the office's next invoice follows on


def _bulk_add_clients(seed: Seed, agency: Agency, caregiver_ids: list[int]) -> list[_BulkClient]:
    """A thousand clients, each with an own login; login names get a digit on a clash, as in the app."""
    rng = seed.rng
    names = [(rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)) for _ in range(LARGE_CLIENT_COUNT)]
    usernames = _unique_usernames(names)
    user_ids = _bulk_insert_returning_ids(
        User,
        [
            {
                "agency_id": agency.id,
                "username": username,
                "first_name": first,
                "last_name": last,
                "email": f"{username}@example.org",
                "password_hash": seed.password_hash,
                "must_change_password": False,
            }
            for (first, last), username in zip(names, usernames, strict=True)
        ],
    )
    usual_ids = [rng.choice(caregiver_ids) for _ in names]
    client_ids = _bulk_insert_returning_ids(
        Client,
        [
            {
                "agency_id": agency.id,
                "first_name": first,
                "last_name": last,
                "email": f"{username}@example.org",
                "usual_caregiver_id": usual_id,
            }
            for (first, last), username, usual_id in zip(names, usernames, usual_ids, strict=True)
        ],
    )
    _bulk_insert(
        ClientLink,
        [
            {
                "agency_id": agency.id,
                "user_id": user_id,
                "client_id": client_id,
                "relationship_kind": REL_SELF,
            }
            for user_id, client_id in zip(user_ids, client_ids, strict=True)
        ],
    )
    return [_BulkClient(cid, usual) for cid, usual in zip(client_ids, usual_ids, strict=True)]


def _unique_usernames(names: list[tuple[str, str]]) -> list[str]:
    taken: set[str] = set()
    usernames = []
    for first, last in names:
        base = username = f"{first}{last}".lower()
        suffix = 1
        while username in taken:
            suffix += 1
            username = f"{base}{suffix}"
        taken.add(username)
        usernames.append(username)
    return usernames


def _bulk_add_visits_and_invoices(seed, agency, admin, clients, caregiver_ids, invoice_numbers) -> None:
    """Each client's visits over the demo window; every recent day of care billed on its own invoice,
    paid unless it is still within the payment terms."""
    rows = [row for client in clients for row in _bulk_visit_rows(seed, agency, client, caregiver_ids)]
    visit_ids = _bulk_insert_returning_ids(Visit, rows)

    first_billed_day = seed.today - timedelta(days=LARGE_INVOICED_DAYS)
    billable = defaultdict(list)
    for visit_id, row in zip(visit_ids, rows, strict=True):
        day = local_day(row["starts_at"])
        if row["status"] == "completed" and day >= first_billed_day:
            billable[(row["client_id"], day)].append((visit_id, row))

    paid_before = seed.today - timedelta(days=PAYMENT_TERMS_DAYS)
    invoice_rows, line_rows = [], []
    for (client_id, day), visits in billable.items():
        lines = [bulk_line(agency, Visit(id=visit_id, **row)) for visit_id, row in visits]
        total = sum(line["amount_cents"] for line in lines)
        is_paid = day < paid_before
        invoice_rows.append(
            {
                "agency_id": agency.id,
                "number": f"{agency.invoice_prefix}-{next(invoice_numbers)}",
                "client_id": client_id,
                "billed_to_id": None,
                "status": "paid" if is_paid else "issued",
                "period_start": day,
                "period_end": day,
                "issued_at": at(day, 20),
                "due_on": day + timedelta(days=PAYMENT_TERMS_DAYS),
                "total_cents": total,
                "paid_cents": total if is_paid else 0,
            }
        )
        line_rows.append(lines)
    invoice_ids = _bulk_insert_returning_ids(Invoice, invoice_rows)
    _bulk_insert(
        InvoiceLine,
        [
            {**line, "invoice_id": invoice_id}
            for invoice_id, lines in zip(invoice_ids, line_rows, strict=True)
            for line in lines
        ],
    )
    _bulk_insert(
        Payment,
        [
            {
                "agency_id": agency.id,
                "invoice_id": invoice_id,
                "amount_cents": invoice["total_cents"],
                "method": "check",
                "received_at": at(invoice["period_end"] + timedelta(days=7), 11),
                "recorded_by_id": admin.id,
            }
            for invoice_id, invoice in zip(invoice_ids, invoice_rows, strict=True)
            if invoice["status"] == "paid"
        ],
    )


def _bulk_visit_rows(seed, agency, client: _BulkClient, caregiver_ids) -> list[dict]:
    """A morning visit every day and an evening one on weekdays, mostly by the usual caregiver."""
    rng = seed.rng
    morning = (rng.choice((7, 8, 9, 10)), rng.choice((1, 2, 3)))  # (start hour, hours)
    evening = (17, 1)
    rows = []
    for day in days_around(seed.today):
        for start_hour, hours in (morning, evening) if day.weekday() < 5 else (morning,):
            starts_at = at(day, start_hour)
            ends_at = starts_at + timedelta(hours=hours)
            status = "scheduled" if day >= seed.today else _bulk_past_status(rng)
            clock_in_at = clock_out_at = None
            if status == "completed":
                clock_in_at = starts_at + timedelta(minutes=rng.randint(-6, 8))
                clock_out_at = ends_at + timedelta(minutes=rng.randint(-8, 6))
            caregiver_id = client.usual_caregiver_id
            if rng.random() < SUBSTITUTE_RATE:
                caregiver_id = rng.choice(caregiver_ids)
            rows.append(
                {
                    "agency_id": agency.id,
                    "client_id": client.id,
                    "caregiver_id": caregiver_id,
                    "starts_at": starts_at,
                    "ends_at": ends_at,
                    "status": status,
                    "clock_in_at": clock_in_at,
                    "clock_out_at": clock_out_at,
                }
            )
    return rows


def _bulk_past_status(rng: random.Random) -> str:
    roll = rng.random()
    return "cancelled" if roll < 0.02 else "missed" if roll < 0.03 else "completed"


def _bulk_insert(model, rows: list[dict]) -> None:
    """INSERT many rows in chunks. render_nulls gives every row the same columns, so each chunk goes out
    in a few big batches rather than one batch per pattern of NULLs."""
    for chunk in _chunks(rows):
        db.session.execute(insert(model).execution_options(render_nulls=True), chunk)


def _bulk_insert_returning_ids(model, rows: list[dict]) -> list[int]:
    """Like _bulk_insert, also giving the new ids in row order (RETURNING costs about twice the time)."""
    statement = (
        insert(model).returning(model.id, sort_by_parameter_order=True).execution_options(render_nulls=True)
    )
    return [new_id for chunk in _chunks(rows) for new_id in db.session.scalars(statement, chunk)]


def _chunks(rows: list[dict]):
    for start in range(0, len(rows), BULK_CHUNK):
        yield rows[start : start + BULK_CHUNK]
