"""Two-step sign-in (TOTP): set up, sign in with a code, no replay, staff requirement."""

import re
import time

import pyotp
from sqlalchemy import select, update

from app.models import Agency, AuditEvent, User
from tests.conftest import HOST_A, PASSWORD, csrf_token, in_app, login

H = {"Host": HOST_A}


def _switch_on(client):
    page = client.get("/two-step", headers=H).get_data(as_text=True)
    key = re.search(r'<code class="key">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    assert "otpauth://totp/" in page
    response = client.post(
        "/two-step",
        data={"csrf_token": csrf_token(client, "/two-step"), "code": pyotp.TOTP(key).now()},
        headers=H,
        follow_redirects=True,
    )
    assert "Two-step sign-in is on." in response.get_data(as_text=True)
    return key


def _next_code(key):
    """The code of the next 30-second step: the current one was spent switching two-step on."""
    return pyotp.TOTP(key).at(time.time() + 30)


def _code_step(client, code, htmx=False):
    token = csrf_token(client, "/login/two-step")
    headers = {**H, "HX-Request": "true", "X-CSRFToken": token} if htmx else H
    return client.post("/login/two-step", data={"csrf_token": token, "code": code}, headers=headers)


def test_set_up_then_sign_in_needs_the_code(app, client, world):
    login(client, "margaretjones")
    key = _switch_on(client)
    fresh = app.test_client()
    response = login(fresh, "margaretjones")
    assert response.headers["Location"].endswith("/login/two-step")
    # Password alone does not open the portal.
    assert fresh.get("/dashboard", headers=H).status_code == 302
    wrong = _code_step(fresh, "000000")
    assert wrong.status_code == 422
    assert "That code is not right." in wrong.get_data(as_text=True)
    right = _code_step(fresh, _next_code(key))
    assert right.status_code == 303
    assert fresh.get("/dashboard", headers=H).status_code == 200


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
    response = client.get("/login/two-step", headers=H)
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")


def test_switch_off_needs_the_password(app, client, world):
    login(client, "margaretjones")
    _switch_on(client)
    token = csrf_token(client, "/two-step")
    bad = client.post(
        "/two-step", data={"csrf_token": token, "password": "not my password at all"}, headers=H
    )
    assert bad.status_code == 422 and "That is not your password." in bad.get_data(as_text=True)
    good = client.post("/two-step", data={"csrf_token": token, "password": PASSWORD}, headers=H)
    assert good.status_code == 303
    assert login(app.test_client(), "margaretjones").headers["Location"].endswith("/dashboard")


def test_agency_can_require_it_for_staff(app, client, world):
    with in_app(app) as session:
        session.execute(update(Agency).where(Agency.id == world.a.id).values(staff_two_factor_required=True))
        session.commit()
    login(client, "admin")
    response = client.get("/admin/", headers=H)
    assert response.status_code == 302 and response.headers["Location"].endswith("/two-step")
    _switch_on(client)
    assert client.get("/admin/", headers=H).status_code == 200
    page = client.get("/two-step", headers=H).get_data(as_text=True)
    assert "cannot be switched off here" in page
    # Portal users are not forced.
    family = app.test_client()
    login(family, "susanjones")
    assert family.get("/dashboard", headers=H).status_code == 200
