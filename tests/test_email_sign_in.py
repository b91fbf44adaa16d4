"""Sign in with an e-mail link: asked for on the sign-in page, answered alike whether or not the
account exists, mailed by the worker only to a confirmed address, one-time, 15 minutes, two-step
still asked where it is on, and switched off by the agency in office settings."""

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from app.models import Agency, AuditEvent, OutboxMail, PasswordResetRequest, User
from tests.conftest import deliver_resets, in_app, recorded_sql, set_columns
from tests.test_auth import token_for

LINK = re.compile(r"http://alpha\.localhost/login/link/(\S+)")


def sign_in_mails(app) -> list[OutboxMail]:
    with in_app(app) as session:
        rows = session.scalars(select(OutboxMail).where(OutboxMail.subject.like("Your sign-in link%"))).all()
        session.expunge_all()
        return rows


def ask_for_link(client, username, htmx=False):
    return client.post_form("/login/email", {"username": username}, htmx=htmx)


def mailed_token(app) -> str:
    mails = sign_in_mails(app)
    assert mails, "no sign-in mail"
    return LINK.search(mails[-1].body_text).group(1)


def test_the_sign_in_page_offers_the_link(client, world):
    assert 'href="/login/email"' in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_asking_answers_alike_for_a_known_and_an_unknown_name(app, client, world, htmx):
    known = ask_for_link(client, "margaretjones", htmx)
    unknown = ask_for_link(client, "nobodyatall", htmx)
    assert known.status_code == unknown.status_code
    assert known.headers.get("Location") == unknown.headers.get("Location")
    assert known.headers.get("HX-Redirect") == unknown.headers.get("HX-Redirect")
    with in_app(app) as session:
        queued = session.scalars(select(PasswordResetRequest.purpose)).all()
    assert queued == ["sign_in", "sign_in"]
    assert deliver_resets(app) == 1  # the worker mails the known one only
    mail = sign_in_mails(app)[0]
    assert mail.to_address == "margaretjones@example.com"
    assert "15 minutes" in mail.body_text


def test_known_and_unknown_names_run_the_same_statements(app, client, world):
    token = client.csrf_token("/login/email")
    seen = []
    for name in ("margaretjones", "nobodyatall"):
        with recorded_sql(app) as statements:
            client.post("/login/email", data={"username": name, "csrf_token": token})
        seen.append(statements)
    assert seen[0] == seen[1]


def test_the_link_signs_in_once(app, client, world):
    ask_for_link(client, "margaretjones")
    deliver_resets(app)
    token = mailed_token(app)
    page = client.get(f"/login/link/{token}")
    assert page.status_code == 200 and "Welcome back, Margaret" in page.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302  # opening the link signs nobody in
    response = client.post_form(f"/login/link/{token}", {})
    assert response.status_code == 303 and response.headers["Location"].endswith("/dashboard")
    assert client.get("/dashboard").status_code == 200
    with in_app(app) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor_id == world.margaret.id).order_by(AuditEvent.id)
        ).all()
    assert actions[-3:] == ["login.link_sent", "token.used", "login.success"]
    assert app.test_client().get(f"/login/link/{token}").status_code == 404  # used up


def test_a_newer_link_replaces_the_older_one(app, client, world):
    ask_for_link(client, "margaretjones")
    deliver_resets(app)
    first = mailed_token(app)
    ask_for_link(client, "margaretjones")
    deliver_resets(app)
    second = mailed_token(app)
    assert client.get(f"/login/link/{first}").status_code == 404
    assert client.get(f"/login/link/{second}").status_code == 200


def test_the_link_expires_after_15_minutes(app, client, world, monkeypatch):
    fresh = token_for(app, world.margaret.id, "sign_in", age=timedelta(minutes=14), monkeypatch=monkeypatch)
    assert client.get(f"/login/link/{fresh}").status_code == 200
    stale = token_for(app, world.margaret.id, "sign_in", age=timedelta(minutes=16), monkeypatch=monkeypatch)
    assert client.get(f"/login/link/{stale}").status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"email_confirmed_at": None},
        {"is_active": False},
        {"is_locked": True},
        {"email": None},
    ],
    ids=["unconfirmed", "inactive", "locked", "no-address"],
)
def test_no_link_goes_to_an_account_that_may_not_have_one(app, client, world, change):
    set_columns(app, User, world.margaret.id, **change)
    ask_for_link(client, "margaretjones")
    assert deliver_resets(app) == 0
    assert sign_in_mails(app) == []


def test_a_pending_address_is_not_used(app, client, world):
    set_columns(app, User, world.margaret.id, pending_email="new@example.com")
    ask_for_link(client, "margaretjones")
    deliver_resets(app)
    assert [m.to_address for m in sign_in_mails(app)] == ["margaretjones@example.com"]


def test_two_step_is_still_asked(app, client, world):
    key = pyotp.random_base32()
    set_columns(app, User, world.margaret.id, totp_secret=key)
    ask_for_link(client, "margaretjones")
    deliver_resets(app)
    response = client.post_form(f"/login/link/{mailed_token(app)}", {})
    assert response.headers["Location"].endswith("/login/two-step")
    assert client.get("/dashboard").status_code == 302
    signed_in = client.post_form("/login/two-step", {"code": pyotp.TOTP(key).now()})
    assert signed_in.status_code == 303
    assert client.get("/dashboard").status_code == 200


def test_the_agency_can_switch_it_off(app, client, world):
    ask_for_link(client, "margaretjones")
    deliver_resets(app)
    token = mailed_token(app)
    set_columns(app, Agency, world.a.id, email_sign_in_enabled=False)
    assert 'href="/login/email"' not in client.get("/login").get_data(as_text=True)
    assert client.get("/login/email").status_code == 404
    assert client.get(f"/login/link/{token}").status_code == 404  # a link sent before stops too
    ask_again = client.post("/login/email", data={"username": "margaretjones"})
    assert ask_again.status_code in (400, 404)


def test_another_agencys_link_does_not_work_here(app, client, world):
    ask_for_link(client, "margaretjones")
    deliver_resets(app)
    token = mailed_token(app)
    assert client.get(f"/login/link/{token}", host="beta.localhost").status_code == 404


@pytest.mark.parametrize("token", ["x", "a" * 5000, "..", "%00", "eyJ1Ijo5OTk5OTk5OTk5OTk5OTk5OTk5fQ.x.y"])
def test_garbage_links_are_refused_plainly(client, world, token):
    assert client.get(f"/login/link/{token}").status_code in (400, 404)


def test_an_empty_or_hostile_name_is_refused_beside_the_field(client, world):
    empty = client.post_form("/login/email", {"username": ""})
    assert empty.status_code == 422 and "Enter your login name." in empty.get_data(as_text=True)
    hostile = client.post_form("/login/email", {"username": "<script>alert(1)</script>" * 20})
    assert hostile.status_code == 422 and "<script>alert(1)" not in hostile.get_data(as_text=True)


def test_one_account_gets_at_most_three_links_of_a_kind_in_fifteen_minutes(app, client, world):
    for _ in range(5):
        ask_for_link(client, "margaretjones")
        client.post_form("/password/forgot", {"username": "margaretjones", "method": "email"})
    deliver_resets(app)
    with in_app(app) as session:
        subjects = session.scalars(
            select(OutboxMail.subject).where(OutboxMail.to_address == "margaretjones@example.com")
        ).all()
        throttled = session.scalars(select(AuditEvent).where(AuditEvent.action == "link.throttled")).all()
    assert sum(s.startswith("Your sign-in link") for s in subjects) == 3
    assert sum(s.startswith("Reset your") for s in subjects) == 3
    assert len(throttled) == 4
