"""Sign-in journeys in a real browser, each with JavaScript on (htmx swaps) and off (plain forms)."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from app.blueprints.auth.views import WRONG_CREDENTIALS
from app.models import User
from tests.conftest import PASSWORD, get_one

pytestmark = pytest.mark.browser

NEW_PASSWORD = "maple river lantern cobalt"
CSP_WORDS = re.compile(r"Content Security Policy|Content-Security-Policy", re.I)


def path_of(page) -> str:
    return urlsplit(page.url).path


def expect_path(page, path: str) -> None:
    expect(page).to_have_url(re.compile(rf"^https?://[^/]+{re.escape(path)}(\?.*)?$"))


def sign_in(page, username: str, password: str) -> None:
    page.get_by_label("Login name").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def csp_violations(page) -> list[str]:
    return [text for text in page.console_messages if CSP_WORDS.search(text)]


def test_sign_in_reaches_dashboard_then_sign_out(page, js, world, artifacts):
    mode = "js" if js else "nojs"
    page.goto("/dashboard")
    expect_path(page, "/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.screenshot(path=artifacts / f"login-390-{mode}.png", full_page=True)

    sign_in(page, "margaretjones", PASSWORD)
    expect(page.get_by_role("heading", name="My Alpha Home Care")).to_be_visible()
    expect_path(page, "/dashboard")
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()
    page.screenshot(path=artifacts / f"dashboard-390-{mode}.png", full_page=True)

    sign_out.click()
    expect_path(page, "/login")
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    page.goto("/dashboard")
    expect_path(page, "/login")
    assert csp_violations(page) == []


def test_wrong_password_shows_the_error_beside_the_form(page, js, world):
    page.goto("/login")
    if js:
        page.evaluate("window.__marker = 1")
        page.evaluate("document.getElementById('login-form').dataset.before = 'swap'")

    sign_in(page, "margaretjones", "not my password at all, sorry")
    form = page.locator("#login-form")
    expect(form.get_by_role("alert")).to_have_text(WRONG_CREDENTIALS)
    assert path_of(page) == "/login"
    expect(page.get_by_label("Login name")).to_have_value("margaretjones")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    if js:
        # The htmx swap replaced the form in place: same document, new form element.
        assert page.evaluate("window.__marker") == 1
        assert page.evaluate("document.getElementById('login-form').dataset.before") is None
        assert page.locator("#login-form").count() == 1


def test_temporary_password_must_be_changed_first(page, js, world, make, app):
    tom = make.user(world.a, "tomtemp", name="Tom Temp", must_change_password=True)
    make.link(tom, world.client_a, "emergency_contact")

    page.goto("/login")
    sign_in(page, "tomtemp", PASSWORD)
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    expect_path(page, "/password/change")

    page.goto("/dashboard")
    expect_path(page, "/password/change")
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Type it again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save password").click()
    expect(page.get_by_role("heading", name="My Alpha Home Care")).to_be_visible()
    expect_path(page, "/dashboard")
    expect(page.get_by_text("Your password has been changed.")).to_be_visible()
    assert get_one(app, User, username="tomtemp").must_change_password is False


@pytest.mark.parametrize("js", [True], ids=["js"])
def test_csp_holds_and_htmx_loads(page, js, world):
    page.goto("/login")
    assert page.evaluate("typeof htmx") == "object"
    sign_in(page, "margaretjones", PASSWORD)
    expect(page.get_by_role("heading", name="My Alpha Home Care")).to_be_visible()
    assert page.evaluate("typeof htmx") == "object"
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    assert page.evaluate("typeof htmx") == "object"
    assert csp_violations(page) == [], page.console_messages
    assert not [m for m in page.console_messages if m.startswith("pageerror")], page.console_messages

    # The policy is really enforced (and the console really reports it): an inline script is refused.
    with page.expect_console_message(lambda message: bool(CSP_WORDS.search(message.text))):
        page.evaluate(
            "document.body.append(Object.assign(document.createElement('script'),"
            " {textContent: 'window.__inline_ran = 1'}))"
        )
    assert page.evaluate("window.__inline_ran") is None
