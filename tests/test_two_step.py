"""Two-step sign-in (TOTP): set up, sign in with a code, no replay, staff requirement."""

import html
import re
import time

import pyotp
from sqlalchemy import select, update

from app.models import Agency, AuditEvent, OutboxMail, User
from tests.conftest import HOST_A, PASSWORD, in_app, login


def _switch_on(client):
    page = client.get("/two-step").get_data(as_text=True)
    key = re.search(r'<code class="key">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    assert "otpauth://totp/" in page
    response = client.post_form("/two-step", {"code": pyotp.TOTP(key).now()}, follow=True)
    assert "Two-step sign-in is on." in response.get_data(as_text=True)
    return key


def _next_code(key):
    """The code of the next 30-second step: the current one was spent switching two-step on."""
    return pyotp.TOTP(key).at(time.time() + 30)


def _code_step(client, code, htmx=False):
    return client.post_form("/login/two-step", {"code": code}, htmx=htmx)


def test_set_up_then_sign_in_needs_the_code(app, client, world):
    login(client, "margaretjones")
    key = _switch_on(client)
    fresh = app.test_client()
    response = login(fresh, "margaretjones")
    assert response.headers["Location"].endswith("/login/two-step")
    # Password alone does not open the portal.
    assert fresh.get("/dashboard").status_code == 302
    wrong = _code_step(fresh, "000000")
    assert wrong.status_code == 422
    assert "That code is not right." in wrong.get_data(as_text=True)
    right = _code_step(fresh, _next_code(key))
    assert right.status_code == 303
    assert fresh.get("/dashboard").status_code == 200


def test_a_code_cannot_be_used_twice(app, client, world):
    login(client, "margaretjones")
    key = _switch_on(client)
    code = _next_code(key)
    first, second = app.test_client(), app.test_client()
    login(first, "margaretjones")
    login(second, "margaretjones")
    assert _code_step(first, code).status_code == 303
    assert _code_step(second, code).status_code == 422


def test_htmx_code_step_redirects_the_whole_page(app, client, world):
    login(client, "margaretjones")
    key = _switch_on(client)
    fresh = app.test_client()
    login(fresh, "margaretjones")
    wrong = _code_step(fresh, "123", htmx=True)
    assert wrong.status_code == 422 and "<html" not in wrong.get_data(as_text=True)
    right = _code_step(fresh, _next_code(key), htmx=True)
    assert right.headers["HX-Redirect"] == "/dashboard"


def test_wrong_codes_pause_the_account(app, client, world):
    login(client, "margaretjones")
    _switch_on(client)
    fresh = app.test_client()
    login(fresh, "margaretjones")
    for _ in range(app.config["LOGIN_LOCK_THRESHOLD"]):
        assert _code_step(fresh, "000000").status_code == 422
    with in_app(app) as session:
        user = session.scalar(select(User).filter_by(username="margaretjones"))
        assert user.locked_until is not None
        reasons = session.scalars(select(AuditEvent.details).where(AuditEvent.action == "login.failed")).all()
    assert sum(1 for d in reasons if d.get("reason") == "two-step code") == app.config["LOGIN_LOCK_THRESHOLD"]


def test_code_page_without_a_password_goes_back_to_sign_in(client, world):
    response = client.get("/login/two-step")
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")


def test_switch_off_needs_the_password(app, client, world):
    login(client, "margaretjones")
    _switch_on(client)
    bad = client.post_form("/two-step", {"password": "not my password at all"})
    assert bad.status_code == 422 and "That is not your current password." in bad.get_data(as_text=True)
    good = client.post_form("/two-step", {"password": PASSWORD})
    assert good.status_code == 303
    assert login(app.test_client(), "margaretjones").headers["Location"].endswith("/dashboard")


def _require_for_staff(app, world):
    with in_app(app) as session:
        session.execute(update(Agency).where(Agency.id == world.a.id).values(staff_two_factor_required=True))
        session.commit()


def _enrolment_link(app, client, to="admin@example.com"):
    """Ask for the confirmation mail on the set-up page and return the link's path."""
    page = client.get("/two-step").get_data(as_text=True)
    assert "E-mail me the link" in page and 'class="key"' not in page
    sent = client.post_form("/two-step/confirm", token_from="/two-step", follow=True)
    assert f"We sent a link to {to}" in sent.get_data(as_text=True)
    with in_app(app) as session:
        mail = session.scalars(select(OutboxMail).where(OutboxMail.to_address == to)).one()
    assert mail.subject.startswith("Confirm: set up two-step sign-in")
    return re.search(r"http://alpha\.localhost(/two-step/confirm/\S+)", mail.body_text).group(1)


def test_agency_can_require_it_for_staff(app, client, world):
    _require_for_staff(app, world)
    login(client, "admin")
    response = client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/two-step")
    link = _enrolment_link(app, client)
    confirmed = client.get(link)
    assert confirmed.status_code == 303 and confirmed.headers["Location"].endswith("/two-step")
    _switch_on(client)
    assert client.get("/admin/").status_code == 200
    page = client.get("/two-step").get_data(as_text=True)
    assert "cannot be switched off here" in page
    # Portal users are not forced.
    family = app.test_client()
    login(family, "susanjones")
    assert family.get("/dashboard").status_code == 200


def test_required_enrolment_needs_the_mailed_link_not_just_the_password(app, client, world):
    """A password thief signed in as staff cannot enrol their own phone: no key is shown and a
    code for any key is refused until the link mailed to the account is opened."""
    _require_for_staff(app, world)
    login(client, "admin")
    guessed = pyotp.random_base32()
    with client.session_transaction(base_url=f"http://{HOST_A}") as session:
        session["totp_pending"] = guessed
    response = client.post_form("/two-step", {"code": pyotp.TOTP(guessed).now()})
    assert response.status_code == 422
    with in_app(app) as db_session:
        assert db_session.get(User, world.staff_a.id).totp_secret is None
    # Another user's link, or a link once the sessions it was sent to have ended, does not work.
    link = _enrolment_link(app, client)
    other = app.test_client()
    login(other, "margaretjones")
    assert other.get(link).status_code == 404
    client.post_form("/logout", token_from="/two-step")
    login(client, "admin")
    assert client.get(link).status_code == 404


def test_required_enrolment_without_an_email_says_ask_the_owner(app, client, world, make):
    _require_for_staff(app, world)
    make.user(world.a, "carolwhite", role="staff", name="Carol White", email=None)
    login(client, "carolwhite")
    sent = client.post_form("/two-step/confirm", token_from="/two-step", follow=True)
    assert "Ask the agency's owner to add one." in html.unescape(sent.get_data(as_text=True))


def test_wrong_passwords_when_switching_off_pause_the_account(app, client, world, monkeypatch):
    login(client, "margaretjones")
    _switch_on(client)
    token = client.csrf_token("/two-step")
    for _ in range(app.config["LOGIN_LOCK_THRESHOLD"]):
        client.post("/two-step", data={"csrf_token": token, "password": "wrong wrong wrong"})
    refused = client.post("/two-step", data={"csrf_token": token, "password": PASSWORD})
    assert refused.status_code == 422 and "account is paused" in refused.get_data(as_text=True)
    with in_app(app) as session:
        user = session.get(User, world.margaret.id)
        assert user.totp_secret is not None and user.locked_until is not None
    assert login(app.test_client(), "margaretjones").status_code == 422


def test_welcome_link_signs_in_only_after_the_code(app, client, world):
    from app.auth.tokens import make_token

    login(client, "margaretjones")
    key = _switch_on(client)
    with in_app(app) as session:
        token = make_token(session.get(User, world.margaret.id), "welcome")
    fresh = app.test_client()
    path = f"/welcome/{token}"
    new = "kettle orchard velvet lantern"
    response = fresh.post_form(path, {"new_password": new, "confirm_password": new})
    assert response.status_code == 303 and response.headers["Location"].endswith("/login/two-step")
    assert fresh.get("/dashboard").status_code == 302
    assert _code_step(fresh, _next_code(key)).status_code == 303
    assert fresh.get("/dashboard").status_code == 200
