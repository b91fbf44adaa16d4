"""Schedule requests: a family asks the office for care, the office handles it, the family sees it.

Each flow runs as a plain form post (following the redirect, as without JavaScript) and as an
htmx request (a fragment, never a whole page). What is asserted is what people see, what is
stored and what is mailed — including a real SMTP delivery through the outbox worker.
"""

import socket
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Agency,
    AuditEvent,
    ClientCaregiver,
    ClientLink,
    OutboxMail,
    ScheduleRequest,
    Task,
    Visit,
    utcnow,
)
from app.models.statuses import MailStatus
from app.services.mail import send_due
from app.tenancy import all_agencies
from tests.conftest import HOST_A, HOST_B, get_one, in_app, login

ZONE = ZoneInfo("America/Chicago")  # the test agencies' time zone (the model default)
NEW = "/schedule/requests/new"


def today():
    return utcnow().astimezone(ZONE).date()


def body(response) -> str:
    return response.get_data(as_text=True)


def assert_fragment(response) -> str:
    text = body(response)
    assert "<html" not in text and "<body" not in text, text[:200]
    return text


def count(app, model) -> int:
    with in_app(app) as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def care(world, make, app):
    """Caregivers and tasks around Margaret; the office user Sam receives requests."""
    c = type("Care", (), {})()
    past = utcnow() - timedelta(days=14)
    c.ana = make.caregiver(world.a, "Ana Torres")  # preferred and has worked with Margaret
    c.ben = make.caregiver(world.a, "Ben Okafor")  # preferred, never visited
    c.cara = make.caregiver(world.a, "Cara Lind")  # visited, not preferred
    c.dan = make.caregiver(world.a, "Dan Ruiz")  # preferred, visit only scheduled, not completed
    make.visit(world.client_a, past, caregiver_id=c.ana.id, status="completed")
    make.visit(world.client_a, past, caregiver_id=c.cara.id, status="completed")
    make.visit(world.client_a, past + timedelta(days=30), caregiver_id=c.dan.id)
    for caregiver, preferred in ((c.ana, True), (c.ben, True), (c.cara, False), (c.dan, True)):
        make.save(
            ClientCaregiver(
                agency_id=world.a.id,
                client_id=world.client_a.id,
                caregiver_id=caregiver.id,
                is_preferred=preferred,
            )
        )
    c.bathing = make.task(world.a, "Bathing")
    c.meals = make.task(world.a, "Meal preparation")
    c.retired = make.save(Task(agency_id=world.a.id, name="Retired task", is_active=False))
    c.other_agency_task = make.task(world.b, "Beta task")
    with in_app(app) as session:
        session.get(Agency, world.a.id).schedule_request_recipient_id = world.staff_a.id
        session.commit()
    return c


def form_data(care, **overrides):
    day = today() + timedelta(days=3)
    data = {
        "date": day.isoformat(),
        "start_time": "09:00",
        "end_time": "11:30",
        "care_needed": "Help with a bath and lunch",
        "preferred_caregiver": str(care.ana.id),
        "tasks": [str(care.bathing.id), str(care.meals.id)],
        "notes": "Side door is easier",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- the form ---------------------------------------------------------------------------------------


def test_form_offers_only_preferred_caregivers_who_have_worked_with_the_client(client, world, care):
    login(client, "margaretjones")
    page = body(client.get(NEW))
    assert "Ask for care" in page and "<html" in page
    assert "Ana Torres" in page
    for name in ("Ben Okafor", "Cara Lind", "Dan Ruiz"):
        assert name not in page
    assert "Bathing" in page and "Meal preparation" in page
    assert "Retired task" not in page and "Beta task" not in page


def test_form_opens_as_a_dialog_with_htmx(client, world, care):
    login(client, "margaretjones")
    fragment = assert_fragment(client.get(NEW, htmx=True))
    assert fragment.lstrip().startswith("<dialog open")
    assert 'id="request-form"' in fragment and 'method="dialog"' in fragment


def test_requests_page_links_to_the_form(client, world, care):
    login(client, "margaretjones")
    page = body(client.get("/schedule/requests"))
    assert "No schedule requests yet." in page
    assert f'href="/schedule/requests/new?client={world.client_a.id}"' in page


# --- sending one ------------------------------------------------------------------------------------


def test_plain_post_stores_the_request_mails_the_office_and_creates_no_visit(client, world, care, app):
    login(client, "margaretjones")
    visits_before = count(app, Visit)
    response = client.post_form(NEW, form_data(care))
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/schedule/requests")
    page = body(client.get(response.headers["Location"]))
    assert "Your request for Margaret was sent to the office." in page
    assert "Help with a bath and lunch" in page and "Open" in page
    assert "Bathing, Meal preparation" in page and "Preferred caregiver: Ana Torres" in page

    assert count(app, Visit) == visits_before
    row = get_one(app, ScheduleRequest, client_id=world.client_a.id)
    day = today() + timedelta(days=3)
    assert row.starts_at == datetime.combine(day, time(9, 0), tzinfo=ZONE)
    assert row.ends_at == datetime.combine(day, time(11, 30), tzinfo=ZONE)
    assert (row.requested_by_id, row.preferred_caregiver_id, row.status) == (
        world.margaret.id,
        care.ana.id,
        "open",
    )
    assert row.notes == "Side door is easier"
    with in_app(app) as session:
        stored = session.get(ScheduleRequest, row.id)
        assert sorted(t.name for t in stored.tasks) == ["Bathing", "Meal preparation"]
        audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "schedule_request.created"))
        assert (audit.actor_id, audit.target_id, audit.client_id) == (
            world.margaret.id,
            row.id,
            world.client_a.id,
        )

    mail = get_one(app, OutboxMail)
    assert mail.to_address == "admin@example.com"  # Sam, chosen in office settings
    assert mail.subject == "New schedule request for Margaret Jones"
    assert "from Margaret Jones for Margaret Jones" in mail.body_text
    assert "http://alpha.localhost/admin/schedule-requests" in mail.body_text
    for detail in ("bath", "lunch", "Bathing", "Meal", "Side door", "Ana", "9:00", "09:00"):
        assert detail not in mail.body_text and detail not in mail.subject


def test_htmx_post_answers_a_fragment(client, world, care, app):
    login(client, "margaretjones")
    response = client.post_form(
        NEW,
        form_data(care),
        headers={"HX-Current-URL": f"http://{HOST_A}/schedule/requests?client=1"},
        htmx=True,
    )
    assert response.status_code == 200
    fragment = assert_fragment(response)
    assert "Your request for Margaret was sent to the office." in fragment
    assert 'id="request-list" hx-swap-oob="true"' in fragment and "Help with a bath and lunch" in fragment
    assert count(app, ScheduleRequest) == 1


def test_request_sent_from_the_calendar_refreshes_no_list(client, world, care, app):
    """The calendar page has no request list: an out-of-band list would have no target there."""
    login(client, "margaretjones")
    fragment = assert_fragment(
        client.post_form(
            NEW,
            form_data(care),
            headers={"HX-Current-URL": f"http://{HOST_A}/schedule?view=month"},
            htmx=True,
        )
    )
    assert "Your request for Margaret was sent to the office." in fragment
    assert "request-list" not in fragment and "See my schedule requests" in fragment
    assert count(app, ScheduleRequest) == 1


def test_mail_falls_back_to_the_agency_address(client, world, care, app):
    with in_app(app) as session:
        session.get(Agency, world.a.id).schedule_request_recipient_id = None
        session.commit()
    login(client, "margaretjones")
    assert client.post_form(NEW, form_data(care, preferred_caregiver="", tasks=None)).status_code == 303
    assert get_one(app, OutboxMail).to_address == "office@alpha.localhost"
    row = get_one(app, ScheduleRequest)
    assert row.preferred_caregiver_id is None


@pytest.fixture
def smtp_server(app, monkeypatch):
    """A real SMTP server on 127.0.0.1 and a free port, with the app's mail settings pointed at it."""

    class Sink:
        def __init__(self):
            self.envelopes = []

        async def handle_DATA(self, server, session, envelope):
            self.envelopes.append(envelope)
            return "250 Message accepted"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    state = app.extensions["mail"]  # Flask-Mail copies the config when the app starts
    for key, value in {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_USE_TLS": False}.items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setattr(state, "server", "127.0.0.1")
    monkeypatch.setattr(state, "port", port)
    monkeypatch.setattr(state, "use_tls", False)
    monkeypatch.setattr(state, "use_ssl", False)
    monkeypatch.setattr(state, "suppress", False)
    yield sink
    controller.stop()


def test_the_office_mail_arrives_over_smtp(client, world, care, app, smtp_server):
    login(client, "margaretjones")
    assert client.post_form(NEW, form_data(care)).status_code == 303
    with app.app_context(), all_agencies():
        assert send_due() == (1, 0)
        db.session.remove()
    assert len(smtp_server.envelopes) == 1
    envelope = smtp_server.envelopes[0]
    assert envelope.rcpt_tos == ["admin@example.com"]
    message = envelope.content.decode("utf-8", "replace")
    assert "New schedule request for Margaret Jones" in message
    assert "/admin/schedule-requests" in message
    assert "bath" not in message and "Bathing" not in message
    assert get_one(app, OutboxMail).status == MailStatus.SENT


# --- validation -------------------------------------------------------------------------------------


def _horizon_day():
    return today() + timedelta(days=91)


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"date": ""}, "Choose the date you would like care."),
        ({"date": "not-a-date"}, "Enter the date as YYYY-MM-DD"),
        ({"date": "today"}, "Choose a date after today."),
        ({"date": "yesterday"}, "Choose a date after today."),
        ({"date": "horizon"}, "Requests can be made up to 90 days ahead"),
        ({"start_time": ""}, "Choose a start time."),
        ({"end_time": "25:99"}, "Enter the end time as hours and minutes"),
        ({"start_time": "14:00", "end_time": "13:00"}, "The end time must be after the start time."),
        ({"start_time": "14:00", "end_time": "14:00"}, "The end time must be after the start time."),
        ({"care_needed": "   "}, "Tell the office what care is needed."),
        ({"care_needed": "x" * 1001}, "Please keep this under 1000 characters."),
        ({"notes": "x" * 2001}, "Please keep the notes under 2000 characters."),
        ({"preferred_caregiver": "ben"}, "Choose a caregiver from the list, or no preference."),
        ({"preferred_caregiver": "cara"}, "Choose a caregiver from the list, or no preference."),
        ({"preferred_caregiver": "999999"}, "Choose a caregiver from the list, or no preference."),
        ({"tasks": ["retired"]}, "Choose tasks from the list."),
        ({"tasks": ["beta"]}, "Choose tasks from the list."),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(v),
)
def test_each_bad_input_is_refused_beside_its_field(client, world, care, app, overrides, message):
    days = {"today": 0, "yesterday": -1, "horizon": 91}
    ids = {
        "ben": care.ben.id,
        "cara": care.cara.id,
        "retired": care.retired.id,
        "beta": care.other_agency_task.id,
    }
    resolved = {}
    for key, value in overrides.items():
        if key == "date" and value in days:
            value = (today() + timedelta(days=days[value])).isoformat()
        elif key == "preferred_caregiver" and value in ids:
            value = str(ids[value])
        elif key == "tasks":
            value = [str(ids[v]) for v in value]
        resolved[key] = value
    login(client, "margaretjones")

    response = client.post_form(NEW, form_data(care, **resolved))
    assert response.status_code == 422
    page = body(response)
    assert message in page
    assert 'aria-invalid="true"' in page or 'id="tasks-error"' in page

    response = client.post_form(NEW, form_data(care, **resolved), htmx=True)
    assert response.status_code == 422
    fragment = assert_fragment(response)
    assert message in fragment and fragment.lstrip().startswith("<form")

    assert count(app, ScheduleRequest) == 0 and count(app, OutboxMail) == 0


def test_the_last_day_of_the_horizon_is_accepted(client, world, care, app):
    login(client, "margaretjones")
    day = today() + timedelta(days=90)
    assert client.post_form(NEW, form_data(care, date=day.isoformat())).status_code == 303
    assert count(app, ScheduleRequest) == 1


# --- who may ask ------------------------------------------------------------------------------------


def test_emergency_contact_may_request(client, world, care, app):
    login(client, "susanjones")
    assert client.post_form(NEW, form_data(care)).status_code == 303
    assert get_one(app, ScheduleRequest).requested_by_id == world.susan.id
    # Margaret (the client herself) sees Susan's request too.
    client = app.test_client()
    login(client, "margaretjones")
    assert "Asked by Susan Jones" in body(client.get("/schedule/requests"))


def test_payer_may_not_request(client, world, care):
    login(client, "robertjones")
    assert client.get("/schedule/requests").status_code == 404
    assert client.get(NEW).status_code == 404
    response = client.post_form(NEW, form_data(care), token_from="/dashboard")
    assert response.status_code == 404


def test_switched_off_schedule_requests_answer_404(client, world, care, app):
    with in_app(app) as session:
        link = session.scalar(select(ClientLink).where(ClientLink.user_id == world.margaret.id))
        link.show_schedule_requests = False
        session.commit()
    login(client, "margaretjones")
    assert client.get("/schedule/requests").status_code == 404
    assert client.get(NEW).status_code == 404
    response = client.post_form(NEW, form_data(care), token_from="/dashboard")
    assert response.status_code == 404
    assert count(app, ScheduleRequest) == 0


def test_another_clients_id_answers_404(client, world, care):
    login(client, "margaretjones")
    assert client.get(f"{NEW}?client={world.client_a2.id}").status_code == 404
    assert client.get(f"{NEW}?client={world.client_b.id}").status_code == 404


def test_anonymous_is_sent_to_sign_in(client, world):
    response = client.get(NEW)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- the office queue -------------------------------------------------------------------------------


def _send(app, care, username="margaretjones", **overrides):
    """Another browser, signed in as `username`, sends a request."""
    browser = app.test_client()
    login(browser, username)
    assert browser.post_form(NEW, form_data(care, **overrides)).status_code == 303


QUEUE = "/admin/schedule-requests"


def test_queue_lists_open_first_and_staff_mark_handled(client, world, care, app):
    _send(app, care, care_needed="First request")
    _send(app, care, username="susanjones", care_needed="Second request")
    first = get_one(app, ScheduleRequest, care_needed="First request")
    second = get_one(app, ScheduleRequest, care_needed="Second request")

    login(client, "admin")
    page = body(client.get(QUEUE))
    assert page.index("First request") < page.index("Second request")
    assert "asked by Margaret Jones" in page and "asked by Susan Jones" in page

    response = client.post_form(
        f"{QUEUE}/{first.id}",
        {"decision": "handled", "staff_note": "Ana will come on that day."},
        token_from=QUEUE,
    )
    assert response.status_code == 303 and response.headers["Location"] == QUEUE
    page = body(client.get(QUEUE))
    assert "marked handled" in page
    assert page.index("Second request") < page.index("First request")  # open ones first
    stored = get_one(app, ScheduleRequest, id=first.id)
    assert (stored.status, stored.staff_note, stored.handled_by_id) == (
        "handled",
        "Ana will come on that day.",
        world.staff_a.id,
    )
    assert get_one(app, AuditEvent, action="schedule_request.handled").target_id == first.id
    assert get_one(app, ScheduleRequest, id=second.id).status == "open"

    client = app.test_client()
    login(client, "margaretjones")
    mine = body(client.get("/schedule/requests"))
    assert "Handled" in mine and "The office handled this request" in mine
    assert "Office note: Ana will come on that day." in mine


def test_staff_decline_with_htmx_swaps_the_row(client, world, care, app):
    _send(app, care)
    row = get_one(app, ScheduleRequest)
    login(client, "admin")

    response = client.post_form(f"{QUEUE}/{row.id}", {"decision": "declined"}, token_from=QUEUE, htmx=True)
    assert response.status_code == 422
    fragment = assert_fragment(response)
    assert fragment.lstrip().startswith(f'<li id="schedule-request-{row.id}"')
    assert "Say why, so the family knows what to do next." in fragment
    assert get_one(app, ScheduleRequest).status == "open"

    response = client.post_form(
        f"{QUEUE}/{row.id}",
        {"decision": "declined", "staff_note": "No caregiver free that day."},
        token_from=QUEUE,
        htmx=True,
    )
    assert response.status_code == 200
    fragment = assert_fragment(response)
    assert "Declined" in fragment and "No caregiver free that day." in fragment
    assert get_one(app, ScheduleRequest).status == "declined"

    client = app.test_client()
    login(client, "susanjones")
    mine = body(client.get("/schedule/requests"))
    assert "The office declined this request" in mine and "No caregiver free that day." in mine


@pytest.mark.parametrize(
    "data,message",
    [
        ({"decision": "deleted", "staff_note": "x"}, "Choose Handled or Declined."),
        ({"decision": "handled", "staff_note": "x" * 2001}, "Please keep the note under 2000 characters."),
    ],
)
def test_bad_decisions_are_refused(client, world, care, app, data, message):
    _send(app, care)
    row = get_one(app, ScheduleRequest)
    login(client, "admin")
    response = client.post_form(f"{QUEUE}/{row.id}", data, token_from=QUEUE)
    assert response.status_code == 422 and message in body(response)
    assert get_one(app, ScheduleRequest).status == "open"


def test_another_agencys_request_is_404(client, world, care, app):
    _send(app, care)
    row = get_one(app, ScheduleRequest)
    login(client, "admin", host=HOST_B)
    assert "Margaret" not in body(client.get(QUEUE, host=HOST_B))
    response = client.post_form(
        f"{QUEUE}/{row.id}", {"decision": "handled", "staff_note": "x"}, host=HOST_B, token_from=QUEUE
    )
    assert response.status_code == 404
    assert get_one(app, ScheduleRequest).status == "open"


def test_portal_users_cannot_open_the_queue(client, world, care, app):
    _send(app, care)
    login(client, "margaretjones")
    assert client.get(QUEUE).status_code == 404


def test_a_family_member_of_two_clients_picks_the_client(client, world, care, make, app):
    make.link(world.susan, world.client_a2, "emergency_contact")
    login(client, "susanjones")
    page = body(client.get(f"{NEW}?client={world.client_a.id}"))
    assert "For Margaret Jones. Ask for someone else:" in page
    assert f'href="/schedule/requests/new?client={world.client_a2.id}"' in page
    dialog = assert_fragment(client.get(f"{NEW}?client={world.client_a.id}", htmx=True))
    assert 'hx-target="closest dialog"' in dialog

    # Harold has no preferred caregiver: the form says so and no id is accepted.
    harold_new = f"{NEW}?client={world.client_a2.id}"
    page = body(client.get(harold_new))
    assert "Ana Torres" not in page and "once the office marks caregivers" in page
    refused = client.post_form(harold_new, form_data(care))
    assert refused.status_code == 422 and "Choose a caregiver from the list" in body(refused)

    response = client.post_form(harold_new, form_data(care, preferred_caregiver=""))
    assert response.status_code == 303
    assert get_one(app, ScheduleRequest).client_id == world.client_a2.id
    listing = body(client.get("/schedule/requests"))
    assert "For Harold Smith" in listing


def _add_requests(app, world, care, count):
    now = utcnow()
    with in_app(app) as session:
        for n in range(count):
            status = ("open", "handled", "declined")[n % 3]
            session.add(
                ScheduleRequest(
                    agency_id=world.a.id,
                    client_id=world.client_a.id,
                    requested_by_id=world.susan.id,
                    starts_at=now + timedelta(days=n % 30 + 1),
                    ends_at=now + timedelta(days=n % 30 + 1, hours=2),
                    care_needed=f"Request {n}",
                    preferred_caregiver_id=care.ana.id,
                    status=status,
                    handled_by_id=None if status == "open" else world.staff_a.id,
                    handled_at=None if status == "open" else now - timedelta(minutes=n),
                    tasks=[session.get(Task, care.bathing.id)],
                )
            )
        session.commit()


def test_the_queue_costs_the_same_statements_for_few_and_many_requests(client, world, care, app):
    from tests.conftest import recorded_sql

    _add_requests(app, world, care, 6)
    login(client, "admin")
    with recorded_sql(app) as few:
        assert client.get(QUEUE).status_code == 200
    _add_requests(app, world, care, 240)
    with recorded_sql(app) as many:
        page = body(client.get(QUEUE))
    assert len(few) == len(many) <= 10, many
    # Open requests first (oldest first), then at most the 100 most recently decided.
    assert page.count("Request ") == 82 + 100
