"""Sunrise Home Care, the default agency: the demo every newcomer signs in to.

It holds the people of the design's demo: clients, a daughter who is an emergency contact, a payer,
a legal representative and a client who still has a temporary password, with visits around today,
visit records waiting for a signature, invoices paid and outstanding, messages read and unread,
documents, requests and leads. Accounts, links and schedule requests go through their services.
"""

from datetime import datetime, time, timedelta

from app.extensions import db
from app.models import ClientLead
from app.models.client import REL_EMERGENCY, REL_LEGAL, REL_PAYER
from app.models.statuses import RequestStatus, Role
from app.services import accounts, schedule_requests

from .common import (
    MESSAGE_TEMPLATE,
    TEMPORARY_PASSWORD,
    Routine,
    Seed,
    add_agency,
    add_care_plan,
    add_caregivers,
    add_client,
    add_conversation,
    add_document,
    add_document_categories,
    add_person,
    add_routine_visits,
    add_staff_owner,
    add_tasks,
    at,
    mark_preferred,
    mark_read,
    pick,
    tiny_pdf,
    usual_with_substitutes,
)
from .records import bill_fortnightly, sign_settled_visits


def seed_sunrise(seed: Seed) -> None:
    agency = add_agency(
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
    admin = add_staff_owner(seed, agency, "Sam", "Rivera")
    # Office staff who is not the owner: runs people and requests, never the settings or staff accounts.
    add_person(
        seed, agency, admin, "Carol", "White", role=Role.STAFF, email="carol.white@sunrise.example.org"
    )
    tasks = add_tasks(agency)
    carers = add_caregivers(
        agency, ("Ana Torres", "Łucja Nowak", "Marcus Johnson", "Grace Kim", "David Okafor", "Rosa Martínez")
    )
    margaret, margaret_user = add_client(
        seed,
        agency,
        admin,
        "Margaret",
        "Jones",
        email="margaret@example.com",
        phone="(312) 555-0111",
        address="418 Maple Ave, Evanston, IL 60201",
        usual_caregiver=carers["Ana Torres"],
    )
    harold, harold_user = add_client(
        seed,
        agency,
        admin,
        "Harold",
        "Smith",
        email="harold@example.com",
        phone="(312) 555-0122",
        address="77 W Oak St, Chicago, IL 60610",
        usual_caregiver=carers["Marcus Johnson"],
    )
    # Dorothy has no e-mail address: the office set a temporary password she must change at first login.
    _, dorothy_user = add_client(
        seed,
        agency,
        admin,
        "Dorothy",
        "Parker",
        email=None,
        phone="(312) 555-0177",
        address="2150 N Halsted St, Chicago, IL 60614",
        usual_caregiver=carers["Grace Kim"],
    )
    accounts.set_temporary_password(agency, admin, dorothy_user, TEMPORARY_PASSWORD)
    susan = add_person(
        seed, agency, admin, "Susan", "Jones", email="susan.jones@example.org", phone="(847) 555-0133"
    )
    robert = add_person(
        seed, agency, admin, "Robert", "Jones", email="robert.jones@example.com", phone="(630) 555-0144"
    )
    paul = add_person(
        seed, agency, admin, "Paul", "Smith", email="paul.smith@example.org", phone="(708) 555-0155"
    )
    accounts.link_to_client(agency, admin, susan, margaret, REL_EMERGENCY, may_view_invoices=True)
    accounts.link_to_client(agency, admin, robert, margaret, REL_PAYER)
    accounts.link_to_client(agency, admin, robert, harold, REL_PAYER)
    accounts.link_to_client(agency, admin, paul, harold, REL_LEGAL, may_view_care_plan=True)
    db.session.flush()
    agency.schedule_request_recipient_id = agency.message_recipient_id = admin.id
    mark_preferred(agency, margaret, carers["Ana Torres"], carers["Łucja Nowak"])
    mark_preferred(agency, harold, carers["Marcus Johnson"], carers["David Okafor"])

    margaret_tasks = pick(
        tasks, "Bathing", "Dressing", "Meal preparation", "Medication reminder", "Light housekeeping"
    )
    harold_tasks = pick(tasks, "Companionship", "Medication reminder", "Meal preparation", "Laundry")
    margaret_visits = add_routine_visits(
        seed,
        agency,
        margaret,
        Routine((0, 1, 2, 3, 4), time(9), 3, margaret_tasks),
        caregiver_on=usual_with_substitutes(
            seed,
            carers["Ana Torres"],
            (carers["Łucja Nowak"], carers["Grace Kim"], carers["Rosa Martínez"]),
            # Today someone else comes, so the dashboard has a change of caregiver to announce.
            changed_today=carers["Łucja Nowak"],
        ),
        include_today=True,
    )
    harold_visits = add_routine_visits(
        seed,
        agency,
        harold,
        Routine((0, 2, 4), time(14), 2, harold_tasks),
        caregiver_on=usual_with_substitutes(seed, carers["Marcus Johnson"], (carers["David Okafor"],)),
    )
    db.session.flush()
    sign_settled_visits(seed, agency, margaret_visits, margaret_user)
    sign_settled_visits(seed, agency, harold_visits, harold_user)
    invoices = bill_fortnightly(seed, agency, admin, "SUN", [margaret, harold], payer=robert)
    db.session.flush()

    add_care_plan(
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
    add_care_plan(
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
    categories = add_document_categories(agency, "Caregiver Forms", "Billing")
    categories[0].families_may_upload = True  # the family sends back a signed form
    _add_sunrise_documents(seed, agency, admin, categories, margaret, harold)
    _add_sunrise_conversations(seed, agency, admin, margaret_user, susan, paul, margaret, harold, invoices)
    _add_sunrise_schedule_requests(seed, agency, admin, susan, paul, margaret, harold, tasks, carers)
    _add_sunrise_leads(seed, agency, admin)


def _add_sunrise_documents(seed, agency, admin, categories, margaret, harold) -> None:
    forms, billing = categories
    rates = tiny_pdf(
        (
            "Sunrise Home Care",
            "Rates and payment options",
            "Personal care: $32.00 per hour, billed every two weeks.",
            "Pay by check to Sunrise Home Care, or online from the portal.",
        )
    )
    for client in (margaret, harold):
        agreement = tiny_pdf(
            (
                "Sunrise Home Care",
                "Client service agreement",
                f"Client: {client.display_name}",
                "Visits as set out in the care plan, at $32.00 per hour.",
            )
        )
        add_document(
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
        add_document(
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
    add_document(
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
    add_document(
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
        return at(seed.today - timedelta(days=days_ago), hour, minute)

    questioned = next(
        invoice
        for invoice in invoices
        if invoice.client_id == margaret.id and invoice.billed_to_id is None and invoice.status == "issued"
    )
    line = questioned.lines[0]
    invoice_thread = add_conversation(
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
    wedding_thread = add_conversation(
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
    welcome_thread = add_conversation(
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
    clinic_thread = add_conversation(
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
        mark_read(agency, conversation, admin, conversation.last_message_at)
    mark_read(agency, invoice_thread, margaret_user, invoice_thread.last_message_at)
    mark_read(agency, invoice_thread, susan, invoice_thread.last_message_at)
    mark_read(agency, wedding_thread, margaret_user, day(2, 9, 15))
    mark_read(agency, wedding_thread, susan, day(2, 12, 30))
    mark_read(agency, clinic_thread, paul, clinic_thread.last_message_at)


def _add_sunrise_schedule_requests(seed, agency, admin, susan, paul, margaret, harold, tasks, carers) -> None:
    """Susan's open request and Paul's handled one, made and decided by the schedule-request service
    (which audits both and mails the office about each); then dated back to when they happened."""
    wedding_day = seed.today + timedelta(days=10)
    wedding = schedule_requests.create_request(
        agency,
        margaret,
        susan,
        day=wedding_day,
        start=time(8),
        end=time(11),
        care_needed="Help getting ready for a family wedding: bathing, dressing and hair.",
        caregiver=carers["Ana Torres"],
        task_ids=[task.id for task in pick(tasks, "Bathing", "Dressing")],
        notes="The wedding starts at 1 pm; I will pick Mom up at 11:30.",
    )
    wedding.created_at = at(seed.today - timedelta(days=3), 18, 10)
    dentist_day = seed.today - timedelta(days=20)
    dentist = schedule_requests.create_request(
        agency,
        harold,
        paul,
        day=dentist_day,
        start=time(10),
        end=time(12),
        care_needed="A ride to the dentist and back.",
        caregiver=carers["Marcus Johnson"],
        task_ids=[task.id for task in pick(tasks, "Transportation")],
    )
    schedule_requests.decide_request(
        dentist,
        admin,
        RequestStatus.HANDLED,
        "Called Paul: a neighbour will drive Harold this time, so no extra visit is needed.",
    )
    dentist.created_at = at(seed.today - timedelta(days=28), 19, 5)
    dentist.handled_at = at(seed.today - timedelta(days=26), 15)


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
                created_at=at(seed.today - timedelta(days=days_ago), 11, 30),
            )
        )
