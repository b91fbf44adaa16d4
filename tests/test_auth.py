"""Sign-in, sessions, one-time links and self-service reset, seen from the browser.

Every flow is exercised as a plain form post (following the redirect, as a browser without
JavaScript would) and as an htmx request (HX-Request plus the X-CSRFToken header), whose answer
is a fragment or an HX-Redirect, never a whole page.
"""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous.timed import TimestampSigner
from sqlalchemy import select, text

from app.auth.tokens import make_token
from app.blueprints.auth.forms import QUESTIONS
from app.models import Agency, AuditEvent, OutboxMail, User, utcnow
from app.services.audit import verify_chain
from tests.conftest import HOST_A, HOST_B, PASSWORD, deliver_resets, get_one, in_app, login, set_columns

NEW_PASSWORD = "kettle orchard velvet lantern"
TOKEN_VALUE_RE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+|("X-CSRFToken": ")[^"]+')


# --- helpers -------------------------------------------------------------------------------------


def hx_login(client, username, password=PASSWORD):
    return client.post_form("/login", {"username": username, "password": password}, htmx=True)


def path_of(location: str) -> str:
    return urlsplit(location).path


def assert_fragment(response):
    body = response.get_data(as_text=True)
    assert "<html" not in body and "<body" not in body, body[:200]
    return body


def assert_signed_in(client, host=HOST_A):
    response = client.get("/dashboard", host=host)
    assert response.status_code == 200, response.location
    return response


def assert_signed_out(client, host=HOST_A, path="/dashboard"):
    response = client.get(path, host=host)
    assert response.status_code == 302
    assert path_of(response.location) == "/login"
    return response


def audit_actions(app, actor_id=None):
    with in_app(app) as session:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if actor_id is not None:
            query = query.where(AuditEvent.actor_id == actor_id)
        return [(e.action, e.details) for e in session.scalars(query)]


def outbox(app):
    with in_app(app) as session:
        rows = session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        session.expunge_all()
        return rows


def token_for(app, user_id, purpose, age=None, monkeypatch=None):
    """A one-time link token, made now or (with `age`) as if issued `age` ago."""
    with in_app(app) as session:
        user = session.get(User, user_id)
        if age is None:
            return make_token(user, purpose)
        issued = int((utcnow() - age).timestamp())
        with monkeypatch.context() as patch:
            patch.setattr(TimestampSigner, "get_timestamp", lambda self: issued)
            return make_token(user, purpose)


def session_of(client, host=HOST_A):
    """The signed session cookie this client holds for the agency's host, opened for editing."""
    return client.session_transaction(base_url=f"http://{host}")


def field_tag(html: str, name: str) -> str:
    match = re.search(rf'<(?:input|select)[^>]*name="{name}"[^>]*>', html)
    assert match, f"no field {name}"
    return match.group(0)


def assert_field_error(html: str, name: str, message: str):
    """The message sits next to the field, which is marked invalid and points at it."""
    tag = field_tag(html, name)
    assert 'aria-invalid="true"' in tag, tag
    assert f'aria-describedby="{name}-error"' in tag or f'{name}-error"' in tag, tag
    assert re.search(rf'<p id="{name}-error" class="error">[^<]*{re.escape(message)}', html), message


def without_tokens(html: str) -> str:
    return TOKEN_VALUE_RE.sub(r"\1\2", html)


def choose(password=NEW_PASSWORD, **extra):
    return {"new_password": password, "confirm_password": password, **extra}


# --- signing in ------------------------------------------------------------------------------------


def test_login_page_shows_the_form(client, world):
    response = client.get("/login")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="username"' in body and 'name="password"' in body
    assert 'autocomplete="current-password"' in body
    assert "<html" in body


def test_login_success_opens_the_dashboard(client, world):
    response = login(client, "margaretjones", follow=True)
    assert response.status_code == 200
    assert response.request.path == "/dashboard"
    assert "My Alpha Home Care" in response.get_data(as_text=True)
    assert get_one(app=client.application, model=User, id=world.margaret.id).last_login_at is not None


def test_login_name_is_case_insensitive_and_trimmed(client, world):
    response = login(client, "  MargaretJones ")
    assert response.status_code == 303
    assert_signed_in(client)


def test_login_success_with_htmx_redirects_the_whole_page(client, world):
    response = hx_login(client, "margaretjones")
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/dashboard"
    assert assert_fragment(response) == ""
    assert_signed_in(client)


def test_unknown_name_and_wrong_password_get_the_identical_answer(client, world):
    unknown = login(client, "nosuchperson", "some wrong password")
    wrong = login(client, "margaretjones", "some wrong password")
    assert unknown.status_code == wrong.status_code == 422
    unknown_body = without_tokens(unknown.get_data(as_text=True)).replace("nosuchperson", "NAME")
    wrong_body = without_tokens(wrong.get_data(as_text=True)).replace("margaretjones", "NAME")
    assert unknown_body == wrong_body
    assert "That login name and password do not match." in wrong_body
    assert 'role="alert"' in wrong_body
    assert_signed_out(client)


def test_unknown_name_and_wrong_password_get_the_identical_htmx_fragment(client, world):
    unknown = hx_login(client, "nosuchperson", "some wrong password")
    wrong = hx_login(client, "margaretjones", "some wrong password")
    assert unknown.status_code == wrong.status_code == 422
    unknown_body = without_tokens(assert_fragment(unknown)).replace("nosuchperson", "NAME")
    wrong_body = without_tokens(assert_fragment(wrong)).replace("margaretjones", "NAME")
    assert unknown_body == wrong_body
    assert 'id="login-form"' in wrong_body
    assert "That login name and password do not match." in wrong_body


def test_failed_sign_ins_are_audited(client, world):
    login(client, "nosuchperson", "some wrong password")
    login(client, "margaretjones", "some wrong password")
    with in_app(client.application) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "login.failed")).all()
        assert [(e.actor_id, e.agency_id, e.details["reason"]) for e in events] == [
            (None, world.a.id, "unknown"),
            (world.margaret.id, world.a.id, "password"),
        ]
        assert events[0].details["username"] == "nosuchperson"
        assert all(e.ip_address == "127.0.0.1" for e in events)
    assert get_one(client.application, User, id=world.margaret.id).failed_logins == 1


def test_successful_sign_in_is_audited_and_resets_the_failure_count(client, world):
    login(client, "margaretjones", "some wrong password")
    login(client, "margaretjones")
    assert ("login.success", {}) in audit_actions(client.application, world.margaret.id)
    assert get_one(client.application, User, id=world.margaret.id).failed_logins == 0


def test_empty_fields_are_refused_next_to_the_field(client, world):
    response = client.post_form("/login", {"username": "", "password": ""})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter your login name." in body and "Enter your password." in body
    assert body.count('aria-invalid="true"') == 2


def test_user_of_agency_a_cannot_sign_in_on_agency_b(client, world):
    response = login(client, "margaretjones", host=HOST_B)
    assert response.status_code == 422
    assert "That login name and password do not match." in response.get_data(as_text=True)
    assert_signed_out(client, HOST_B)
    # The same account on its own host works.
    assert login(client, "margaretjones", host=HOST_A).status_code == 303


def test_staff_of_agency_a_cannot_sign_in_on_agency_b_with_a_password(client, world):
    # Both agencies have an "admin"; A's password is not B's.
    set_columns(client.application, User, world.staff_b.id, password_hash=None)
    assert login(client, "admin", host=HOST_B).status_code == 422
    assert login(client, "admin", host=HOST_A).status_code == 303


def test_session_of_agency_a_does_not_carry_over_to_agency_b(client, world):
    login(client, "margaretjones")
    cookie = client.get_cookie("session", domain=HOST_A)
    assert cookie is not None
    client.set_cookie("session", cookie.value, domain=HOST_B)
    assert_signed_out(client, HOST_B)


def test_staff_sign_in_lands_in_the_admin_area(client, world):
    response = login(client, "admin", follow=True)
    assert response.status_code == 200
    assert response.request.path == "/admin/"
    assert "Alpha Home Care — office" in response.get_data(as_text=True)


def test_portal_user_gets_404_in_the_admin_area(client, world):
    login(client, "margaretjones")
    assert client.get("/admin/").status_code == 404


def test_signed_in_user_opening_login_goes_to_the_dashboard(client, world):
    login(client, "margaretjones")
    response = client.get("/login")
    assert response.status_code == 302 and path_of(response.location) == "/dashboard"


def test_anonymous_page_request_is_sent_to_login_and_back(client, world):
    response = client.get("/schedule?view=week")
    assert response.status_code == 302
    location = urlsplit(response.location)
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/schedule?view=week"]
    back = client.post_form(response.location, {"username": "margaretjones", "password": PASSWORD})
    assert back.status_code == 303
    assert back.location == "/schedule?view=week"


def test_anonymous_htmx_request_gets_401_and_hx_redirect(client, world):
    response = client.get("/dashboard", htmx=True)
    assert response.status_code == 401
    assert path_of(response.headers["HX-Redirect"]) == "/login"


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "https://evil.example/", "/\\evil.example/", "\\\\evil.example", "/\t/evil.example"],
)
def test_next_never_leads_off_site(client, world, target):
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"username": "margaretjones", "password": PASSWORD, "csrf_token": client.csrf_token()},
    )
    assert response.status_code == 303
    assert response.location == "/dashboard"


def test_staff_locked_account_cannot_sign_in(client, world):
    set_columns(client.application, User, world.margaret.id, is_locked=True)
    response = login(client, "margaretjones")
    assert response.status_code == 422
    assert "That login name and password do not match." in response.get_data(as_text=True)


def test_inactive_account_cannot_sign_in(client, world):
    set_columns(client.application, User, world.margaret.id, is_active=False)
    assert login(client, "margaretjones").status_code == 422


# --- pausing an account after wrong passwords ----------------------------------------------------


def test_repeated_wrong_passwords_pause_the_account(client, world, app):
    threshold = app.config["LOGIN_LOCK_THRESHOLD"]
    assert threshold == 5
    for _ in range(threshold):
        assert login(client, "margaretjones", "not the password at all").status_code == 422
    user = get_one(app, User, id=world.margaret.id)
    assert user.failed_logins == threshold
    assert user.locked_until is not None
    pause = user.locked_until - utcnow()
    assert timedelta(seconds=50) < pause <= timedelta(seconds=app.config["LOGIN_LOCK_BASE_SECONDS"])

    # Even the right password fails now, with the very same message.
    paused = login(client, "margaretjones")
    wrong = login(client, "margaretjones", "not the password at all")
    assert paused.status_code == wrong.status_code == 422
    assert without_tokens(paused.get_data(as_text=True)) == without_tokens(wrong.get_data(as_text=True))
    assert_signed_out(client)

    actions = [a for a, _ in audit_actions(app, world.margaret.id)]
    assert actions.count("account.paused") == 1
    assert actions.count("login.failed") == threshold + 2
    reasons = [d.get("reason") for a, d in audit_actions(app, world.margaret.id) if a == "login.failed"]
    assert reasons == ["password"] * threshold + ["paused", "paused"]


def test_paused_account_pauses_for_the_same_answer_via_htmx(client, world, app):
    set_columns(app, User, world.margaret.id, failed_logins=5, locked_until=utcnow() + timedelta(minutes=1))
    response = hx_login(client, "margaretjones")
    assert response.status_code == 422
    body = assert_fragment(response)
    assert "That login name and password do not match." in body
    assert "HX-Redirect" not in response.headers


def test_pause_ends_and_then_doubles(client, world, app):
    set_columns(app, User, world.margaret.id, failed_logins=5, locked_until=utcnow() - timedelta(seconds=1))
    # One more wrong password after the pause: twice as long this time.
    login(client, "margaretjones", "not the password at all")
    user = get_one(app, User, id=world.margaret.id)
    assert timedelta(seconds=110) < user.locked_until - utcnow() <= timedelta(seconds=120)

    # Once the pause is over the right password works and clears the count.
    set_columns(app, User, world.margaret.id, locked_until=utcnow() - timedelta(seconds=1))
    assert login(client, "margaretjones").status_code == 303
    user = get_one(app, User, id=world.margaret.id)
    assert user.failed_logins == 0 and user.locked_until is None


def test_pausing_one_account_leaves_others_alone(client, world, app):
    set_columns(app, User, world.margaret.id, failed_logins=5, locked_until=utcnow() + timedelta(minutes=5))
    assert login(client, "haroldsmith").status_code == 303


# --- rate limit per address ----------------------------------------------------------------------


def test_login_posts_are_rate_limited_per_address(client, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "3 per minute")
    for _ in range(3):
        assert login(client, "nosuchperson", "some wrong password").status_code == 422
    limited = login(client, "margaretjones")
    assert limited.status_code == 429
    assert "Too many attempts" in limited.get_data(as_text=True)
    assert "Retry-After" in limited.headers
    assert_signed_out(client)
    # The page itself still opens; only posting is limited.
    assert client.get("/login").status_code == 200

    # Another address is counted on its own.
    other = client.application.test_client()
    other.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert login(other, "margaretjones").status_code == 303


def test_rate_limit_answer_to_htmx_is_a_fragment(client, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "1 per minute")
    assert hx_login(client, "margaretjones", "wrong password here").status_code == 422
    limited = hx_login(client, "margaretjones")
    assert limited.status_code == 429
    assert "Too many attempts" in assert_fragment(limited)


def test_forgot_password_posts_are_rate_limited(client, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "2 per minute")
    for _ in range(2):
        assert client.post_form("/password/forgot", {"username": "margaretjones"}).status_code == 303
    assert client.post_form("/password/forgot", {"username": "margaretjones"}).status_code == 429
    assert deliver_resets(app) == 2
    assert len(outbox(app)) == 2


# --- temporary password: must be changed first ---------------------------------------------------


@pytest.fixture
def dorothy(make, world):
    user = make.user(world.a, "dorothyparker", name="Dorothy Parker", must_change_password=True)
    make.link(user, make.client(world.a, "Dorothy Parker"), "self")
    return user


def test_temporary_password_leads_straight_to_choose_your_password(client, dorothy):
    response = login(client, "dorothyparker", follow=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.request.path == "/password/change"
    assert "Choose your password" in body
    assert "replace the temporary password" in body
    assert "Please choose your own password before you continue." in body


@pytest.mark.parametrize(
    "path", ["/dashboard", "/", "/schedule", "/invoices", "/messages", "/profile/contact"]
)
def test_temporary_password_blocks_every_portal_url(client, dorothy, path):
    login(client, "dorothyparker")
    response = client.get(path)
    assert response.status_code == 302
    assert response.location == "/password/change"


def test_temporary_password_blocks_htmx_requests_with_hx_redirect(client, dorothy):
    login(client, "dorothyparker")
    response = client.get("/dashboard", htmx=True)
    assert response.headers["HX-Redirect"] == "/password/change"
    assert assert_fragment(response) == ""


def test_temporary_password_user_may_still_sign_out(client, dorothy):
    login(client, "dorothyparker")
    response = client.post_form("/logout", {}, token_from="/password/change", follow=True)
    assert response.request.path == "/login"
    assert "You have signed out." in response.get_data(as_text=True)


def test_temporary_password_must_be_replaced_by_a_good_one(client, dorothy, app):
    login(client, "dorothyparker")
    weak = client.post_form("/password/change", {"current_password": PASSWORD, **choose("short one")})
    assert weak.status_code == 422
    assert "Use at least 15 characters." in weak.get_data(as_text=True)
    assert client.get("/dashboard").location == "/password/change"

    # The temporary password itself is not allowed to stay.
    same = client.post_form("/password/change", {"current_password": PASSWORD, **choose(PASSWORD)})
    assert same.status_code == 422
    assert "different" in same.get_data(as_text=True).lower()

    done = client.post_form("/password/change", {"current_password": PASSWORD, **choose()}, follow=True)
    assert done.status_code == 200
    assert done.request.path == "/dashboard"
    assert "Your password has been changed." in done.get_data(as_text=True)
    assert_signed_in(client)
    user = get_one(app, User, id=dorothy.id)
    assert user.must_change_password is False
    assert user.password_changed_at is not None
    assert ("password.changed", {"how": "change"}) in audit_actions(app, dorothy.id)


def test_temporary_password_change_by_htmx(client, dorothy):
    login(client, "dorothyparker")
    weak = client.post_form(
        "/password/change", {"current_password": PASSWORD, **choose("short one")}, htmx=True
    )
    assert weak.status_code == 422
    body = assert_fragment(weak)
    assert 'id="password-form"' in body and "Use at least 15 characters." in body

    done = client.post_form("/password/change", {"current_password": PASSWORD, **choose()}, htmx=True)
    assert done.status_code == 200
    assert done.headers["HX-Redirect"] == "/dashboard"
    assert_signed_in(client)


def test_new_password_works_and_old_one_does_not(client, dorothy):
    login(client, "dorothyparker")
    client.post_form("/password/change", {"current_password": PASSWORD, **choose()})
    other = client.application.test_client()
    assert login(other, "dorothyparker", PASSWORD).status_code == 422
    assert login(other, "dorothyparker", NEW_PASSWORD).status_code == 303


def test_change_password_needs_the_current_one(client, world, app):
    login(client, "margaretjones")
    response = client.post_form("/password/change", {"current_password": "not my password", **choose()})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert_field_error(body, "current_password", "That is not your current password.")
    assert ("password.change_failed", {}) in audit_actions(app, world.margaret.id)
    assert login(app.test_client(), "margaretjones", PASSWORD).status_code == 303


def test_change_password_page_needs_sign_in(client, world):
    assert_signed_out(client, path="/password/change")


# --- ending sessions on the server ---------------------------------------------------------------


def two_sessions(app, username="margaretjones"):
    first, second = app.test_client(), app.test_client()
    assert login(first, username).status_code == 303
    assert login(second, username).status_code == 303
    return first, second


def test_password_change_ends_the_other_sessions(app, world):
    here, elsewhere = two_sessions(app)
    done = here.post_form("/password/change", {"current_password": PASSWORD, **choose()})
    assert done.status_code == 303
    assert_signed_in(here)
    assert_signed_out(elsewhere)


def test_password_change_by_htmx_ends_the_other_sessions(app, world):
    here, elsewhere = two_sessions(app)
    assert (
        here.post_form("/password/change", {"current_password": PASSWORD, **choose()}, htmx=True).status_code
        == 200
    )
    assert_signed_in(here)
    assert_signed_out(elsewhere)


def test_sign_out_ends_every_session_of_the_user(app, world):
    here, elsewhere = two_sessions(app)
    other_person = app.test_client()
    login(other_person, "haroldsmith")
    response = here.post_form("/logout", {}, token_from="/dashboard", follow=True)
    assert response.request.path == "/login"
    assert "You have signed out." in response.get_data(as_text=True)
    assert_signed_out(here)
    assert_signed_out(elsewhere)
    assert_signed_in(other_person)
    assert ("logout", {}) in audit_actions(app, world.margaret.id)


def test_sign_out_by_htmx_ends_every_session(app, world):
    here, elsewhere = two_sessions(app)
    response = here.post_form("/logout", {}, token_from="/dashboard", htmx=True)
    assert response.headers["HX-Redirect"] == "/login"
    assert_signed_out(here)
    assert_signed_out(elsewhere)


def test_sign_out_is_post_only(client, world):
    login(client, "margaretjones")
    assert client.get("/logout").status_code == 405
    assert_signed_in(client)


def test_staff_lock_ends_every_session(app, world):
    here, elsewhere = two_sessions(app)
    set_columns(app, User, world.margaret.id, is_locked=True)
    assert_signed_out(here)
    assert_signed_out(elsewhere)
    htmx = app.test_client().get("/dashboard", htmx=True)
    assert htmx.status_code == 401


def test_idle_session_is_signed_out(client, world):
    login(client, "margaretjones")
    with session_of(client) as s:
        s["seen_at"] -= 16 * 60
    response = client.get("/dashboard", follow_redirects=True)
    assert response.request.path == "/login"
    assert "signed out after a period of inactivity" in response.get_data(as_text=True)
    assert_signed_out(client)


def test_idle_session_htmx_request_gets_401(client, world):
    login(client, "margaretjones")
    with session_of(client) as s:
        s["seen_at"] -= 16 * 60
    response = client.get("/dashboard", htmx=True)
    assert response.status_code == 401
    assert path_of(response.headers["HX-Redirect"]) == "/login"


def test_activity_keeps_the_session_alive(client, world):
    login(client, "margaretjones")
    with session_of(client) as s:
        s["seen_at"] -= 14 * 60
    assert_signed_in(client)
    with session_of(client) as s:
        s["seen_at"] -= 14 * 60  # 28 minutes since sign-in, but only 14 idle
    assert_signed_in(client)


def test_idle_time_out_is_the_agencys_setting(client, world, app):
    set_columns(app, Agency, world.a.id, session_idle_minutes=30)
    login(client, "margaretjones")
    with session_of(client) as s:
        s["seen_at"] -= 20 * 60
    assert_signed_in(client)
    with session_of(client) as s:
        s["seen_at"] -= 31 * 60
    assert_signed_out(client)


def test_session_ends_after_twelve_hours_however_active(client, world):
    login(client, "margaretjones")
    with session_of(client) as s:
        s["signed_in_at"] -= 12 * 3600 + 1
    response = client.get("/dashboard", follow_redirects=True)
    assert response.request.path == "/login"
    assert "Your session ended after 12 hours." in response.get_data(as_text=True)
    assert_signed_out(client)


def test_session_just_under_twelve_hours_still_works(client, world):
    login(client, "margaretjones")
    with session_of(client) as s:
        s["signed_in_at"] -= 12 * 3600 - 60
    assert_signed_in(client)


def test_background_poll_does_not_count_as_activity(client, world, app):
    poll_url = "/messages/unread-count"  # the header's badge, polled every minute
    login(client, "margaretjones")
    with session_of(client) as s:
        s["seen_at"] -= 10 * 60
        seen_before = s["seen_at"]
    assert client.get(poll_url, htmx=True).status_code == 200
    with session_of(client) as s:
        assert s["seen_at"] == seen_before
        s["seen_at"] -= 6 * 60
    assert_signed_out(client)


def test_session_cookie_is_replaced_at_sign_in(client, world):
    # Whatever the session held before sign-in (a fixed session) does not carry over.
    client.get("/login")
    with session_of(client) as s:
        s["planted"] = "by an attacker"
    login(client, "margaretjones")
    with session_of(client) as s:
        assert "planted" not in s


# --- welcome link (first sign-in from the credentials mail) --------------------------------------


def test_welcome_link_shows_choose_your_password(client, world, app):
    token = token_for(app, world.margaret.id, "welcome")
    response = client.get(f"/welcome/{token}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Welcome, Margaret" in body
    assert "Your login name is margaretjones. Choose your password to finish." in body
    assert 'name="new_password"' in body and 'name="current_password"' not in body


def test_welcome_link_sets_the_password_and_signs_in(client, world, app):
    token = token_for(app, world.margaret.id, "welcome")
    response = client.post_form(f"/welcome/{token}", choose(), follow=True)
    assert response.status_code == 200
    assert response.request.path == "/dashboard"
    assert "Welcome! Your password is set." in response.get_data(as_text=True)
    assert login(app.test_client(), "margaretjones", NEW_PASSWORD).status_code == 303
    actions = audit_actions(app, world.margaret.id)
    assert ("password.changed", {"how": "welcome link"}) in actions
    assert ("token.used", {"purpose": "welcome"}) in actions


def test_welcome_link_works_once(client, world, app):
    token = token_for(app, world.margaret.id, "welcome")
    assert client.post_form(f"/welcome/{token}", choose()).status_code == 303
    again = app.test_client().get(f"/welcome/{token}")
    assert again.status_code == 404
    assert "This link no longer works" in again.get_data(as_text=True)
    # Posting to the used link changes nothing either.
    stranger = app.test_client()
    replay = stranger.post_form(
        f"/welcome/{token}", choose("someone else entirely here"), token_from="/login"
    )
    assert replay.status_code == 404
    assert login(app.test_client(), "margaretjones", NEW_PASSWORD).status_code == 303


def test_welcome_link_by_htmx(client, world, app):
    token = token_for(app, world.margaret.id, "welcome")
    weak = client.post_form(f"/welcome/{token}", choose("passwordstandard"), htmx=True)
    assert weak.status_code == 422
    body = assert_fragment(weak)
    assert "common or breached" in body
    done = client.post_form(f"/welcome/{token}", choose(), htmx=True)
    assert done.status_code == 200
    assert done.headers["HX-Redirect"] == "/dashboard"
    assert_signed_in(client)


def test_welcome_link_refuses_a_weak_password_and_stays_usable(client, world, app):
    token = token_for(app, world.margaret.id, "welcome")
    weak = client.post_form(f"/welcome/{token}", choose("margaretjones rules"))
    assert weak.status_code == 422
    assert "Do not use your login name" in weak.get_data(as_text=True)
    assert client.get(f"/welcome/{token}").status_code == 200


def test_welcome_link_expires_after_a_day(client, world, app, monkeypatch):
    fresh = token_for(app, world.margaret.id, "welcome", age=timedelta(hours=23), monkeypatch=monkeypatch)
    assert client.get(f"/welcome/{fresh}").status_code == 200
    stale = token_for(
        app, world.margaret.id, "welcome", age=timedelta(hours=24, minutes=1), monkeypatch=monkeypatch
    )
    response = client.get(f"/welcome/{stale}")
    assert response.status_code == 404
    assert "This link no longer works" in response.get_data(as_text=True)


def test_welcome_link_of_agency_b_fails_on_agency_a(client, world, app):
    token = token_for(app, world.alice.id, "welcome")
    response = client.get(f"/welcome/{token}")
    assert response.status_code == 404
    assert "Alice" not in response.get_data(as_text=True)
    assert client.get(f"/welcome/{token}", host=HOST_B).status_code == 200


def test_tampered_or_other_purpose_tokens_fail(client, world, app):
    welcome = token_for(app, world.margaret.id, "welcome")
    reset = token_for(app, world.margaret.id, "reset")
    assert client.get(f"/welcome/{reset}").status_code == 404
    assert client.get(f"/password/reset/{welcome}").status_code == 404
    assert client.get(f"/welcome/{welcome[:-2]}xx").status_code == 404
    assert client.get("/welcome/not-a-token").status_code == 404


def test_password_change_kills_outstanding_links(client, world, app):
    token = token_for(app, world.margaret.id, "welcome")
    login(client, "margaretjones")
    client.post_form("/password/change", {"current_password": PASSWORD, **choose()})
    assert app.test_client().get(f"/welcome/{token}").status_code == 404


def test_links_stop_working_when_staff_lock_the_account(client, world, app):
    welcome = token_for(app, world.margaret.id, "welcome")
    reset = token_for(app, world.margaret.id, "reset")
    set_columns(app, User, world.margaret.id, is_locked=True)
    assert client.get(f"/welcome/{welcome}").status_code == 404
    assert client.get(f"/password/reset/{reset}").status_code == 404


def test_welcome_link_for_a_deactivated_account_fails(client, world, app):
    token = token_for(app, world.margaret.id, "welcome")
    set_columns(app, User, world.margaret.id, is_active=False)
    assert client.get(f"/welcome/{token}").status_code == 404


# --- forgot password: e-mail link ----------------------------------------------------------------


def reset_link(app, to_address):
    mails = [m for m in outbox(app) if m.to_address == to_address]
    assert len(mails) == 1, mails
    match = re.search(r"https?://\S+/password/reset/\S+", mails[0].body_text)
    assert match, mails[0].body_text
    return urlsplit(match.group(0)).path


def forgot(client, username, **extra):
    """Ask for a reset link, then let the mail worker answer the queued request."""
    response = client.post_form(
        "/password/forgot", {"username": username, "method": "email", **extra}, follow=True
    )
    deliver_resets(client.application)
    return response


def test_forgot_page_offers_the_email_link(client, world):
    body = client.get("/password/forgot").get_data(as_text=True)
    assert "E-mail me a reset link" in body
    assert "security question" not in body.lower()


def test_forgot_password_mails_a_reset_link(client, world, app):
    response = forgot(client, "margaretjones")
    assert response.request.path == "/login"
    assert "we have sent a link to reset the password" in response.get_data(as_text=True)
    mails = outbox(app)
    assert [m.to_address for m in mails] == ["margaretjones@example.com"]
    assert mails[0].agency_id == world.a.id
    assert mails[0].subject == "Reset your Alpha Home Care portal password"
    assert "http://alpha.localhost/password/reset/" in mails[0].body_text
    assert ("password.reset_requested", {}) in audit_actions(app, world.margaret.id)


def test_forgot_password_answers_the_same_for_unknown_names(client, world, app):
    known = forgot(client, "margaretjones")
    unknown = forgot(app.test_client(), "nosuchperson")
    assert known.status_code == unknown.status_code == 200
    assert known.request.path == unknown.request.path == "/login"
    assert without_tokens(known.get_data(as_text=True)) == without_tokens(unknown.get_data(as_text=True))
    assert [m.to_address for m in outbox(app)] == ["margaretjones@example.com"]


def test_forgot_password_without_email_sends_nothing_and_says_the_same(client, world, app, make):
    make.user(world.a, "noemail", email=None)
    known = forgot(client, "margaretjones")
    no_email = forgot(app.test_client(), "noemail")
    assert without_tokens(known.get_data(as_text=True)) == without_tokens(no_email.get_data(as_text=True))
    assert len(outbox(app)) == 1


def test_forgot_password_of_another_agency_sends_nothing(client, world, app):
    forgot(client, "alicebrown")  # alice lives on host B
    assert outbox(app) == []


def test_forgot_password_by_htmx(client, world, app):
    empty = client.post_form("/password/forgot", {"username": ""}, htmx=True)
    assert empty.status_code == 422
    body = assert_fragment(empty)
    assert 'id="forgot-form"' in body and "Enter your login name." in body
    done = client.post_form("/password/forgot", {"username": "margaretjones", "method": "email"}, htmx=True)
    assert done.headers["HX-Redirect"] == "/login"
    deliver_resets(app)
    assert len(outbox(app)) == 1


def test_reset_link_sets_a_new_password_once(client, world, app):
    forgot(client, "margaretjones")
    path = reset_link(app, "margaretjones@example.com")
    page = client.get(path)
    assert page.status_code == 200
    assert "Choose a new password" in page.get_data(as_text=True)
    done = client.post_form(path, choose(), follow=True)
    assert done.request.path == "/login"
    assert "Your password has been reset. Please sign in with it." in done.get_data(as_text=True)
    assert login(app.test_client(), "margaretjones", PASSWORD).status_code == 422
    assert login(app.test_client(), "margaretjones", NEW_PASSWORD).status_code == 303
    again = app.test_client().get(path)
    assert again.status_code == 404
    assert "This link no longer works" in again.get_data(as_text=True)
    actions = audit_actions(app, world.margaret.id)
    assert ("password.changed", {"how": "reset link"}) in actions
    assert ("token.used", {"purpose": "reset"}) in actions


def test_reset_link_by_htmx(client, world, app):
    forgot(client, "margaretjones")
    path = reset_link(app, "margaretjones@example.com")
    mismatch = client.post_form(
        path, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD + "x"}, htmx=True
    )
    assert mismatch.status_code == 422
    assert "The two passwords differ." in assert_fragment(mismatch)
    done = client.post_form(path, choose(), htmx=True)
    assert done.headers["HX-Redirect"] == "/login"
    assert client.get(path).status_code == 404


def test_reset_ends_every_session(client, world, app):
    signed_in = app.test_client()
    login(signed_in, "margaretjones")
    forgot(client, "margaretjones")
    client.post_form(reset_link(app, "margaretjones@example.com"), choose())
    assert_signed_out(signed_in)


def test_reset_clears_a_paused_account(client, world, app):
    set_columns(app, User, world.margaret.id, failed_logins=9, locked_until=utcnow() + timedelta(hours=2))
    forgot(client, "margaretjones")
    client.post_form(reset_link(app, "margaretjones@example.com"), choose())
    assert login(app.test_client(), "margaretjones", NEW_PASSWORD).status_code == 303


def test_reset_link_expires_after_an_hour(client, world, app, monkeypatch):
    fresh = token_for(app, world.margaret.id, "reset", age=timedelta(minutes=59), monkeypatch=monkeypatch)
    assert client.get(f"/password/reset/{fresh}").status_code == 200
    stale = token_for(app, world.margaret.id, "reset", age=timedelta(minutes=61), monkeypatch=monkeypatch)
    response = client.get(f"/password/reset/{stale}")
    assert response.status_code == 404
    assert "This link no longer works" in response.get_data(as_text=True)


def test_reset_link_of_agency_b_fails_on_agency_a(client, world, app):
    token = token_for(app, world.alice.id, "reset")
    assert client.get(f"/password/reset/{token}").status_code == 404
    assert client.get(f"/password/reset/{token}", host=HOST_B).status_code == 200


# --- forgot password: security question (only where the agency allows it) -----------------------

QUESTION = "What was the name of your first pet?"


@pytest.fixture
def questions_on(app, world):
    set_columns(app, Agency, world.a.id, security_questions_enabled=True)
    return world


def set_question(app, user_id, answer="Mister Whiskers"):
    from app.auth.passwords import hash_secret
    from app.blueprints.auth.services import normalise_answer

    with app.app_context():
        answer_hash = hash_secret(normalise_answer(answer))
    set_columns(app, User, user_id, security_question=QUESTION, security_answer_hash=answer_hash)


def answer(client, username, text_answer):
    path = f"/password/forgot/question?username={username}"
    return client.post_form(path, {"username": username, "answer": text_answer}, token_from="/login")


def test_first_password_change_asks_for_a_security_question(client, questions_on, make, app):
    user = make.user(questions_on.a, "dorothyparker", name="Dorothy Parker", must_change_password=True)
    login(client, "dorothyparker")
    page = client.get("/password/change").get_data(as_text=True)
    assert "Security question" in page and 'name="security_answer"' in page
    done = client.post_form(
        "/password/change",
        {
            "current_password": PASSWORD,
            **choose(),
            "security_question": QUESTION,
            "security_answer": "Mister Whiskers",
        },
    )
    assert done.status_code == 303
    stored = get_one(app, User, id=user.id)
    assert stored.security_question == QUESTION
    assert stored.security_answer_hash and "whiskers" not in stored.security_answer_hash.lower()
    assert ("security_question.set", {}) in audit_actions(app, user.id)
    # Once set, the change form no longer asks.
    assert 'name="security_answer"' not in client.get("/password/change").get_data(as_text=True)


def test_a_chosen_question_needs_an_answer(client, questions_on, make):
    make.user(questions_on.a, "dorothyparker", name="Dorothy Parker", must_change_password=True)
    login(client, "dorothyparker")
    response = client.post_form(
        "/password/change",
        {"current_password": PASSWORD, **choose(), "security_question": QUESTION, "security_answer": ""},
    )
    assert response.status_code == 422
    assert "Give an answer of at least 3 characters." in response.get_data(as_text=True)


def test_an_answer_needs_a_question(client, questions_on, make):
    make.user(questions_on.a, "dorothyparker", name="Dorothy Parker", must_change_password=True)
    login(client, "dorothyparker")
    response = client.post_form(
        "/password/change",
        {"current_password": PASSWORD, **choose(), "security_question": "", "security_answer": "Whiskers"},
    )
    assert response.status_code == 422
    assert "Choose a security question." in response.get_data(as_text=True)


def test_question_is_not_asked_when_the_agency_has_it_off(client, world, make):
    make.user(world.a, "dorothyparker", name="Dorothy Parker", must_change_password=True)
    login(client, "dorothyparker")
    assert 'name="security_answer"' not in client.get("/password/change").get_data(as_text=True)


def test_forgot_with_question_shows_the_question(client, questions_on, app):
    set_question(app, questions_on.margaret.id)
    page = client.get("/password/forgot").get_data(as_text=True)
    assert "Answer my security question instead" in page
    response = client.post_form("/password/forgot", {"username": "margaretjones", "method": "question"})
    assert response.status_code == 303
    assert path_of(response.location) == "/password/forgot/question"
    assert parse_qs(urlsplit(response.location).query)["username"] == ["margaretjones"]
    shown = client.get(response.location)
    assert shown.status_code == 200
    assert QUESTION in shown.get_data(as_text=True)
    assert outbox(app) == []


def test_right_answer_leads_to_the_reset_page(client, questions_on, app):
    set_question(app, questions_on.margaret.id)
    response = answer(client, "margaretjones", "  mister   WHISKERS ")
    assert response.status_code == 303
    assert path_of(response.location).startswith("/password/reset/")
    page = client.get(response.location)
    assert page.status_code == 200 and "Choose a new password" in page.get_data(as_text=True)
    done = client.post_form(path_of(response.location), choose())
    assert done.status_code == 303
    assert login(app.test_client(), "margaretjones", NEW_PASSWORD).status_code == 303

    assert ("security_question.used", {}) in audit_actions(app, questions_on.margaret.id)
    mails = outbox(app)
    assert [m.to_address for m in mails] == ["office@alpha.localhost"]
    assert "margaretjones" in mails[0].body_text
    assert "Whiskers" not in mails[0].body_text


def test_wrong_answers_are_limited_audited_and_reported(client, questions_on, app):
    set_question(app, questions_on.margaret.id)
    limit = app.config["SECURITY_ANSWER_MAX_ATTEMPTS"]
    for _ in range(limit):
        wrong = answer(client, "margaretjones", "Fluffy")
        assert wrong.status_code == 422
        assert "That answer does not match." in wrong.get_data(as_text=True)
    # Now even the right answer is refused.
    refused = answer(client, "margaretjones", "Mister Whiskers")
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Too many wrong answers" in body
    assert "/password/reset/" not in (refused.location or "")
    assert get_one(app, User, id=questions_on.margaret.id).security_failed_attempts == limit
    actions = [a for a, _ in audit_actions(app, questions_on.margaret.id)]
    assert actions.count("security_question.failed") == limit
    assert "security_question.used" not in actions
    mails = outbox(app)
    assert len(mails) == limit and {m.to_address for m in mails} == {"office@alpha.localhost"}
    assert "answered wrongly" in mails[0].subject


def question_page(client, username, **params):
    """The question page as the login name would see it, with the name itself taken out."""
    response = client.get(f"/password/forgot/question?username={username}")
    return response.status_code, without_tokens(response.get_data(as_text=True)).replace(username, "NAME")


def asked(html: str) -> str:
    return re.search(r"<p><strong>([^<]+)</strong></p>", html).group(1)


def test_every_name_gets_the_same_looking_page(client, questions_on, app, make):
    """Registered question, unknown name, staff, no question yet: the same page, a question each."""
    set_question(app, questions_on.margaret.id)
    make.user(questions_on.a, "carolwhite", role="staff", name="Carol White")
    set_columns(app, User, questions_on.staff_a.id, security_question=QUESTION, security_answer_hash="x")
    pages = {
        name: question_page(client, name)
        for name in ("margaretjones", "nosuchperson", "carolwhite", "admin", "haroldsmith")
    }
    questions = set()
    for name, (status, html) in pages.items():
        assert status == 200, name
        questions.add(asked(html))
        assert asked(html) in {q for q in QUESTIONS}, name
        skeleton = html.replace(asked(html), "QUESTION")
        assert skeleton == pages["margaretjones"][1].replace(QUESTION, "QUESTION"), name
    # A decoy is stable: the same name is asked the same question every time.
    assert question_page(app.test_client(), "nosuchperson") == pages["nosuchperson"]


def test_staff_are_never_offered_their_question(client, questions_on, app):
    set_question(app, questions_on.staff_a.id)
    for _ in range(2):
        response = answer(client, "admin", "Mister Whiskers")
        assert response.status_code == 422
        assert "That answer does not match." in response.get_data(as_text=True)
    assert "security_question.used" not in [a for a, _ in audit_actions(app, questions_on.staff_a.id)]


def test_staff_are_not_asked_to_register_a_question(client, questions_on, make):
    make.user(questions_on.a, "carolwhite", role="staff", name="Carol White", must_change_password=True)
    login(client, "carolwhite")
    assert 'name="security_answer"' not in client.get("/password/change").get_data(as_text=True)


@pytest.mark.parametrize("name", ["nosuchperson", "haroldsmith"])
def test_too_many_answers_looks_the_same_for_every_name(client, questions_on, app, name):
    set_question(app, questions_on.margaret.id)
    limit = app.config["SECURITY_ANSWER_MAX_ATTEMPTS"]
    for _ in range(limit):
        assert answer(client, "margaretjones", "Fluffy").status_code == 422
        wrong = answer(client, name, "Fluffy")
        assert wrong.status_code == 422
        assert "That answer does not match." in wrong.get_data(as_text=True)
    known = without_tokens(answer(client, "margaretjones", "Fluffy").get_data(as_text=True))
    other = without_tokens(answer(client, name, "Fluffy").get_data(as_text=True))
    assert "Too many wrong answers" in other
    assert known.replace("margaretjones", "NAME") == other.replace(name, "NAME")
    # The count belongs to the name and outlives the client's cookies.
    assert "Too many wrong answers" in question_page(app.test_client(), name)[1]


def test_question_page_is_rate_limited_per_address(client, questions_on, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "3 per minute")
    for name in ("a", "b", "c"):
        assert client.get(f"/password/forgot/question?username={name}").status_code == 200
    assert client.get("/password/forgot/question?username=d").status_code == 429
    assert answer(client, "margaretjones", "x").status_code == 429


def test_question_reset_cancels_older_reset_links(client, questions_on, app):
    set_question(app, questions_on.margaret.id)
    forgot(client, "margaretjones")
    mailed = reset_link(app, "margaretjones@example.com")
    assert client.get(mailed).status_code == 200
    response = answer(client, "margaretjones", "Mister Whiskers")
    assert path_of(response.location).startswith("/password/reset/")
    assert client.get(mailed).status_code == 404
    assert client.get(response.location).status_code == 200


def test_question_route_is_closed_when_the_agency_has_it_off(client, world, app):
    set_question(app, world.margaret.id)
    response = client.get("/password/forgot/question?username=margaretjones")
    assert response.status_code == 302
    assert path_of(response.location) == "/password/forgot"
    posted = answer(client, "margaretjones", "Mister Whiskers")
    assert posted.status_code in (302, 303) and path_of(posted.location) == "/password/forgot"
    # And the forgot form falls back to the e-mail link.
    client.post_form("/password/forgot", {"username": "margaretjones", "method": "question"})
    deliver_resets(app)
    assert [m.to_address for m in outbox(app)] == ["margaretjones@example.com"]


# --- CSRF ----------------------------------------------------------------------------------------


def test_login_post_without_csrf_token_is_refused(client, world):
    client.get("/login")
    response = client.post("/login", data={"username": "margaretjones", "password": PASSWORD})
    assert response.status_code == 400
    assert "Your form expired" in response.get_data(as_text=True)
    assert_signed_out(client)


def test_login_post_with_a_forged_token_is_refused(client, world):
    client.get("/login")
    response = client.post(
        "/login",
        data={"username": "margaretjones", "password": PASSWORD, "csrf_token": "forged"},
    )
    assert response.status_code == 400


def test_htmx_post_without_csrf_header_is_refused(client, world):
    client.get("/login")
    response = client.post(
        "/login",
        data={"username": "margaretjones", "password": PASSWORD},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    assert "Your form expired" in assert_fragment(response)
    assert_signed_out(client)


def test_htmx_post_with_csrf_header_works(client, world):
    response = hx_login(client, "margaretjones")
    assert response.status_code == 200
    assert_signed_in(client)


def test_page_tells_htmx_the_csrf_token(client, world):
    body = client.get("/login").get_data(as_text=True)
    assert re.search(r"hx-headers='\{\"X-CSRFToken\": \"[^\"]+\"\}'", body)


def test_logout_without_csrf_token_is_refused(client, world):
    login(client, "margaretjones")
    response = client.post("/logout")
    assert response.status_code == 400
    assert_signed_in(client)


# --- audit chain ---------------------------------------------------------------------------------


def test_audit_chain_verifies_and_shows_tampering(client, world, app):
    login(client, "margaretjones")
    login(app.test_client(), "nosuchperson", "some wrong password")
    login(app.test_client(), "haroldsmith")
    login(app.test_client(), "alicebrown", host=HOST_B)
    with in_app(app) as session:
        ids = session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()
        assert len(ids) >= 4
        assert verify_chain() is None
        victim = ids[1]
        session.execute(
            text("UPDATE audit_events SET action = 'login.success' WHERE id = :id"), {"id": victim}
        )
        session.commit()
        assert verify_chain() == victim


def test_audit_chain_shows_a_deleted_row(client, world, app):
    for name in ("margaretjones", "haroldsmith", "susanjones"):
        login(app.test_client(), name)
    with in_app(app) as session:
        ids = session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()
        session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[1]})
        session.commit()
        assert verify_chain() == ids[2]


def test_audit_chain_holds_whatever_the_database_time_zone(client, world, app):
    login(client, "margaretjones")
    login(app.test_client(), "nosuchperson", "some wrong password")
    with in_app(app) as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("only PostgreSQL keeps a session time zone")
        session.execute(text("SET LOCAL TIME ZONE 'America/Chicago'"))
        try:
            assert verify_chain() is None
        finally:
            session.rollback()


def test_audit_events_record_where_from(client, world, app):
    login(client, "margaretjones")
    with in_app(app) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "login.success"))
        assert event.actor_id == world.margaret.id
        assert event.agency_id == world.a.id
        assert event.ip_address == "127.0.0.1"
        assert event.created_at is not None
