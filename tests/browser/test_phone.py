"""What a new user on a small phone (360 x 740) meets: text size, contrast, tap targets, the
schedule-request dialog, the month view, and no sideways scrolling — with JavaScript on and off,
and never an error in the console.

The screenshots land in test-artifacts/ (git-ignored), named after the test and the mode.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from app.models import ScheduleRequest, User, utcnow
from tests.browser.test_sign_in import sign_in
from tests.conftest import PASSWORD, get_one, in_app

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
WIDE = {"width": 1024, "height": 768}
# December 2026 starts on a Tuesday: two blank cells before the 1st in a Sunday-first grid.
DEC_3_9AM_CHICAGO = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
MONTH = "/schedule?view=month&date=2026-12-01"
HARMLESS = (
    "dev-shm",  # Chromium's note about /dev/shm in containers
    # Chromium logs every 4xx answer to a script's request; 422 is how a form with errors comes
    # back (render_form, CONTRIBUTING.md), and the page shows the errors — not a fault.
    "status of 422 (UNPROCESSABLE ENTITY)",
)


@pytest.fixture
def phone(page):
    """The page at 360 x 740, also recording each console message's type."""
    page.set_viewport_size(PHONE)
    page.console_errors = []
    page.on(
        "console",
        lambda m: m.type == "error" and page.console_errors.append(m.text),
    )
    return page


def assert_quiet_console(page) -> None:
    errors = [t for t in page.console_errors if not any(h in t for h in HARMLESS)]
    errors += [t for t in page.console_messages if t.startswith("pageerror")]
    assert errors == [], page.console_messages


def shot(page, artifacts, name: str, js: bool) -> None:
    page.screenshot(path=artifacts / f"phone-{name}-{'js' if js else 'nojs'}.png", full_page=True)


def set_user(app, username: str, **columns) -> None:
    with in_app(app) as session:
        user = session.query(User).filter_by(username=username).one()
        for name, value in columns.items():
            setattr(user, name, value)
        session.commit()


def signed_in(page, username: str, path: str) -> None:
    """Sign in from `path`'s login redirect and wait until the browser is back on `path`."""
    page.goto(path)
    sign_in(page, username, PASSWORD)
    expect(page).not_to_have_url(re.compile(r"/login"))
    page.wait_for_load_state()


def too_wide(page) -> list[str]:
    """The elements that reach past the right edge of the screen, for a failure message."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
        .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
    )


def font_px(page, selector: str) -> float:
    return page.eval_on_selector(selector, "e => parseFloat(getComputedStyle(e).fontSize)")


def box(page, locator) -> dict:
    found = page.locator(locator) if isinstance(locator, str) else locator
    return found.first.bounding_box()


@pytest.fixture
def family(world, make):
    """Margaret with a caregiver, visits in December 2026 and today, and invoices."""
    ana = make.caregiver(world.a, "Ana Torres")
    make.task(world.a, "Bathing")
    make.visit(world.client_a, DEC_3_9AM_CHICAGO, caregiver_id=ana.id)
    make.visit(world.client_a, utcnow() + timedelta(days=1), caregiver_id=ana.id)
    make.invoice(world.client_a, "INV-2026-00042", total_cents=123456)
    make.invoice(world.client_a, "INV-2026-00041", total_cents=5000, paid_cents=5000, status="paid")
    return world


def test_larger_text_grows_headings_badges_and_labels(phone, js, family, app, artifacts):
    signed_in(phone, "susanjones", "/dashboard")  # susan may view invoices: a badge-rich page
    expect(phone.get_by_role("heading", name="Outstanding invoices")).to_be_visible()
    selectors = ("h1", "h2", ".badge", ".icons a", ".muted")
    before = {s: font_px(phone, s) for s in selectors}

    set_user(app, "susanjones", large_text=True)
    phone.reload()
    after = {s: font_px(phone, s) for s in selectors}
    shot(phone, artifacts, "large-text-dashboard", js)
    for selector in selectors:
        assert after[selector] == pytest.approx(before[selector] * 1.25), selector

    # The print view follows the same setting.
    phone.goto("/schedule/print?view=month&date=2026-12-01")
    assert font_px(phone, "body") == 20 and font_px(phone, "h1") > 25
    assert_quiet_console(phone)


def test_high_contrast_reaches_the_print_view(phone, js, family, app, artifacts):
    signed_in(phone, "margaretjones", "/schedule/print?view=month&date=2026-12-01")
    expect(phone.get_by_role("heading", name="Thursday, December 3", exact=True)).to_be_visible()
    grey = phone.eval_on_selector("p.muted", "e => getComputedStyle(e).color")
    assert grey != "rgb(0, 0, 0)"

    set_user(app, "margaretjones", high_contrast=True)
    phone.reload()
    muted = phone.eval_on_selector("p.muted", "e => getComputedStyle(e).color")
    rule = phone.eval_on_selector("td", "e => getComputedStyle(e).borderBottomColor")
    assert (muted, rule) == ("rgb(0, 0, 0)", "rgb(0, 0, 0)")
    shot(phone, artifacts, "high-contrast-print", js)
    assert_quiet_console(phone)  # the favicon link spares a /favicon.ico 404


def test_tap_targets_are_44_px_and_checkboxes_sit_beside_their_label(phone, js, family, artifacts):
    signed_in(phone, "margaretjones", MONTH)
    header = [phone.get_by_role("link", name="Home"), phone.get_by_role("button", name="Sign out")]
    tools = [phone.get_by_role("link", name=name, exact=True) for name in ("Today", "Print", "PDF")]
    for target in header + tools:
        assert box(phone, target)["height"] >= 44, target

    phone.goto("/profile/settings")
    checkbox = phone.get_by_role("checkbox", name="Larger text")
    label = phone.locator("label", has=checkbox)
    assert box(phone, label)["height"] >= 44 and box(phone, checkbox)["width"] >= 24
    shot(phone, artifacts, "settings", js)
    assert_quiet_console(phone)


def test_admin_checkboxes_share_the_label_line_and_people_fit(phone, js, family, artifacts):
    signed_in(phone, "admin", "/admin/settings")
    checkbox = phone.get_by_role("checkbox", name="Require two-step sign-in for office staff")
    text_line = box(phone, phone.locator("label", has=checkbox))
    mark = box(phone, checkbox)
    assert mark["y"] >= text_line["y"] and mark["y"] + mark["height"] <= text_line["y"] + text_line["height"]
    assert text_line["height"] >= 44
    # The office's zone list is the short friendly one.
    options = phone.get_by_label("Time zone").locator("option").all_inner_texts()
    assert "Central time" in options and len(options) < 20 and not [o for o in options if "/" in o]
    shot(phone, artifacts, "admin-settings", js)

    phone.goto("/admin/people")
    expect(phone.get_by_role("link", name="Margaret Jones")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(phone, artifacts, "admin-people", js)
    assert_quiet_console(phone)


@pytest.mark.parametrize("large_text", [False, True], ids=["normal", "large"])
def test_no_sideways_scrolling_at_360(phone, js, family, app, artifacts, large_text):
    """Also the longest case: larger text, and times that carry their zone (Susan lives in Florida)."""
    set_user(app, "susanjones", large_text=large_text, time_zone="America/New_York" if large_text else None)
    signed_in(phone, "susanjones", "/dashboard")
    pages = (
        ("dashboard", "/dashboard"),
        ("schedule", MONTH),
        ("requests", "/schedule/requests"),
        ("invoices", "/invoices"),
        ("signatures", "/signatures"),
        ("documents", "/documents"),
    )
    for name, path in pages:
        phone.goto(path)
        if large_text and name == "schedule":
            expect(phone.get_by_text("10:00 AM – 12:00 PM Eastern time")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], (
            path,
            too_wide(phone),
        )
        if large_text:
            shot(phone, artifacts, f"{name}-large", js)
    # Invoice numbers stay on one line.
    phone.goto("/dashboard")
    number = phone.get_by_role("link", name="INV-2026-00042")
    assert box(phone, number)["height"] < 2 * font_px(phone, "td")
    assert_quiet_console(phone)


def test_the_smallest_phone_320_px_fits_a_payer_of_two_clients(phone, js, family, make):
    """The narrowest screen we promise: a payer's dashboard has the client picker and the table of
    invoices with the client's name, the widest rows there are."""
    make.invoice(family.client_a2, "INV-2026-00043", total_cents=987654, billed_to=family.robert)
    make.invoice(family.client_a, "INV-2026-00044", total_cents=5000, billed_to=family.robert)
    phone.set_viewport_size({"width": 320, "height": 640})
    signed_in(phone, "robertjones", "/dashboard")
    for path in (
        "/dashboard",
        f"/dashboard?client={family.client_a2.id}",
        "/invoices",
        "/messages",
        "/profile/settings",
    ):
        phone.goto(path)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 320, (path, too_wide(phone))
    assert_quiet_console(phone)


def test_the_care_plan_fits_a_phone_in_large_text(phone, js, family, app):
    set_user(app, "margaretjones", large_text=True)
    signed_in(phone, "margaretjones", "/care-plan")
    for path in ("/care-plan", "/signatures/report"):
        phone.goto(path)
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], (
            path,
            too_wide(phone),
        )
    assert_quiet_console(phone)


def test_month_is_a_grid_on_a_wide_screen_and_a_list_on_a_phone(phone, js, family, artifacts):
    signed_in(phone, "margaretjones", MONTH)
    grid = phone.locator(".month-grid")
    assert grid.evaluate("e => getComputedStyle(e).display") != "grid"
    busy = phone.locator("section.day:not(.free)")
    assert busy.count() >= 1 and phone.locator("section.day:visible").count() == busy.count()
    expect(phone.get_by_text("Thursday, December 3", exact=True)).to_be_visible()
    shot(phone, artifacts, "month", js)

    phone.set_viewport_size(WIDE)
    if js:  # the same month again, this time through htmx: next, then back
        phone.locator("#cal-next").click()
        expect(phone.get_by_role("heading", name="January 2027")).to_be_visible()
        phone.locator("#cal-prev").click()
        expect(phone.get_by_role("heading", name="December 2026")).to_be_visible()
    columns = grid.evaluate("e => getComputedStyle(e).gridTemplateColumns.split(' ').length")
    assert columns == 7
    # Sun Mon … as headings, two blank cells, then the 1st under Tuesday.
    first_day = phone.locator("section.day").first
    tuesday = phone.locator(".month-grid .wd").nth(2)
    assert box(phone, first_day)["x"] == pytest.approx(box(phone, tuesday)["x"], abs=1)
    assert phone.locator("section.day:visible").count() == 31
    phone.screenshot(path=artifacts / f"phone-month-1024-{'js' if js else 'nojs'}.png", full_page=True)
    assert_quiet_console(phone)


@pytest.mark.parametrize("js", [True], ids=["js"])
def test_request_dialog_on_a_phone(phone, js, family, app, artifacts):
    """A failed send brings the first wrong field into view and focus; Close is at the top too;
    a request sent from the calendar (which has no request list) leaves no console error."""
    signed_in(phone, "margaretjones", MONTH)
    phone.get_by_role("link", name="Make schedule request").click()
    dialog = phone.get_by_role("dialog")
    expect(dialog).to_be_visible()
    close_top = dialog.get_by_role("button", name="Close").first
    assert (
        box(phone, close_top)["y"] < box(phone, dialog.get_by_role("heading", name="Ask for care"))["y"] + 44
    )
    shot(phone, artifacts, "dialog", js)  # before a swap: htmx must not copy a style attribute back

    dialog.get_by_label("What care is needed").fill("Company for the afternoon")
    dialog.get_by_role("button", name="Send request").click()
    expect(dialog.get_by_text("Choose the date you would like care.")).to_be_visible()
    date_field = dialog.get_by_label("Date")
    expect(date_field).to_be_focused()
    expect(date_field).to_be_in_viewport()
    shot(phone, artifacts, "dialog-error", js)

    close_top.click()
    expect(dialog).to_be_hidden()

    phone.get_by_role("link", name="Make schedule request").click()
    form = phone.get_by_role("dialog").locator("#request-form")
    day = (utcnow() + timedelta(days=3)).astimezone(UTC).date().isoformat()
    form.get_by_label("Date").fill(day)
    form.get_by_label("Start time").fill("14:00")
    form.get_by_label("End time").fill("16:00")
    form.get_by_label("What care is needed").fill("Company for the afternoon")
    form.get_by_role("button", name="Send request").click()
    expect(phone.get_by_text("Your request for Margaret was sent to the office.")).to_be_visible()
    assert get_one(app, ScheduleRequest) is not None
    assert_quiet_console(phone)
