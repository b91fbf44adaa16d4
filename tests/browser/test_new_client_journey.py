"""The new-client journey in a real browser, JavaScript on and off: the office adds a client with
"Send portal credentials"; the outbox worker delivers the welcome mail to a real SMTP server on
loopback; the client opens the link from the mail, chooses a password and lands on their
dashboard; the office books a visit for tomorrow and it shows in the client's calendar."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from app.models import Client
from tests.browser.test_admin_billing import watched  # noqa: F401 - console errors recorded
from tests.browser.test_phone import assert_quiet_console, too_wide
from tests.browser.test_sign_in import expect_path, sign_in
from tests.conftest import PASSWORD, get_one
from tests.test_outbox import body, run_outbox, smtp  # noqa: F401 - the real SMTP server fixture

pytestmark = pytest.mark.browser

NEW_PASSWORD = "lantern orchard pebble violet"


def test_office_adds_a_client_who_signs_in_from_the_mail(
    watched, js, world, app, smtp, artifacts, browser, make  # noqa: F811 - the imported fixtures
):
    page = watched
    make.caregiver(world.a, "Ana Torres")
    page.goto("/admin/")
    sign_in(page, "admin", PASSWORD)
    expect_path(page, "/admin/")
    page.get_by_role("link", name="Clients", exact=True).click()
    expect_path(page, "/admin/clients")
    page.get_by_role("link", name="Add a client").click()
    page.get_by_label("First name").fill("Rosa")
    page.get_by_label("Last name").fill("Delgado")
    page.get_by_label("E-mail").fill("rosa.delgado@example.com")
    page.get_by_label("Phone").fill("555-0101")
    page.get_by_label("Send portal credentials").check()
    page.get_by_role("button", name="Add the client").click()
    expect(page.get_by_text("credentials are on their way to rosa.delgado@example.com")).to_be_visible()
    expect(page.get_by_role("heading", name="Rosa Delgado")).to_be_visible()
    page.screenshot(path=artifacts / f"journey-client-{'js' if js else 'nojs'}.png", full_page=True)
    # The client's page and the access grid of her own link fit a 320 px phone.
    page.set_viewport_size({"width": 320, "height": 740})
    assert too_wide(page) == []
    page.get_by_role("link", name="Rosa Delgado").click()
    expect(page.get_by_role("heading", name="What Rosa Delgado sees of Rosa Delgado")).to_be_visible()
    expect(page.get_by_text("the care plan").first).to_be_visible()
    assert too_wide(page) == []
    page.screenshot(path=artifacts / f"journey-access-{'js' if js else 'nojs'}.png", full_page=True)
    assert_quiet_console(page)

    assert run_outbox(app) == (1, 0)
    [(recipients, message)] = smtp.messages
    assert recipients == ["rosa.delgado@example.com"]
    text = body(message)
    assert "rosadelgado" in text
    link = re.search(r"https?://\S+/welcome/\S+", text).group(0)
    assert link.startswith(f"http://alpha.localhost:{app.config['PUBLIC_PORT']}/welcome/")

    rosa = browser.new_context(java_script_enabled=js, viewport={"width": 360, "height": 740}).new_page()
    rosa.console_messages, rosa.console_errors = [], []
    rosa.on("console", lambda m: rosa.console_messages.append(m.text))
    rosa.on("console", lambda m: m.type == "error" and rosa.console_errors.append(m.text))
    rosa.goto(link)
    expect(rosa.get_by_text("rosadelgado")).to_be_visible()
    rosa.get_by_label("New password").fill(NEW_PASSWORD)
    rosa.get_by_label("Type it again").fill(NEW_PASSWORD)
    rosa.get_by_role("button", name="Save password").click()
    expect_path(rosa, "/dashboard")
    expect(rosa.get_by_role("heading", name="My Alpha Home Care")).to_be_visible()
    assert get_one(app, Client, last_name="Delgado").is_active

    # The office books her a visit for tomorrow at 10:00; her calendar shows it.
    tomorrow = datetime.now(ZoneInfo("America/Chicago")).date() + timedelta(days=1)
    page.goto(f"/admin/clients/{get_one(app, Client, last_name='Delgado').id}")
    page.get_by_role("link", name="Add a visit").click()
    expect(page.get_by_label("Client")).to_have_value(str(get_one(app, Client, last_name="Delgado").id))
    page.get_by_label("Caregiver").select_option(label="Ana Torres")
    page.get_by_label("Day").fill(tomorrow.isoformat())
    page.get_by_label("Starts at").fill("10:00")
    page.get_by_label("Ends at").fill("12:00")
    page.get_by_role("button", name="Add the visit").click()
    expect(page.get_by_text("Visit added.")).to_be_visible()
    assert_quiet_console(page)
    portal = link.split("/welcome/")[0]  # her agency's address, from the mail
    rosa.goto(f"{portal}/schedule?view=day&date={tomorrow.isoformat()}")
    expect(rosa.get_by_text("Ana Torres").first).to_be_visible()
    expect(rosa.get_by_text(re.compile(r"10:00\sAM")).first).to_be_visible()
    rosa.screenshot(path=artifacts / f"journey-calendar-{'js' if js else 'nojs'}.png", full_page=True)
    assert_quiet_console(rosa)
    rosa.context.close()
