"""A client invites her granddaughter, the office approves, the granddaughter opens the mailed link
and chooses her login: in a real browser, with JavaScript on and off."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.models import Agency, Invitation, OutboxMail, User
from app.services import family_access
from tests.browser.test_sign_in import NEW_PASSWORD, csp_violations, expect_path, sign_in
from tests.conftest import PASSWORD, get_one, in_app

pytestmark = pytest.mark.browser
LINK = re.compile(r"http://[^/\s]+(/invitation/\S+)")


def test_invite_approve_and_accept(page, js, world, app, browser, live_server, artifacts):
    mode = "js" if js else "nojs"
    page.goto("/dashboard")
    sign_in(page, "margaretjones", PASSWORD)
    page.get_by_role("link", name="Who can see my record").click()
    expect_path(page, "/profile/access")
    form = page.locator("form", has=page.get_by_role("button", name="Send the invitation"))
    form.get_by_label("First name").fill("Lucy")
    form.get_by_label("Last name").fill("Jones")
    form.get_by_label("E-mail").fill("lucy@example.com")
    form.get_by_label("Care plan").check()  # beyond an emergency contact's ceiling
    form.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text("An emergency contact or family member may never see")).to_be_visible()
    assert get_one(app, Invitation) is None
    form = page.locator("form", has=page.get_by_role("button", name="Send the invitation"))
    form.get_by_label("Care plan").uncheck()
    form.get_by_label("Schedule", exact=True).check()
    form.get_by_label("Messages").check()
    form.get_by_role("button", name="Send the invitation").click()
    expect(
        page.get_by_text("The office will read your invitation of Lucy Jones and send it.")
    ).to_be_visible()
    page.screenshot(path=artifacts / f"family-access-390-{mode}.png", full_page=True)
    assert csp_violations(page) == [], page.console_messages

    with in_app(app) as session:
        invitation = session.scalar(select(Invitation))
        family_access.approve_invitation(
            session.get(Agency, world.a.id), session.get(User, world.staff_a.id), invitation
        )
        session.commit()
        mail = session.scalar(select(OutboxMail).where(OutboxMail.to_address == "lucy@example.com"))
        path = LINK.search(mail.body_text).group(1)

    lucy = browser.new_context(java_script_enabled=js, base_url=live_server.url()).new_page()
    lucy.console_messages = []
    lucy.on("console", lambda message: lucy.console_messages.append(message.text))
    lucy.goto(path)
    lucy.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    lucy.get_by_label("Type it again").fill(NEW_PASSWORD)
    lucy.get_by_role("button", name="Create my account").click()
    expect(lucy.get_by_text("Your account is ready and you are signed in.")).to_be_visible()
    expect_path(lucy, "/dashboard")
    expect(lucy.get_by_role("link", name="My Schedule")).to_be_visible()
    expect(lucy.get_by_role("link", name="Shift Signatures")).to_have_count(0)
    assert csp_violations(lucy) == [], lucy.console_messages
    lucy.context.close()
