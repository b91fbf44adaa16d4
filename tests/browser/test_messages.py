"""Writing to the office and reading the answer in a real browser, with JavaScript on and off."""

import pytest
from playwright.sync_api import expect

from app.models import Agency, Conversation, User
from app.services import messages as service
from tests.browser.test_sign_in import csp_violations, expect_path, sign_in
from tests.conftest import PASSWORD, get_one, in_app

pytestmark = pytest.mark.browser


def test_write_to_the_office_and_read_the_reply(page, js, world, app, artifacts):
    mode = "js" if js else "nojs"
    with in_app(app) as session:
        session.get(Agency, world.a.id).message_template = "Dear office,"
        session.commit()
    page.goto("/dashboard")
    sign_in(page, "susanjones", PASSWORD)
    page.get_by_role("link", name="E-mail the agency").click()
    expect_path(page, "/messages/new")
    expect(page.get_by_label("Message")).to_have_value("Dear office,")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Give your message a subject")).to_be_visible()
    assert get_one(app, Conversation) is None

    form = page.locator("#new-message")
    form.get_by_label("Subject").fill("Tuesday's visit")
    form.get_by_label("Message").fill("Dear office, could Ana come at ten? See https://example.org/x")
    form.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Your message was sent to the office.")).to_be_visible()
    conversation = get_one(app, Conversation)
    expect_path(page, f"/messages/{conversation.id}")
    expect(page.get_by_role("link", name="https://example.org/x")).to_have_attribute(
        "rel", "noopener nofollow noreferrer"
    )

    with in_app(app) as session:
        service.post_message(
            session.get(Agency, world.a.id),
            session.get(Conversation, conversation.id),
            session.get(User, world.staff_a.id),
            "Yes, Ana will come at ten.",
        )
        session.commit()
    page.goto("/messages")
    expect(page.locator("#message-badge .badge")).to_have_text("1")
    page.get_by_role("link", name="Tuesday's visit").click()
    expect(page.get_by_text("Yes, Ana will come at ten.")).to_be_visible()
    page.get_by_label("Your reply").fill("Thank you!")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Your reply was sent.")).to_be_visible()
    expect(page.locator(".message.mine").last).to_contain_text("Thank you!")
    page.screenshot(path=artifacts / f"messages-thread-390-{mode}.png", full_page=True)
    expect(page.locator("#message-badge .badge")).to_have_count(0)
    assert csp_violations(page) == [], page.console_messages
