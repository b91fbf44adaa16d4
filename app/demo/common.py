"""What the demo's agencies share: the fixed seed, the agency clock and the building blocks for rows
that no domain service makes yet (agencies, clients, caregivers, visits, care plans, documents,
conversations).

Accounts and links go through `app.services.accounts`, so they are audited as the product audits
them; the acting person is the agency's owner, as if the office had entered everything.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.extensions import db
from app.models import (
    Agency,
    Caregiver,
    CarePlan,
    CarePlanTask,
    Client,
    ClientCaregiver,
    Conversation,
    ConversationRead,
    Document,
    DocumentCategory,
    InvoiceLine,
    Message,
    Task,
    User,
    Visit,
    VisitTask,
)
from app.models.client import REL_SELF
from app.models.statuses import Role, TaskStatus
from app.services import accounts, storage

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


@dataclass(frozen=True)
class Seed:
    """What every builder shares: the day the demo is centred on, the random source, one hash."""

    today: date
    rng: random.Random
    password_hash: str


@dataclass(frozen=True)
class Routine:
    """A client's regular visits: on which weekdays (0 = Monday), when, how long, which tasks."""

    weekdays: tuple[int, ...]
    start: time
    hours: int
    tasks: tuple[Task, ...]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time at the agency, as the UTC instant the database stores."""
    return datetime.combine(day, time(hour, minute), tzinfo=TIME_ZONE).astimezone(UTC)


def local_day(moment: datetime) -> date:
    return moment.astimezone(TIME_ZONE).date()


def days_around(today: date):
    for offset in range(-HISTORY_DAYS, HISTORY_DAYS + 1):
        yield today + timedelta(days=offset)


def add_agency(**fields) -> Agency:
    agency = Agency(time_zone=TIME_ZONE.key, currency="USD", **fields)
    db.session.add(agency)
    db.session.flush()
    return agency


def add_staff_owner(seed: Seed, agency: Agency, first_name: str, last_name: str) -> User:
    """The agency's first owner, login `admin`. Made directly: an agency's first account comes with
    the agency, which no service sets up yet (`create_person` would name it after the person)."""
    owner = User(
        agency_id=agency.id,
        username="admin",
        first_name=first_name,
        last_name=last_name,
        role=Role.STAFF,
        is_owner=True,
        email=f"admin@{agency.slug}.example.org",
        phone=agency.contact_phone,
        password_hash=seed.password_hash,
        must_change_password=False,
    )
    db.session.add(owner)
    db.session.flush()
    return owner


def add_person(seed: Seed, agency: Agency, owner: User, first_name: str, last_name: str, **fields) -> User:
    """An account as the office creates it; the demo then gives it the shared demo password, standing
    in for the person choosing their own from the welcome mail (none is sent)."""
    user = accounts.create_person(
        agency,
        owner,
        first_name=first_name,
        last_name=last_name,
        email=fields.pop("email", None),
        phone=fields.pop("phone", None),
        role=fields.pop("role", Role.PORTAL),
    )
    for name, value in fields.items():
        setattr(user, name, value)
    user.password_hash = seed.password_hash
    user.must_change_password = False
    return user


def add_client(
    seed: Seed,
    agency: Agency,
    owner: User,
    first_name: str,
    last_name: str,
    *,
    email: str | None,
    phone: str,
    address: str,
    usual_caregiver: Caregiver,
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
    user = add_person(seed, agency, owner, first_name, last_name, email=email, phone=phone, address=address)
    accounts.link_to_client(agency, owner, user, client, REL_SELF)
    return client, user


def add_tasks(agency: Agency) -> dict[str, Task]:
    tasks = {name: Task(agency_id=agency.id, name=name) for name in TASK_NAMES}
    db.session.add_all(tasks.values())
    return tasks


def pick(tasks: dict[str, Task], *names: str) -> tuple[Task, ...]:
    return tuple(tasks[name] for name in names)


# What families read about the demo caregivers on the "who is coming" card: (short bio, languages).
CAREGIVER_PROFILES = {
    "Ana Torres": (
        "Home health aide for twelve years; loves gardening and a good crossword.",
        "English, Spanish",
    ),
    "Łucja Nowak": (
        "Certified nursing assistant, patient and cheerful, bakes on Sundays.",
        "English, Polish",
    ),
    "Marcus Johnson": ("Former paramedic who now helps clients stay active at home.", "English"),
    "Grace Kim": ("Companion caregiver with a background in memory care.", "English, Korean"),
    "David Okafor": (
        "Personal care aide; calm, careful and good with a wheelchair transfer.",
        "English, Igbo",
    ),
    "Rosa Martínez": (
        "Caregiver and cook: meals that follow the care plan and taste like home.",
        "Spanish, English",
    ),
    "Oliver Grant": ("Home care aide in Northside for eight years.", "English"),
}


def add_caregivers(agency: Agency, full_names) -> dict[str, Caregiver]:
    caregivers = {}
    for number, full_name in enumerate(full_names, start=1):
        first_name, last_name = full_name.split(" ", 1)
        bio, languages = CAREGIVER_PROFILES.get(full_name, (None, None))
        caregivers[full_name] = Caregiver(
            agency_id=agency.id,
            first_name=first_name,
            last_name=last_name,
            phone=f"(312) 555-{2000 + number:04d}",
            bio=bio,
            languages=languages,
            external_id=f"CG-{number:04d}",
        )
    db.session.add_all(caregivers.values())
    return caregivers


def mark_preferred(agency: Agency, client: Client, *caregivers: Caregiver) -> None:
    db.session.add_all(
        ClientCaregiver(
            agency_id=agency.id, client_id=client.id, caregiver_id=caregiver.id, is_preferred=True
        )
        for caregiver in caregivers
    )


def usual_with_substitutes(
    seed: Seed, usual: Caregiver, substitutes: tuple[Caregiver, ...], changed_today: Caregiver | None = None
) -> Callable[[date], Caregiver]:
    def caregiver_on(day: date) -> Caregiver:
        if day == seed.today and changed_today is not None:
            return changed_today
        return seed.rng.choice(substitutes) if seed.rng.random() < SUBSTITUTE_RATE else usual

    return caregiver_on


def new_visit(agency, client, caregiver, day: date, start: time, hours: int, tasks) -> Visit:
    starts_at = at(day, start.hour, start.minute)
    return Visit(
        agency_id=agency.id,
        client_id=client.id,
        caregiver_id=caregiver.id,
        status="scheduled",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=hours),
        tasks=[VisitTask(agency_id=agency.id, task_id=task.id, status=TaskStatus.PLANNED) for task in tasks],
    )


def add_routine_visits(
    seed: Seed,
    agency: Agency,
    client: Client,
    routine: Routine,
    *,
    caregiver_on: Callable[[date], Caregiver],
    include_today: bool = False,
) -> list[Visit]:
    """The client's visits from HISTORY_DAYS back to as many ahead; past ones are settled: mostly
    completed, two cancelled and one missed (never among the recent ones awaiting a signature)."""
    visits = [
        new_visit(agency, client, caregiver_on(day), day, routine.start, routine.hours, routine.tasks)
        for day in days_around(seed.today)
        if day.weekday() in routine.weekdays or (include_today and day == seed.today)
    ]
    db.session.add_all(visits)
    past = [visit for visit in visits if local_day(visit.starts_at) < seed.today]
    signable_from = seed.today - timedelta(days=SIGNATURE_GRACE_DAYS)
    older = [visit for visit in past if local_day(visit.starts_at) < signable_from]
    *cancelled, missed = seed.rng.sample(older, 3)
    for visit in past:
        if any(visit is c for c in cancelled):
            visit.status = "cancelled"
        elif visit is missed:
            visit.status = "missed"
        else:
            complete(seed, visit, client)
    return visits


def complete(seed: Seed, visit: Visit, client: Client) -> None:
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


def add_care_plan(
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


def add_document_categories(agency: Agency, *names: str) -> list[DocumentCategory]:
    categories = [
        DocumentCategory(agency_id=agency.id, name=name, position=position)
        for position, name in enumerate(names, start=1)
    ]
    db.session.add_all(categories)
    db.session.flush()
    return categories


def add_document(seed, agency, uploader, client, category, title, filename, data: bytes, *, days_ago) -> None:
    """A document whose bytes are kept by the storage service, as an upload's are."""
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
            uploaded_at=at(seed.today - timedelta(days=days_ago), 10),
        )
    )


def tiny_pdf(lines: tuple[str, ...]) -> bytes:
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


def add_conversation(
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


def mark_read(agency: Agency, conversation: Conversation, user: User, up_to: datetime) -> None:
    db.session.add(
        ConversationRead(
            agency_id=agency.id, conversation_id=conversation.id, user_id=user.id, last_read_at=up_to
        )
    )
