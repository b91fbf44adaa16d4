"""What the first outside look found, closed: links in mail from the agency's own address,
re-authentication counted like sign-in, one-time links that do not cancel each other, the same
work for known and unknown names, the payer's minimum necessary, and rate limits behind a proxy.
"""

import ast
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.middleware.proxy_fix import ProxyFix

from app.models import ClientLink, OutboxMail, PasswordResetRequest, User, VisitTask
from tests.conftest import HOST_A, PASSWORD, deliver_resets, get_one, in_app, login, recorded_sql
from tests.test_schedule_pdf import pdf_text

ROOT = Path(__file__).resolve().parents[1]
NEW_PASSWORD = "kettle orchard velvet lantern"
LINK_RE = re.compile(r"https?://[^\s\"'<>]+")


def mails(app):
    with in_app(app) as session:
        rows = session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        session.expunge_all()
        return rows


# --- 1. links in mail never come from the request's Host header ----------------------------------


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:80", "alpha.localhost.attacker.example"]
)
def test_reset_with_a_foreign_host_is_refused_and_mails_nothing(app, client, world, host):
    client.get("/login")  # a session cookie, as a browser would have
    response = client.post("/password/forgot", data={"username": "admin"}, headers={"Host": host})
    assert response.status_code == 400
    deliver_resets(app)
    assert mails(app) == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:5000", HOST_A])
def test_reset_link_is_on_the_agencys_own_address_whatever_host_was_used(app, client, world, host):
    assert client.post_form("/password/forgot", {"username": "margaretjones"}, host=host).status_code == 303
    deliver_resets(app)
    (mail,) = mails(app)
    assert LINK_RE.findall(mail.body_text)[0].startswith("http://alpha.localhost/password/reset/")


def test_every_link_in_every_mail_is_on_the_agencys_address(app, client, world, make, monkeypatch):
    """Reset, welcome, schedule-request notice, two-step enrolment: asked for through a host the
    default agency serves (not its own), every link still names the agency's configured host."""
    monkeypatch.setitem(app.config, "PUBLIC_PORT", "8443")
    other = "127.0.0.1"
    client.post_form("/password/forgot", {"username": "margaretjones"}, host=other)
    deliver_resets(app)
    login(client, "admin", host=other)
    person = make.user(world.a, "newperson", password=False)
    client.post_form(f"/admin/people/{person.id}/credentials", {}, host=other, token_from="/password/change")
    client.post_form(f"/admin/people/{person.id}/reset-email", {}, host=other, token_from="/password/change")
    client.post_form("/two-step/confirm", {}, host=other, token_from="/two-step")
    body = "\n".join(m.body_text for m in mails(app))
    links = LINK_RE.findall(body)
    assert len(links) >= 4, body
    assert all(link.startswith("http://alpha.localhost:8443/") for link in links), links


def test_no_code_builds_an_absolute_url_from_the_request():
    """`url_for(..., _external=True)` and `request.host_url` and the like take the request's host;
    app.services.links is the one way to an absolute URL."""
    offenders = []
    request_addresses = {"host_url", "url_root", "base_url", "root_url", "url"}
    for path in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "_external":
                offenders.append(f"{path.relative_to(ROOT)}:{node.value.lineno}")
            if (
                isinstance(node, ast.Attribute)
                and node.attr in request_addresses
                and isinstance(node.value, ast.Name)
                and node.value.id == "request"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} request.{node.attr}")
    for path in (ROOT / "app" / "templates").rglob("*"):
        if path.is_file() and "_external" in path.read_text():
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


# --- 6. re-authentication is throttled -----------------------------------------------------------


def change_password(client, current):
    return client.post_form(
        "/password/change",
        {"current_password": current, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )


def test_wrong_current_passwords_pause_the_account_like_sign_in(app, client, world):
    login(client, "margaretjones")
    for _ in range(app.config["LOGIN_LOCK_THRESHOLD"]):
        assert change_password(client, "not my password at all").status_code == 422
    refused = change_password(client, PASSWORD)
    assert refused.status_code == 422
    assert "account is paused" in unescape(refused.get_data(as_text=True))
    user = get_one(app, User, id=world.margaret.id)
    assert user.locked_until is not None and user.failed_logins >= app.config["LOGIN_LOCK_THRESHOLD"]
    # The pause holds for signing in too, even with the right password.
    assert login(app.test_client(), "margaretjones").status_code == 422


def test_re_authentication_shares_the_per_address_limit_with_sign_in(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "3 per minute")
    assert login(client, "margaretjones").status_code == 303  # 1
    assert change_password(client, "wrong wrong wrong").status_code == 422  # 2
    assert change_password(client, "wrong wrong wrong").status_code == 422  # 3
    assert change_password(client, PASSWORD).status_code == 429
    assert login(app.test_client(), "haroldsmith").status_code == 429  # same address


def test_rate_limits_key_on_the_real_client_address_behind_a_proxy(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "2 per minute")
    monkeypatch.setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1))

    def attempt(address):
        client = app.test_client()
        forwarded = {"X-Forwarded-For": address}
        return client.post_form(
            "/login", {"username": "margaretjones", "password": "wrong"}, headers=forwarded
        ).status_code

    assert [attempt("203.0.113.5") for _ in range(3)] == [422, 422, 429]
    assert attempt("203.0.113.6") == 422  # another family behind the same balancer


# --- 7. reset and welcome links do not cancel each other; known and unknown names alike -----------


def test_forgot_password_does_not_kill_an_unused_welcome_link(app, client, world):
    from app.auth.tokens import make_token

    with in_app(app) as session:
        welcome = make_token(session.get(User, world.margaret.id), "welcome")
    client.post_form("/password/forgot", {"username": "margaretjones"})
    deliver_resets(app)
    assert client.get(f"/welcome/{welcome}").status_code == 200


def _statements(app, client, username) -> list[str]:
    """The SQL one forgot-password post runs, with values and table ids taken out."""
    token = client.csrf_token("/password/forgot")
    with recorded_sql(app) as seen:
        response = client.post("/password/forgot", data={"username": username, "csrf_token": token})
    assert response.status_code == 303
    return seen


def test_known_and_unknown_names_do_the_same_work(app, client, world):
    """The form only queues the request: the same statements for an account with an e-mail
    address, one without, and a name nobody has, so none answers faster than another."""
    known = _statements(app, client, "margaretjones")
    unknown = _statements(app, client, "nosuchperson")
    staff = _statements(app, client, "admin")
    assert known == unknown == staff
    with in_app(app) as session:
        queued = session.scalars(select(PasswordResetRequest.username)).all()
    assert sorted(queued) == ["admin", "margaretjones", "nosuchperson"]
    assert mails(app) == []  # nothing is mailed before the worker runs
    assert deliver_resets(app) == 2
    assert sorted(m.to_address for m in mails(app)) == ["admin@example.com", "margaretjones@example.com"]


def test_worker_answers_each_request_once(app, client, world):
    client.post_form("/password/forgot", {"username": "margaretjones"})
    assert deliver_resets(app) == 1
    assert deliver_resets(app) == 0
    assert len(mails(app)) == 1


# --- 8. minimum necessary for payers --------------------------------------------------------------

VISIT_AT = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
NOTE = "Margaret enjoyed the soup."
REASON = "Too cold outside"


@pytest.fixture
def finished_visit(make, world):
    ana = make.caregiver(world.a, "Ana Torres")
    walk = make.task(world.a, "Short walk")
    visit = make.visit(
        world.client_a,
        VISIT_AT,
        caregiver_id=ana.id,
        status="completed",
        clock_in_at=VISIT_AT,
        clock_out_at=VISIT_AT + timedelta(hours=2),
        caregiver_note=NOTE,
    )
    make.save(
        VisitTask(
            agency_id=world.a.id, visit_id=visit.id, task_id=walk.id, status="refused", refusal_reason=REASON
        )
    )
    return visit


VIEWS = [
    "/schedule?view=day&date=2026-11-30&client={client}",
    "/schedule/print?view=day&date=2026-11-30&client={client}",
    "/schedule.pdf?view=day&date=2026-11-30&client={client}",
    "/schedule?view=day&date=2026-11-30&client=all",
]


def _seen(client, path, client_id) -> str:
    response = client.get(path.format(client=client_id))
    assert response.status_code == 200, path
    if response.mimetype == "application/pdf":
        return pdf_text(response.data)
    return unescape(response.get_data(as_text=True))


@pytest.mark.parametrize("path", VIEWS)
def test_payer_sees_times_and_tasks_but_not_notes(client, world, finished_visit, path):
    login(client, "robertjones")
    text = _seen(client, path, world.client_a.id)
    assert "9:00 AM" in text and "Ana Torres" in text and "Short walk" in text
    assert NOTE not in text and REASON not in text


@pytest.mark.parametrize("path", VIEWS)
def test_payer_sees_notes_where_the_agency_ticked_it(app, client, make, world, finished_visit, path):
    link = get_one(app, ClientLink, user_id=world.robert.id, client_id=world.client_a.id)
    link.may_view_visit_notes = True
    make.save(link)
    login(client, "robertjones")
    text = _seen(client, path, world.client_a.id)
    assert NOTE in text and REASON in text


@pytest.mark.parametrize("username", ["margaretjones", "susanjones"])
@pytest.mark.parametrize("path", VIEWS[:3])
def test_client_and_family_keep_seeing_notes(client, world, finished_visit, username, path):
    login(client, username)
    text = _seen(client, path, world.client_a.id)
    assert NOTE in text and REASON in text


def test_feed_never_carries_notes(app, client, world, finished_visit):
    from app.services import calendar_feed

    with in_app(app) as session:
        for username in ("robertjones", "margaretjones"):
            user = session.scalar(select(User).where(User.username == username))
            visits, several = calendar_feed.feed_visits(user, now=VISIT_AT)
            with app.test_request_context(headers={"Host": HOST_A}):
                body = calendar_feed.build_calendar(world.a, visits, several).decode()
            assert visits and NOTE not in body and REASON not in body


@pytest.mark.parametrize(("relationship", "stored"), [("payer", True), ("emergency_contact", False)])
def test_office_ticks_visit_notes_for_a_payer_only(app, client, world, relationship, stored):
    login(client, "admin")
    data = {
        "first_name": "Nora",
        "last_name": "Payer",
        "email": "nora@example.com",
        "role": "portal",
        "client_id": str(world.client_a.id),
        "relationship": relationship,
        "may_view_visit_notes": "y",
        "access": "email",
    }
    assert client.post_form("/admin/people/new", data).status_code == 303
    user = get_one(app, User, username="norapayer")
    assert get_one(app, ClientLink, user_id=user.id).may_view_visit_notes is stored


# --- forms: one-line fields hold one line ---------------------------------------------------------


def test_every_form_is_built_on_the_one_base():
    import importlib
    import pkgutil

    from flask_wtf import FlaskForm

    import app as package
    from app.web.forms import Form

    for module in pkgutil.walk_packages(package.__path__, "app."):
        importlib.import_module(module.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [c for c in subclasses(FlaskForm) if c.__module__.startswith("app.") and c is not Form]
    assert ours and all(issubclass(c, Form) for c in ours), [c for c in ours if not issubclass(c, Form)]


@pytest.mark.parametrize("value", ["Eve\r\nBcc: x@example.com", "Eve\tSmith", "Eve\n"])
def test_a_line_break_in_a_one_line_field_is_refused_beside_it(app, client, world, value):
    login(client, "admin")
    data = {
        "first_name": value,
        "last_name": "Jones",
        "email": "eve@example.com",
        "role": "portal",
        "client_id": str(world.client_a.id),
        "relationship": "emergency_contact",
        "access": "email",
    }
    response = client.post_form("/admin/people/new", data)
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    assert re.search(r'<p id="first_name-error" class="error">[^<]*Keep this on one line', html)
    assert mails(app) == []


def test_text_areas_keep_their_lines(app, client, world):
    login(client, "admin")
    template = "Dear office,\r\n\tplease call me."
    response = client.post_form(
        "/admin/settings",
        {
            "version": "1",
            "name": "Alpha Home Care",
            "message_template": template,
            "time_zone": "America/Chicago",
            "schedule_request_recipient_id": "0",
            "schedule_request_horizon_days": "90",
            "session_idle_minutes": "15",
            "payment_gateway": "none",
        },
    )
    assert response.status_code == 303
    from app.models import Agency

    assert get_one(app, Agency, id=world.a.id).message_template == template


# --- counters hold under parallel requests ---------------------------------------------------------


def _in_parallel(app, count, attempt):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: attempt(app.test_client()), range(count)))


def _wrong_answer(name):
    def attempt(browser):
        path = f"/password/forgot/question?username={name}"
        return browser.post_form(
            path, {"username": name, "answer": "wrong answer"}, token_from="/login"
        ).status_code

    return attempt


@pytest.mark.commits  # another connection or thread writes at the same time
@pytest.mark.parametrize("name", ["nosuchperson", "margaretjones"])
def test_parallel_wrong_answers_never_500_and_never_pass_the_limit(app, world, name):
    from app.models import Agency, UnknownNameAttempts

    agency = get_one(app, Agency, id=world.a.id)
    agency.security_questions_enabled = True
    with in_app(app) as session:
        session.merge(agency)
        session.commit()
    limit = app.config["SECURITY_ANSWER_MAX_ATTEMPTS"]
    statuses = _in_parallel(app, 6, _wrong_answer(name))
    assert statuses == [422] * 6
    if name == "nosuchperson":
        counted = get_one(app, UnknownNameAttempts, username=name).security_failed_attempts
    else:
        counted = get_one(app, User, username=name).security_failed_attempts
    assert counted == limit


@pytest.mark.commits  # another connection or thread writes at the same time
def test_parallel_wrong_passwords_are_all_counted(app, world):
    def attempt(browser):
        return browser.post_form(
            "/login", {"username": "robertjones", "password": "wrong password"}
        ).status_code

    assert _in_parallel(app, 6, attempt) == [422] * 6
    user = get_one(app, User, username="robertjones")
    # Every attempt is accounted for: counted as a wrong password, or — when it arrived after the
    # fifth paused the account — refused as paused. None is lost to a race.
    from app.models import AuditEvent

    with in_app(app) as session:
        reasons = session.scalars(
            select(AuditEvent.details).where(
                AuditEvent.action == "login.failed", AuditEvent.actor_id == user.id
            )
        ).all()
    wrong = sum(details["reason"] == "password" for details in reasons)
    paused = sum(details["reason"] == "paused" for details in reasons)
    assert user.failed_logins == wrong >= 5 and wrong + paused == 6
    assert user.locked_until is not None


# --- an agency without an address -------------------------------------------------------------------


def test_an_agency_without_a_host_does_not_stop_mail_for_the_others(app, client, world, make):
    from app.models import Agency

    client.post_form("/password/forgot", {"username": "margaretjones"}, host="localhost")
    client.post_form("/password/forgot", {"username": "alicebrown"}, host="beta.localhost")
    agency = get_one(app, Agency, id=world.a.id)
    agency.host = None
    with in_app(app) as session:
        session.merge(agency)
        session.commit()
    assert deliver_resets(app) == 1
    assert [m.to_address for m in mails(app)] == ["alicebrown@example.com"]
    # Staff asking for a mail on that agency get a page that says why, not a 500.
    login(client, "admin", host="localhost")
    response = client.post_form(
        f"/admin/people/{world.margaret.id}/credentials", host="localhost", token_from="/password/change"
    )
    assert response.status_code == 409
    assert "no web address set up" in response.get_data(as_text=True)


# --- the two-step enrolment link is for one session, once -------------------------------------------


def test_enrolment_link_works_once_and_only_in_the_session_that_asked(app, client, world):
    from app.models import Agency
    from tests.test_two_step import _enrolment_link

    agency = get_one(app, Agency, id=world.a.id)
    agency.staff_two_factor_required = True
    with in_app(app) as session:
        session.merge(agency)
        session.commit()
    login(client, "admin")
    link = _enrolment_link(app, client)
    other_session = app.test_client()
    login(other_session, "admin")
    assert other_session.get(link).status_code == 404
    assert client.get(link).status_code == 303
    assert client.get(link).status_code == 404
