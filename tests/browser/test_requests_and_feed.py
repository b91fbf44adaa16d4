"""Schedule request and calendar feed journeys in a real browser, with JavaScript on and off."""

import re
from datetime import timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from app.models import ScheduleRequest, utcnow
from tests.browser.test_sign_in import csp_violations, expect_path, sign_in
from tests.conftest import HOST_A, PASSWORD, get_one

pytestmark = pytest.mark.browser


def test_make_a_schedule_request(page, js, world, make, app, artifacts):
    mode = "js" if js else "nojs"
    make.task(world.a, "Bathing")
    page.goto("/schedule/requests")
    sign_in(page, "margaretjones", PASSWORD)
    expect(page.get_by_role("heading", name="Schedule requests")).to_be_visible()
    page.get_by_role("link", name="Make schedule request").click()
    if js:
        expect(page.get_by_role("dialog")).to_be_visible()
        expect_path(page, "/schedule/requests")
    else:
        expect_path(page, "/schedule/requests/new")
    form = page.locator("#request-form")
    day = (utcnow().astimezone(ZoneInfo("America/Chicago")).date() + timedelta(days=2)).isoformat()
    form.get_by_label("Date").fill(day)
    form.get_by_label("Start time").fill("14:00")
    form.get_by_label("End time").fill("13:00")
    form.get_by_label("What care is needed").fill("Company for the afternoon")
    form.get_by_label("Bathing").check()
    form.get_by_role("button", name="Send request").click()
    expect(page.get_by_text("The end time must be after the start time.")).to_be_visible()
    # (A screenshot before an htmx swap would leave style="" on inputs, which htmx's settle step
    # copies back and the CSP rightly refuses; so the picture is taken after the swap.)
    page.screenshot(path=artifacts / f"schedule-request-390-{mode}.png", full_page=True)
    assert get_one(app, ScheduleRequest) is None

    page.locator("#request-form").get_by_label("End time").fill("16:00")
    page.locator("#request-form").get_by_role("button", name="Send request").click()
    expect(page.get_by_text("Your request for Margaret was sent to the office.")).to_be_visible()
    expect(page.locator("#request-list").get_by_text("Company for the afternoon")).to_be_visible()
    if js:
        page.get_by_role("button", name="Close").last.click()  # the one below the form
        expect(page.get_by_role("dialog")).to_be_hidden()
    else:
        expect_path(page, "/schedule/requests")
    assert get_one(app, ScheduleRequest).care_needed == "Company for the afternoon"
    assert csp_violations(page) == [], page.console_messages


def test_create_and_revoke_the_calendar_feed(page, js, world, app, artifacts):
    page.goto("/profile/settings")
    sign_in(page, "margaretjones", PASSWORD)
    page.get_by_role("button", name="Create my calendar feed").click()
    address = page.get_by_label("Your private feed address")
    expect(address).to_have_value(re.compile(r"^http://alpha\.localhost:\d+/schedule/feed/[\w-]+\.ics$"))
    feed_url = address.input_value()
    page.screenshot(path=artifacts / f"settings-feed-390-{'js' if js else 'nojs'}.png", full_page=True)
    if js:
        expect(page.get_by_role("button", name="Copy address")).to_be_visible()
    calendar_app = app.test_client()  # Playwright's own requests cannot resolve *.localhost
    path = urlsplit(feed_url).path
    response = calendar_app.get(path, headers={"Host": HOST_A})
    assert response.status_code == 200 and b"BEGIN:VCALENDAR" in response.data

    page.get_by_role("button", name="Switch off the feed").click()
    expect(page.get_by_text("Your calendar feed is switched off.")).to_be_visible()
    assert calendar_app.get(path, headers={"Host": HOST_A}).status_code == 404
    assert csp_violations(page) == [], page.console_messages
