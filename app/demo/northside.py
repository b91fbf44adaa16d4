"""Northside Care: a second agency beside Sunrise, with its own `admin`, to show that agencies never
see each other's data."""

from datetime import time, timedelta

from app.extensions import db

from .common import (
    INVOICE_PERIOD_DAYS,
    MESSAGE_TEMPLATE,
    Seed,
    add_agency,
    add_care_plan,
    add_caregivers,
    add_client,
    add_conversation,
    add_document,
    add_document_categories,
    add_staff_owner,
    add_tasks,
    at,
    complete,
    mark_preferred,
    new_visit,
    pick,
)
from .records import issue_invoice, prepare_billing, sign_settled_visits


def seed_northside(seed: Seed) -> None:
    agency = add_agency(
        slug="northside",
        name="Northside Care",
        host="northside.localhost",
        contact_email="office@northside.example.org",
        contact_phone="(773) 555-0140",
        address="4800 N Broadway, Chicago, IL 60640",
        payment_gateway="manual",
        message_template=MESSAGE_TEMPLATE,
    )
    admin = add_staff_owner(seed, agency, "Nina", "Patel")
    tasks = add_tasks(agency)
    oliver = add_caregivers(agency, ("Oliver Grant",))["Oliver Grant"]
    alice, alice_user = add_client(
        seed,
        agency,
        admin,
        "Alice",
        "Brown",
        email="alice.brown@example.com",
        phone="(773) 555-0171",
        address="5230 N Kenmore Ave, Chicago, IL 60640",
        usual_caregiver=oliver,
    )
    db.session.flush()
    agency.schedule_request_recipient_id = agency.message_recipient_id = admin.id
    mark_preferred(agency, alice, oliver)
    alice_tasks = pick(tasks, "Companionship", "Grocery shopping", "Light housekeeping")
    visits = [
        new_visit(agency, alice, oliver, seed.today + timedelta(days=offset), time(10), 2, alice_tasks)
        for offset in (-14, -7, 7)
    ]
    db.session.add_all(visits)
    completed = visits[:2]
    for visit in completed:
        complete(seed, visit, alice)
    db.session.flush()
    sign_settled_visits(seed, agency, visits, alice_user)
    period_start = seed.today - timedelta(days=20)
    prepare_billing(agency, "NOR")
    issue_invoice(
        seed,
        agency,
        admin,
        alice,
        period_start,
        period_start + timedelta(days=INVOICE_PERIOD_DAYS - 1),
        billed_to=None,
    )
    add_care_plan(
        agency,
        alice,
        goals="Company and help around the house so Alice can keep living independently.",
        frequency="Weekly, 10:00 am – 12:00 pm",
        special_instructions="Alice's cat must not go out onto the balcony.",
        tasks=dict.fromkeys(alice_tasks, ""),
    )
    (records,) = add_document_categories(agency, "Care Records")
    add_document(
        seed,
        agency,
        admin,
        alice,
        records,
        "Welcome letter",
        "welcome.txt",
        b"Welcome to Northside Care, Alice. Oliver Grant will be your caregiver.\n",
        days_ago=21,
    )
    add_conversation(
        agency,
        alice,
        "Grocery list",
        [
            (
                alice_user,
                at(seed.today - timedelta(days=2), 9, 40),
                "Could Oliver pick up oat milk and bananas on his next visit?",
            ),
        ],
    )
