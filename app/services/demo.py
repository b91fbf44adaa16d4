"""Deterministic demo data for `flask seed-demo`, so a newcomer can sign in at once and see every
part of the portal filled in.

Sunrise Home Care (the default agency) holds the people of the design's demo: clients, a daughter
who is an emergency contact, a payer, a legal representative and a client who still has a
temporary password, with visits around today, visit records waiting for a signature, invoices
paid and outstanding, messages read and unread, documents, requests and leads. Northside Care
sits beside it (same staff login name `admin`) to show that agencies never see each other's data.
The large scale adds Evergreen Health, a thousand clients strong, for benchmarks.

Everything follows from a fixed random seed and the given `today`, so two runs on the same day
build the same rows. The caller checks that the database is empty and commits; this only adds and
flushes. The large agency goes through bulk INSERTs: the unit of work would take many minutes.
"""

import hashlib
import itertools
import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from app.auth.passwords import hash_secret
from app.extensions import db
from app.models import (
    Agency,
    Caregiver,
    CarePlan,
    CarePlanTask,
    Client,
    ClientCaregiver,
    ClientLead,
    ClientLink,
    Conversation,
    ConversationRead,
    Document,
    DocumentCategory,
    Invoice,
    InvoiceLine,
    Message,
    Payment,
    ScheduleRequest,
    Signature,
    Task,
    User,
    Visit,
    VisitTask,
)
from app.models.client import REL_EMERGENCY, REL_LEGAL, REL_PAYER, REL_SELF
from app.models.statuses import RequestStatus, Role, TaskStatus
from app.services import storage
from app.tenancy import all_agencies

SCALES = ("small", "large")
DEMO_PASSWORD = "porchlight-demo"
TEMPORARY_PASSWORD = "Temporary-2024-pass"
RANDOM_SEED = 20240917
TIME_ZONE = ZoneInfo("America/Chicago")

HISTORY_DAYS = 60  # visits reach this many days back from today, and as many ahead
SIGNATURE_GRACE_DAYS = 10  # completed visits newer than this still await the client's signature
INVOICE_PERIOD_DAYS = 14
PAYMENT_TERMS_DAYS = 14
HOURLY_RATE_CENTS = 3200
FIRST_INVOICE_NUMBER = 1001
REFUSAL_RATE = 0.12
SUBSTITUTE_RATE = 0.15

LARGE_CLIENT_COUNT = 1000
LARGE_CLIENTS_PER_BATCH = 25  # about 5,000 visits per batch
LARGE_INVOICED_DAYS = 50  # one invoice per client per day of care, ~50,000 in all
LARGE_CAREGIVER_COUNT = 40  # distinct names drawn from the name lists
LARGE_FIRST_INVOICE_NUMBER = 100001
BULK_CHUNK = 5000

TASK_NAMES = (
    "Bathing",
    "Dressing",
    "Meal preparation",
    "Medication reminder",
    "Light housekeeping",
    "Companionship",
    "Laundry",
    "Transportation",
    "Grocery shopping",
)
CAREGIVER_NOTES = (
    "{first} was in good spirits today and enjoyed a chat over coffee.",
    "{first} ate a full meal and took the morning medication on time.",
    "We took a short walk around the block; the weather was lovely.",
    "Quiet visit. {first} was a little tired and rested after lunch.",
    "Changed the bed linen and tidied the kitchen. All well.",
    "{first} asked about next week's schedule; I said the office would confirm.",
)
REFUSAL_REASONS = (
    "Client preferred to rest",
    "Client said it had already been done",
    "Client asked to leave it for another day",
)
MESSAGE_TEMPLATE = (
    "Hello, I would like to ask about ...\n\n"
    "(Please include the client's name and, for a visit, its date.)\n\n"
    "Thank you,\n"
)

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
class _Seed:
    """What every builder shares: the day the demo is centred on, the random source, one hash."""

    today: date
    rng: random.Random
    password_hash: str


@dataclass(frozen=True)
class _Routine:
    """A client's regular visits: on which weekdays (0 = Monday), when, how long, which tasks."""

    weekdays: tuple[int, ...]
    start: time
    hours: int
    tasks: tuple[Task, ...]


def seed_demo(scale: str = "small", today: date | None = None) -> None:
    """Add the demo agencies to the session and flush; the caller checks emptiness and commits."""
    if scale not in SCALES:
        raise ValueError(f"unknown demo scale {scale!r}; choose one of: {', '.join(SCALES)}")
    today = today or datetime.now(TIME_ZONE).date()  # the agency's today, not the server's
    # argon2 is slow on purpose: every demo account shares this one hash.
    seed = _Seed(today, random.Random(RANDOM_SEED), hash_secret(DEMO_PASSWORD))
    with all_agencies():
        _seed_sunrise(seed)
        _seed_northside(seed)
        if scale == "large":
            _seed_evergreen(seed)
        db.session.flush()


# --- Sunrise Home Care: the demo every newcomer signs in to ---------------------------------------


def _seed_sunrise(seed: _Seed) -> None:
    agency = _add_agency(
        slug="sunrise",
        name="Sunrise Home Care",
        host="sunrise.localhost",
        is_default=True,
        contact_email="office@sunrise.example.org",
        contact_phone="(312) 555-0100",
        address="1200 W Lake St, Chicago, IL 60607",
        security_questions_enabled=True,
        payment_gateway="manual",
        message_template=MESSAGE_TEMPLATE,
        session_idle_minutes=15,
    )
    admin = _add_staff_owner(seed, agency, "Sam", "Rivera")
    # Office staff who is not the owner: runs people and requests, never the settings or staff accounts.
    _add_user(
        seed, agency, "carolwhite", "Carol", "White", role=Role.STAFF, email="carol.white@sunrise.example.org"
    )
    tasks = _add_tasks(agency)
    carers = _add_caregivers(
        agency, ("Ana Torres", "Łucja Nowak", "Marcus Johnson", "Grace Kim", "David Okafor", "Rosa Martínez")
    )
    margaret, margaret_user = _add_client(
        seed,
        agency,
        "Margaret",
        "Jones",
        email="margaret@example.com",
        phone="(312) 555-0111",
        address="418 Maple Ave, Evanston, IL 60201",
        usual_caregiver=carers["Ana Torres"],
    )
    harold, harold_user = _add_client(
        seed,
        agency,
        "Harold",
        "Smith",
        email="harold@example.com",
        phone="(312) 555-0122",
        address="77 W Oak St, Chicago, IL 60610",
        usual_caregiver=carers["Marcus Johnson"],
    )
    # Dorothy has no e-mail address: the office set a temporary password she must change at first login.
    _add_client(
        seed,
        agency,
        "Dorothy",
        "Parker",
        email=None,
        phone="(312) 555-0177",
        address="2150 N Halsted St, Chicago, IL 60614",
        usual_caregiver=carers["Grace Kim"],
        password_hash=hash_secret(TEMPORARY_PASSWORD),
        must_change_password=True,
    )
    susan = _add_user(
        seed, agency, "susanjones", "Susan", "Jones", email="susan.jones@example.org", phone="(847) 555-0133"
    )
    robert = _add_user(
        seed,
        agency,
        "robertjones",
        "Robert",
        "Jones",
        email="robert.jones@example.com",
        phone="(630) 555-0144",
    )
    paul = _add_user(
        seed, agency, "paulsmith", "Paul", "Smith", email="paul.smith@example.org", phone="(708) 555-0155"
    )
    _link(agency, susan, margaret, REL_EMERGENCY, may_view_invoices=True)
    _link(agency, robert, margaret, REL_PAYER)
    _link(agency, robert, harold, REL_PAYER)
    _link(agency, paul, harold, REL_LEGAL, may_view_care_plan=True)
    db.session.flush()
    agency.schedule_request_recipient_id = admin.id
    _mark_preferred(agency, margaret, carers["Ana Torres"], carers["Łucja Nowak"])
    _mark_preferred(agency, harold, carers["Marcus Johnson"], carers["David Okafor"])

    margaret_tasks = _pick(
        tasks, "Bathing", "Dressing", "Meal preparation", "Medication reminder", "Light housekeeping"
    )
    harold_tasks = _pick(tasks, "Companionship", "Medication reminder", "Meal preparation", "Laundry")
    margaret_visits = _add_routine_visits(
        seed,
        agency,
        margaret,
        _Routine((0, 1, 2, 3, 4), time(9), 3, margaret_tasks),
        caregiver_on=_usual_with_substitutes(
            seed,
            carers["Ana Torres"],
            (carers["Łucja Nowak"], carers["Grace Kim"], carers["Rosa Martínez"]),
            # Today someone else comes, so the dashboard has a change of caregiver to announce.
            changed_today=carers["Łucja Nowak"],
        ),
        include_today=True,
    )
    harold_visits = _add_routine_visits(
        seed,
        agency,
        harold,
        _Routine((0, 2, 4), time(14), 2, harold_tasks),
        caregiver_on=_usual_with_substitutes(seed, carers["Marcus Johnson"], (carers["David Okafor"],)),
    )
    db.session.flush()
    _sign_settled_visits(seed, agency, margaret_visits, margaret_user)
    _sign_settled_visits(seed, agency, harold_visits, harold_user)
    invoices = _bill_fortnightly(
        seed, agency, admin, "SUN", [(margaret, margaret_visits), (harold, harold_visits)], payer=robert
    )
    db.session.flush()

    _add_care_plan(
        agency,
        margaret,
        goals="Stay safely in her own home; keep up personal care and regular meals; "
        "take medication on time.",
        frequency="Weekdays, 9:00 am – 12:00 pm",
        special_instructions="Margaret uses a walker. The spare key is with the neighbour at 420. "
        "She prefers tea to coffee and likes the radio on during breakfast.",
        tasks=dict(
            zip(
                margaret_tasks,
                (
                    "Shower chair is in the hall closet; assist with stepping in and out.",
                    "Lay out clothes the evening before if she asks.",
                    "Breakfast and a light lunch left in the fridge.",
                    "Pill organiser on the kitchen counter; remind only, do not administer.",
                    "Kitchen, bathroom and a load of dishes.",
                ),
                strict=True,
            )
        ),
    )
    _add_care_plan(
        agency,
        harold,
        goals="Keep Harold company and active; make sure he eats and takes his medication.",
        frequency="Monday, Wednesday and Friday, 2:00 pm – 4:00 pm",
        special_instructions="Harold is hard of hearing on the left side. Paul (son, power of attorney) "
        "is the first contact for any change.",
        tasks=dict(
            zip(
                harold_tasks,
                (
                    "Cards or a walk to the park when the weather allows.",
                    "Afternoon tablets with a glass of water.",
                    "Prepare an early supper he can warm up.",
                    "Wash and fold on Fridays.",
                ),
                strict=True,
            )
        ),
    )
    categories = _add_document_categories(agency, "Caregiver Forms", "Billing")
    _add_sunrise_documents(seed, agency, admin, categories, margaret, harold)
    _add_sunrise_conversations(seed, agency, admin, margaret_user, susan, paul, margaret, harold, invoices)
    _add_sunrise_schedule_requests(seed, agency, admin, susan, paul, margaret, harold, tasks, carers)
    _add_sunrise_leads(seed, agency, admin)


def _add_sunrise_documents(seed, agency, admin, categories, margaret, harold) -> None:
    forms, billing = categories
    rates = _tiny_pdf(
        (
            "Sunrise Home Care",
            "Rates and payment options",
            "Personal care: $32.00 per hour, billed every two weeks.",
            "Pay by check to Sunrise Home Care, or online from the portal.",
        )
    )
    for client in (margaret, harold):
        agreement = _tiny_pdf(
            (
                "Sunrise Home Care",
                "Client service agreement",
                f"Client: {client.display_name}",
                "Visits as set out in the care plan, at $32.00 per hour.",
            )
        )
        _add_document(
            seed,
            agency,
            admin,
            client,
            forms,
            "Client service agreement",
            "service-agreement.pdf",
            agreement,
            days_ago=55,
        )
        _add_document(
            seed, agency, admin, client, billing, "Rates and payment options", "rates.pdf", rates, days_ago=55
        )
    emergency_form = (
        b"Emergency contact form\n\n"
        b"Client: Margaret Jones\n"
        b"Emergency contact: Susan Jones (daughter), (847) 555-0133\n"
        b"Physician: Dr. Alan Reyes, (312) 555-0190\n"
    )
    payment_steps = (
        b"How to pay your invoice\n\n"
        b"1. Open Invoices in the portal and choose the invoice.\n"
        b"2. Mail a check payable to Sunrise Home Care, writing the invoice number on it.\n"
        b"3. Questions? Use Messages, or call the office at (312) 555-0100.\n"
    )
    _add_document(
        seed,
        agency,
        admin,
        margaret,
        forms,
        "Emergency contact form",
        "emergency-contact.txt",
        emergency_form,
        days_ago=40,
    )
    _add_document(
        seed,
        agency,
        admin,
        margaret,
        billing,
        "How to pay your invoice",
        "how-to-pay.txt",
        payment_steps,
        days_ago=30,
    )


def _add_sunrise_conversations(seed, agency, admin, margaret_user, susan, paul, margaret, harold, invoices):
    """Three threads for Margaret (a questioned invoice line, a family request, a welcome) and one for
    Harold, leaving some office replies unread by the family and one family message unread by staff."""

    def day(days_ago: int, hour: int, minute: int = 0) -> datetime:
        return _at(seed.today - timedelta(days=days_ago), hour, minute)

    questioned = next(
        invoice
        for invoice in invoices
        if invoice.client_id == margaret.id and invoice.billed_to_id is None and invoice.status == "issued"
    )
    line = questioned.lines[0]
    invoice_thread = _add_conversation(
        agency,
        margaret,
        f"Question about invoice {questioned.number}",
        [
            (
                margaret_user,
                day(9, 10, 12),
                f"Hello, could you check the hours on “{line.description}”? I think the caregiver left a "
                "little early that day.",
            ),
            (
                admin,
                day(9, 14, 40),
                "Thank you for asking, Margaret. We checked the visit against the caregiver's clock-in and "
                "clock-out times. We bill the scheduled time agreed in your service plan, so the line is "
                "right — but do tell us if anything else looks wrong.",
            ),
            (margaret_user, day(8, 9, 5), "That makes sense. Thank you!"),
        ],
        invoice_line=line,
    )
    wedding_thread = _add_conversation(
        agency,
        margaret,
        "Extra visit for a family wedding",
        [
            (
                susan,
                day(3, 18, 20),
                "Hi, this is Susan, Margaret's daughter. Mom has a family wedding coming up. Could someone "
                "help her get ready that morning? I have sent a schedule request too.",
            ),
            (
                admin,
                day(2, 9, 15),
                "Hello Susan, we have your request and are checking who is free. We will confirm this week.",
            ),
            (susan, day(2, 12, 30), "Wonderful, thank you. Ana would be ideal if she is available."),
            (
                admin,
                day(1, 16, 45),
                "Good news: Ana is free that morning. You will see the visit on the calendar "
                "once it is booked.",
            ),
        ],
    )
    welcome_thread = _add_conversation(
        agency,
        margaret,
        "Welcome to your Sunrise portal",
        [
            (
                admin,
                day(1, 11, 0),
                "Welcome, Margaret! Here you can see who is coming and when, sign visit records, view "
                "invoices and write to the office. Just reply to this message if you need anything.",
            ),
        ],
    )
    clinic_thread = _add_conversation(
        agency,
        harold,
        "Ride to the eye clinic",
        [
            (
                paul,
                day(5, 8, 30),
                "Dad has an eye appointment on Friday at 2:30 pm. Could his caregiver drive him there "
                "during the usual visit?",
            ),
            (
                admin,
                day(4, 10, 0),
                "Of course. Marcus will drive him and wait during the appointment; the visit stays 2–4 pm.",
            ),
            (paul, day(4, 10, 20), "Thank you, that is a big help."),
        ],
    )
    # Read marks: everything before a mark is read; later messages from others count as unread.
    for conversation in (invoice_thread, wedding_thread, welcome_thread):
        _mark_read(agency, conversation, admin, conversation.last_message_at)
    _mark_read(agency, invoice_thread, margaret_user, invoice_thread.last_message_at)
    _mark_read(agency, invoice_thread, susan, invoice_thread.last_message_at)
    _mark_read(agency, wedding_thread, margaret_user, day(2, 9, 15))
    _mark_read(agency, wedding_thread, susan, day(2, 12, 30))
    _mark_read(agency, clinic_thread, paul, clinic_thread.last_message_at)


def _add_sunrise_schedule_requests(seed, agency, admin, susan, paul, margaret, harold, tasks, carers) -> None:
    wedding_day = seed.today + timedelta(days=10)
    db.session.add(
        ScheduleRequest(
            agency_id=agency.id,
            client_id=margaret.id,
            requested_by_id=susan.id,
            starts_at=_at(wedding_day, 8),
            ends_at=_at(wedding_day, 11),
            care_needed="Help getting ready for a family wedding: bathing, dressing and hair.",
            preferred_caregiver_id=carers["Ana Torres"].id,
            notes="The wedding starts at 1 pm; I will pick Mom up at 11:30.",
            status=RequestStatus.OPEN,
            created_at=_at(seed.today - timedelta(days=3), 18, 10),
            tasks=list(_pick(tasks, "Bathing", "Dressing")),
        )
    )
    dentist_day = seed.today - timedelta(days=20)
    db.session.add(
        ScheduleRequest(
            agency_id=agency.id,
            client_id=harold.id,
            requested_by_id=paul.id,
            starts_at=_at(dentist_day, 10),
            ends_at=_at(dentist_day, 12),
            care_needed="A ride to the dentist and back.",
            preferred_caregiver_id=carers["Marcus Johnson"].id,
            status=RequestStatus.HANDLED,
            staff_note="Called Paul: a neighbour will drive Harold this time, so no extra visit is needed.",
            handled_by_id=admin.id,
            handled_at=_at(seed.today - timedelta(days=26), 15),
            created_at=_at(seed.today - timedelta(days=28), 19, 5),
            tasks=list(_pick(tasks, "Transportation")),
        )
    )


def _add_sunrise_leads(seed, agency, admin) -> None:
    leads = (
        (
            "Evelyn",
            "Carter",
            "evelyn.carter@example.com",
            "(773) 555-0161",
            2,
            "Her daughter called: Evelyn was discharged from hospital last week and needs help with "
            "bathing and meals three mornings a week.",
        ),
        (
            "Walter",
            "Brooks",
            None,
            "(312) 555-0162",
            6,
            "Asked about companionship visits and a ride to church on Sundays.",
        ),
    )
    for first_name, last_name, email, phone, days_ago, notes in leads:
        db.session.add(
            ClientLead(
                agency_id=agency.id,
                first_name=first_name,
                last_name=last_name,
                email=email,
                phone=phone,
                notes=notes,
                status="new",
                assigned_to_id=admin.id,
                created_at=_at(seed.today - timedelta(days=days_ago), 11, 30),
            )
        )


# --- Northside Care: a second tenant, to show that agencies never see each other's data ------------


def _seed_northside(seed: _Seed) -> None:
    agency = _add_agency(
        slug="northside",
        name="Northside Care",
        host="northside.localhost",
        contact_email="office@northside.example.org",
        contact_phone="(773) 555-0140",
        address="4800 N Broadway, Chicago, IL 60640",
        payment_gateway="manual",
        message_template=MESSAGE_TEMPLATE,
    )
    admin = _add_staff_owner(seed, agency, "Nina", "Patel")
    tasks = _add_tasks(agency)
    oliver = _add_caregivers(agency, ("Oliver Grant",))["Oliver Grant"]
    alice, alice_user = _add_client(
        seed,
        agency,
        "Alice",
        "Brown",
        email="alice.brown@example.com",
        phone="(773) 555-0171",
        address="5230 N Kenmore Ave, Chicago, IL 60640",
        usual_caregiver=oliver,
    )
    db.session.flush()
    agency.schedule_request_recipient_id = admin.id
    _mark_preferred(agency, alice, oliver)
    alice_tasks = _pick(tasks, "Companionship", "Grocery shopping", "Light housekeeping")
    visits = [
        _new_visit(agency, alice, oliver, seed.today + timedelta(days=offset), time(10), 2, alice_tasks)
        for offset in (-14, -7, 7)
    ]
    db.session.add_all(visits)
    completed = visits[:2]
    for visit in completed:
        _complete(seed, visit, alice)
    db.session.flush()
    _sign_settled_visits(seed, agency, visits, alice_user)
    period_start = seed.today - timedelta(days=20)
    _issue_invoice(
        agency,
        alice,
        completed,
        f"NOR-{FIRST_INVOICE_NUMBER}",
        period_start,
        period_start + timedelta(days=INVOICE_PERIOD_DAYS - 1),
        billed_to=None,
    )
    _add_care_plan(
        agency,
        alice,
        goals="Company and help around the house so Alice can keep living independently.",
        frequency="Weekly, 10:00 am – 12:00 pm",
        special_instructions="Alice's cat must not go out onto the balcony.",
        tasks=dict.fromkeys(alice_tasks, ""),
    )
    (records,) = _add_document_categories(agency, "Care Records")
    _add_document(
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
    _add_conversation(
        agency,
        alice,
        "Grocery list",
        [
            (
                alice_user,
                _at(seed.today - timedelta(days=2), 9, 40),
                "Could Oliver pick up oat milk and bananas on his next visit?",
            ),
        ],
    )


# --- Evergreen Health: the large agency for benchmarks ---------------------------------------------


@dataclass(frozen=True)
class _BulkClient:
    id: int
    usual_caregiver_id: int


def _seed_evergreen(seed: _Seed) -> None:
    agency = _add_agency(
        slug="evergreen",
        name="Evergreen Health",
        host="evergreen.localhost",
        contact_email="office@evergreen.example.org",
        contact_phone="(847) 555-0200",
        payment_gateway="manual",
        message_template=MESSAGE_TEMPLATE,
    )
    admin = _add_staff_owner(seed, agency, "Elena", "Park")
    _add_tasks(agency)
    caregiver_names = [
        f"{first} {last}"
        for first, last in zip(
            seed.rng.sample(FIRST_NAMES, LARGE_CAREGIVER_COUNT),
            seed.rng.sample(LAST_NAMES, LARGE_CAREGIVER_COUNT),
            strict=True,
        )
    ]
    caregivers = _add_caregivers(agency, caregiver_names)
    db.session.flush()
    caregiver_ids = [caregiver.id for caregiver in caregivers.values()]
    agency.schedule_request_recipient_id = admin.id
    clients = _bulk_add_clients(seed, agency, caregiver_ids)
    invoice_numbers = itertools.count(LARGE_FIRST_INVOICE_NUMBER)
    for start in range(0, len(clients), LARGE_CLIENTS_PER_BATCH):
        batch = clients[start : start + LARGE_CLIENTS_PER_BATCH]
        _bulk_add_visits_and_invoices(seed, agency, admin, batch, caregiver_ids, invoice_numbers)


def _bulk_add_clients(seed: _Seed, agency: Agency, caregiver_ids: list[int]) -> list[_BulkClient]:
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
        day = _local_day(row["starts_at"])
        if row["status"] == "completed" and day >= first_billed_day:
            billable[(row["client_id"], day)].append((visit_id, row))

    paid_before = seed.today - timedelta(days=PAYMENT_TERMS_DAYS)
    invoice_rows, line_rows = [], []
    for (client_id, day), visits in billable.items():
        lines = [
            _line_fields(agency, visit_id, day, row["starts_at"], row["ends_at"]) for visit_id, row in visits
        ]
        total = sum(line["amount_cents"] for line in lines)
        is_paid = day < paid_before
        invoice_rows.append(
            {
                "agency_id": agency.id,
                "number": f"EVG-{next(invoice_numbers)}",
                "client_id": client_id,
                "billed_to_id": None,
                "status": "paid" if is_paid else "issued",
                "period_start": day,
                "period_end": day,
                "issued_at": _at(day, 20),
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
                "received_at": _at(invoice["period_end"] + timedelta(days=7), 11),
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
    for day in _days_around(seed.today):
        for start_hour, hours in (morning, evening) if day.weekday() < 5 else (morning,):
            starts_at = _at(day, start_hour)
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


# --- Building blocks ------------------------------------------------------------------------------


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time at the agency, as the UTC instant the database stores."""
    return datetime.combine(day, time(hour, minute), tzinfo=TIME_ZONE).astimezone(UTC)


def _local_day(moment: datetime) -> date:
    return moment.astimezone(TIME_ZONE).date()


def _days_around(today: date):
    for offset in range(-HISTORY_DAYS, HISTORY_DAYS + 1):
        yield today + timedelta(days=offset)


def _add_agency(**fields) -> Agency:
    agency = Agency(time_zone=TIME_ZONE.key, currency="USD", **fields)
    db.session.add(agency)
    db.session.flush()
    return agency


def _add_user(seed: _Seed, agency: Agency, username: str, first_name: str, last_name: str, **fields) -> User:
    fields.setdefault("password_hash", seed.password_hash)
    fields.setdefault("must_change_password", False)
    user = User(agency_id=agency.id, username=username, first_name=first_name, last_name=last_name, **fields)
    db.session.add(user)
    return user


def _add_staff_owner(seed: _Seed, agency: Agency, first_name: str, last_name: str) -> User:
    return _add_user(
        seed,
        agency,
        "admin",
        first_name,
        last_name,
        role=Role.STAFF,
        is_owner=True,
        email=f"admin@{agency.slug}.example.org",
        phone=agency.contact_phone,
    )


def _add_client(
    seed: _Seed,
    agency: Agency,
    first_name: str,
    last_name: str,
    *,
    email: str | None,
    phone: str,
    address: str,
    usual_caregiver: Caregiver,
    **user_fields,
) -> tuple[Client, User]:
    """A client with their own login, linked to themselves (relationship `self`)."""
    client = Client(
        agency_id=agency.id,
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=phone,
        address=address,
        usual_caregiver=usual_caregiver,
    )
    db.session.add(client)
    user = _add_user(
        seed,
        agency,
        f"{first_name}{last_name}".lower(),
        first_name,
        last_name,
        email=email,
        phone=phone,
        address=address,
        **user_fields,
    )
    _link(agency, user, client, REL_SELF)
    return client, user


def _link(agency: Agency, user: User, client: Client, relationship_kind: str, **ticks) -> None:
    db.session.add(
        ClientLink(
            agency_id=agency.id, user=user, client=client, relationship_kind=relationship_kind, **ticks
        )
    )


def _add_tasks(agency: Agency) -> dict[str, Task]:
    tasks = {name: Task(agency_id=agency.id, name=name) for name in TASK_NAMES}
    db.session.add_all(tasks.values())
    return tasks


def _pick(tasks: dict[str, Task], *names: str) -> tuple[Task, ...]:
    return tuple(tasks[name] for name in names)


def _add_caregivers(agency: Agency, full_names) -> dict[str, Caregiver]:
    caregivers = {}
    for number, full_name in enumerate(full_names, start=1):
        first_name, last_name = full_name.split(" ", 1)
        caregivers[full_name] = Caregiver(
            agency_id=agency.id,
            first_name=first_name,
            last_name=last_name,
            phone=f"(312) 555-{2000 + number:04d}",
        )
    db.session.add_all(caregivers.values())
    return caregivers


def _mark_preferred(agency: Agency, client: Client, *caregivers: Caregiver) -> None:
    db.session.add_all(
        ClientCaregiver(
            agency_id=agency.id, client_id=client.id, caregiver_id=caregiver.id, is_preferred=True
        )
        for caregiver in caregivers
    )


def _usual_with_substitutes(
    seed: _Seed, usual: Caregiver, substitutes: tuple[Caregiver, ...], changed_today: Caregiver | None = None
) -> Callable[[date], Caregiver]:
    def caregiver_on(day: date) -> Caregiver:
        if day == seed.today and changed_today is not None:
            return changed_today
        return seed.rng.choice(substitutes) if seed.rng.random() < SUBSTITUTE_RATE else usual

    return caregiver_on


def _new_visit(agency, client, caregiver, day: date, start: time, hours: int, tasks) -> Visit:
    starts_at = _at(day, start.hour, start.minute)
    return Visit(
        agency_id=agency.id,
        client_id=client.id,
        caregiver_id=caregiver.id,
        status="scheduled",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=hours),
        tasks=[VisitTask(agency_id=agency.id, task_id=task.id, status=TaskStatus.PLANNED) for task in tasks],
    )


def _add_routine_visits(
    seed: _Seed,
    agency: Agency,
    client: Client,
    routine: _Routine,
    *,
    caregiver_on: Callable[[date], Caregiver],
    include_today: bool = False,
) -> list[Visit]:
    """The client's visits from HISTORY_DAYS back to as many ahead; past ones are settled: mostly
    completed, two cancelled and one missed (never among the recent ones awaiting a signature)."""
    visits = [
        _new_visit(agency, client, caregiver_on(day), day, routine.start, routine.hours, routine.tasks)
        for day in _days_around(seed.today)
        if day.weekday() in routine.weekdays or (include_today and day == seed.today)
    ]
    db.session.add_all(visits)
    past = [visit for visit in visits if _local_day(visit.starts_at) < seed.today]
    signable_from = seed.today - timedelta(days=SIGNATURE_GRACE_DAYS)
    older = [visit for visit in past if _local_day(visit.starts_at) < signable_from]
    *cancelled, missed = seed.rng.sample(older, 3)
    for visit in past:
        if any(visit is c for c in cancelled):
            visit.status = "cancelled"
        elif visit is missed:
            visit.status = "missed"
        else:
            _complete(seed, visit, client)
    return visits


def _complete(seed: _Seed, visit: Visit, client: Client) -> None:
    """Clock the visit in and out a few minutes off schedule, tick its tasks, leave a note."""
    rng = seed.rng
    visit.status = "completed"
    visit.clock_in_at = visit.starts_at + timedelta(minutes=rng.randint(-6, 8))
    visit.clock_out_at = visit.ends_at + timedelta(minutes=rng.randint(-8, 6))
    visit.caregiver_note = rng.choice(CAREGIVER_NOTES).format(first=client.first_name)
    for task in visit.tasks:
        task.status = TaskStatus.DONE
    if rng.random() < REFUSAL_RATE:
        refused = rng.choice(visit.tasks)
        refused.status = TaskStatus.REFUSED
        refused.refusal_reason = rng.choice(REFUSAL_REASONS)


def _sign_settled_visits(seed: _Seed, agency: Agency, visits: list[Visit], signer: User) -> None:
    """Sign completed visits older than the grace period; the newer ones stay pending."""
    signable_before = seed.today - timedelta(days=SIGNATURE_GRACE_DAYS)
    for visit in visits:
        if visit.status == "completed" and _local_day(visit.starts_at) < signable_before:
            db.session.add(
                Signature(
                    agency_id=agency.id,
                    visit_id=visit.id,
                    signer_id=signer.id,
                    method="typed",
                    typed_name=signer.display_name,
                    ip_address="127.0.0.1",
                    facts_hash=_facts_hash(visit),
                    signed_at=visit.clock_out_at + timedelta(hours=seed.rng.randint(1, 30)),
                )
            )


def _facts_hash(visit: Visit) -> str:
    """SHA-256 of what the signer reviewed: times and tasks (must run after the visit is flushed)."""
    facts = {
        "visit": visit.id,
        "client": visit.client_id,
        "caregiver": visit.caregiver_id,
        "scheduled": [visit.starts_at.isoformat(), visit.ends_at.isoformat()],
        "clocked": [visit.clock_in_at.isoformat(), visit.clock_out_at.isoformat()],
        "tasks": [[task.task_id, task.status, task.refusal_reason] for task in visit.tasks],
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def _billing_periods(today: date) -> list[tuple[date, date]]:
    """Fortnights from HISTORY_DAYS ago that ended before today."""
    periods = []
    start = today - timedelta(days=HISTORY_DAYS)
    while (end := start + timedelta(days=INVOICE_PERIOD_DAYS - 1)) < today:
        periods.append((start, end))
        start = end + timedelta(days=1)
    return periods


def _bill_fortnightly(seed, agency, staff, prefix, accounts, *, payer: User) -> list[Invoice]:
    """Invoice each client's completed visits fortnight by fortnight, alternately to the client and
    to the payer. The newest invoice is unpaid, the one before part-paid, older ones paid by check."""
    numbers = itertools.count(FIRST_INVOICE_NUMBER)
    periods = _billing_periods(seed.today)
    invoices = []
    for index, (start, end) in enumerate(periods):
        periods_since = len(periods) - 1 - index
        for client, visits in accounts:
            billed = [
                visit
                for visit in visits
                if visit.status == "completed" and start <= _local_day(visit.starts_at) <= end
            ]
            invoice = _issue_invoice(
                agency,
                client,
                billed,
                f"{prefix}-{next(numbers)}",
                start,
                end,
                billed_to=payer if index % 2 else None,
            )
            if periods_since == 1:
                _record_payment(seed, agency, staff, invoice, invoice.total_cents // 200 * 100)
            elif periods_since > 1:
                _record_payment(seed, agency, staff, invoice, invoice.total_cents)
            invoices.append(invoice)
    return invoices


def _issue_invoice(agency, client, visits, number: str, start: date, end: date, *, billed_to) -> Invoice:
    issued_on = end + timedelta(days=1)
    lines = [
        InvoiceLine(
            **_line_fields(agency, visit.id, _local_day(visit.starts_at), visit.starts_at, visit.ends_at)
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
        issued_at=_at(issued_on, 10),
        due_on=issued_on + timedelta(days=PAYMENT_TERMS_DAYS),
        total_cents=sum(line.amount_cents for line in lines),
        paid_cents=0,
        lines=lines,
    )
    db.session.add(invoice)
    return invoice


def _line_fields(agency, visit_id: int, day: date, starts_at: datetime, ends_at: datetime) -> dict:
    """One visit billed at the hourly rate for its scheduled time."""
    minutes = int((ends_at - starts_at).total_seconds()) // 60
    return {
        "agency_id": agency.id,
        "visit_id": visit_id,
        "description": f"Personal care visit {day:%a %b} {day.day}",
        "billed_minutes": minutes,
        "rate_cents": HOURLY_RATE_CENTS,
        "amount_cents": minutes * HOURLY_RATE_CENTS // 60,
    }


def _record_payment(seed: _Seed, agency: Agency, staff: User, invoice: Invoice, amount_cents: int) -> None:
    received_on = _local_day(invoice.issued_at) + timedelta(days=seed.rng.randint(3, 10))
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
            received_at=_at(received_on, 11),
            recorded_by_id=staff.id,
        )
    )


def _add_care_plan(
    agency, client, *, goals: str, frequency: str, special_instructions: str, tasks: dict[Task, str]
) -> None:
    db.session.add(
        CarePlan(
            agency_id=agency.id,
            client_id=client.id,
            goals=goals,
            frequency=frequency,
            special_instructions=special_instructions,
            tasks=[
                CarePlanTask(agency_id=agency.id, task_id=task.id, per_visit_notes=notes or None)
                for task, notes in tasks.items()
            ],
        )
    )


def _add_document_categories(agency: Agency, *names: str) -> list[DocumentCategory]:
    categories = [
        DocumentCategory(agency_id=agency.id, name=name, position=position)
        for position, name in enumerate(names, start=1)
    ]
    db.session.add_all(categories)
    db.session.flush()
    return categories


def _add_document(
    seed, agency, uploader, client, category, title, filename, data: bytes, *, days_ago
) -> None:
    content_type = "application/pdf" if filename.endswith(".pdf") else "text/plain"
    db.session.add(
        Document(
            agency_id=agency.id,
            client_id=client.id,
            category_id=category.id,
            title=title,
            filename=filename,
            file_id=storage.put(agency, data, content_type).id,
            uploaded_by_id=uploader.id,
            uploaded_at=_at(seed.today - timedelta(days=days_ago), 10),
        )
    )


def _tiny_pdf(lines: tuple[str, ...]) -> bytes:
    """A valid one-page PDF showing a few lines of ASCII text in Helvetica."""
    shown = " T* ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj" for line in lines
    )
    content = f"BT /F1 13 Tf 18 TL 72 720 Td {shown} ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(pdf)


def _add_conversation(
    agency,
    client,
    subject: str,
    posts: list[tuple[User, datetime, str]],
    *,
    invoice_line: InvoiceLine | None = None,
) -> Conversation:
    """A thread of (sender, when, text) posts; flushed, so read marks can point at it."""
    conversation = Conversation(
        agency_id=agency.id,
        client_id=client.id,
        subject=subject,
        started_by_id=posts[0][0].id,
        invoice_line_id=invoice_line.id if invoice_line else None,
        created_at=posts[0][1],
        last_message_at=posts[-1][1],
        messages=[
            Message(agency_id=agency.id, sender_id=sender.id, body=body, created_at=sent_at)
            for sender, sent_at, body in posts
        ],
    )
    db.session.add(conversation)
    db.session.flush()
    return conversation


def _mark_read(agency: Agency, conversation: Conversation, user: User, up_to: datetime) -> None:
    db.session.add(
        ConversationRead(
            agency_id=agency.id, conversation_id=conversation.id, user_id=user.id, last_read_at=up_to
        )
    )
