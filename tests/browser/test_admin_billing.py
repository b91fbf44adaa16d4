"""Office billing in a real browser, with JavaScript on (the invoice's forms through htmx) and off
(plain forms): the office finds the client, builds a draft from November's completed visits,
changes a line, issues ALP-1001, records part of the balance by check (after a refused amount) and
reads the client's statement; and the draft fits a 320 px phone. Never an error in the console."""

import re
from datetime import date
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from app.models import Agency, Client, Invoice, Payment, User, utcnow
from app.services import invoices
from tests.browser.test_phone import assert_quiet_console, too_wide
from tests.browser.test_sign_in import expect_path, path_of, sign_in
from tests.conftest import PASSWORD, get_one, in_app, set_columns
from tests.test_admin_billing import completed

pytestmark = pytest.mark.browser

NARROW = {"width": 320, "height": 740}
AMOUNT_IN_DIGITS = "Enter an amount in digits, like 125.50."


@pytest.fixture
def billing(app, make, world):
    """Margaret's three completed November visits (2 h, 1 h 45 min clocked, 2 h) at $32 an hour:
    $184.00; Harold's visit is not hers."""
    set_columns(app, Agency, world.a.id, default_hourly_rate_cents=3200, invoice_prefix="ALP")
    completed(make, world.client_a, 3)
    completed(make, world.client_a, 5, clocked_minutes=100)
    completed(make, world.client_a, 10)
    completed(make, world.client_a2, 4)
    return world


@pytest.fixture
def watched(page):
    """The page, also recording console errors (for assert_quiet_console) and the paths of the
    POSTs htmx sent (its HX-Request header)."""
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.htmx_posts = []
    page.on(
        "request",
        lambda r: (
            r.method == "POST"
            and r.headers.get("hx-request") == "true"
            and page.htmx_posts.append(urlsplit(r.url).path)
        ),
    )
    return page


def loaded(page) -> None:
    """Wait for the load event, so htmx (a deferred script) has taken the forms over before a click."""
    page.wait_for_load_state()


def shot(page, artifacts, name: str, js: bool) -> None:
    page.screenshot(path=artifacts / f"billing-{name}-{'js' if js else 'nojs'}.png", full_page=True)


def test_build_edit_issue_pay_and_read_the_statement(watched, js, billing, app, artifacts):
    page = watched
    page.goto("/admin/")
    sign_in(page, "admin", PASSWORD)
    expect_path(page, "/admin/")
    page.get_by_role("link", name="Invoices and payments").click()
    expect_path(page, "/admin/invoices")
    page.get_by_role("link", name="Build an invoice").click()
    expect_path(page, "/admin/invoices/new")
    page.get_by_label("Find the client").fill("Jones")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Harold Smith")).to_have_count(0)
    page.get_by_role("link", name="Margaret Jones").click()
    expect(page.get_by_role("heading", name="Margaret Jones")).to_be_visible()
    page.get_by_label("From", exact=True).fill("2026-11-01")
    page.get_by_label("To", exact=True).fill("2026-11-30")
    page.get_by_role("button", name="Make the draft").click()

    expect(page.get_by_text("Draft made with 3 lines. Check it, then issue it.")).to_be_visible()
    invoice_id = get_one(app, Invoice).id
    here = f"/admin/invoices/{invoice_id}"
    expect_path(page, here)
    card = page.locator("#admin-invoice")
    expect(card.get_by_role("heading", name="Draft invoice")).to_be_visible()
    expect(card.locator("table.lines tbody tr")).to_have_count(3)
    minutes = card.get_by_label("Minutes billed")
    expect(minutes).to_have_count(3)
    expect(minutes.nth(1)).to_have_value("105")
    for amount in ("$64.00", "$56.00"):
        expect(card.locator("td.num", has_text=amount).first).to_be_visible()
    expect(card.get_by_text("Total: $184.00")).to_be_visible()

    loaded(page)
    minutes.first.fill("90")
    card.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    expect(page.locator("#admin-invoice").get_by_text("Total: $168.00")).to_be_visible()
    expect(page.get_by_label("Minutes billed").first).to_have_value("90")
    assert get_one(app, Invoice).total_cents == 4800 + 5600 + 6400

    loaded(page)
    page.get_by_role("button", name="Issue the invoice").click()
    expect(page.get_by_text("Invoice ALP-1001 issued.")).to_be_visible()
    expect(page.get_by_role("heading", name="Invoice ALP-1001")).to_be_visible()
    expect_path(page, here)
    balance = page.locator("table.totals tr", has_text="Balance")
    expect(balance).to_contain_text("$168.00")

    # A refused amount: the error beside the field; with htmx in the same document.
    loaded(page)
    if js:
        page.evaluate("window.__marker = 1")
    paying = page.locator("form", has=page.get_by_role("button", name="Record the payment"))
    paying.get_by_label("Amount received").fill("abc")
    paying.get_by_label("How", exact=True).select_option("check")
    paying.get_by_role("button", name="Record the payment").click()
    expect(page.locator("#amount-error")).to_have_text(AMOUNT_IN_DIGITS)
    expect(page.get_by_label("Amount received")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Amount received")).to_have_value("abc")
    expect(page.get_by_role("heading", name="Invoice ALP-1001")).to_be_visible()
    if js:
        assert path_of(page) == here
        assert page.evaluate("window.__marker") == 1  # no page load: htmx swapped the fragment
        assert page.locator("#admin-invoice").count() == 1
    else:
        assert path_of(page) == f"{here}/payments"  # the whole page, answered to the form's POST
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        assert page.evaluate("typeof htmx") == "undefined"
    shot(page, artifacts, "payment-refused", js)
    assert get_one(app, Payment) is None

    loaded(page)
    paying = page.locator("form", has=page.get_by_role("button", name="Record the payment"))
    paying.get_by_label("Amount received").fill("100")
    paying.get_by_label("How", exact=True).select_option("check")
    paying.get_by_label("Reference (check number, transfer id)").fill("Check 1234")
    paying.get_by_role("button", name="Record the payment").click()
    expect(page.get_by_text("Payment of $100.00 recorded.")).to_be_visible()
    expect_path(page, here)
    expect(page.locator("table.totals tr", has_text="Balance")).to_contain_text("$68.00")
    expect(page.locator("tr", has_text="Check 1234")).to_contain_text("$100.00")
    payment = get_one(app, Payment)
    assert (payment.amount_cents, payment.method) == (10000, "check")

    billing_posts = [path for path in page.htmx_posts if path.startswith("/admin/")]
    issued, payments = f"{here}/issue", f"{here}/payments"
    assert billing_posts == ([here, issued, payments, payments] if js else [])  # not "Make the draft"

    page.get_by_role("link", name="Statement for Margaret Jones").click()
    expect_path(page, "/admin/invoices/statement")
    expect(page.get_by_role("heading", name="Statement for Margaret Jones")).to_be_visible()
    # Opened from the link (no period in the address) it shows last month, with no error; asserted
    # at the end, so the rest of the journey still runs.
    errors_on_opening = page.locator(".error").all_inner_texts()
    today = utcnow().astimezone(ZoneInfo("America/Chicago")).date()
    page.get_by_label("From", exact=True).fill("2026-11-01")
    page.get_by_label("To", exact=True).fill(max(today, date(2026, 11, 30)).isoformat())
    page.get_by_role("button", name="Show").click()
    statement = page.locator("section.card")
    for what, amount in (("Invoice ALP-1001", "$168.00"), ("Payment on invoice ALP-1001", "$100.00")):
        row = statement.locator("tr", has=page.locator("td", has_text=re.compile(rf"^{what}$")))
        expect(row).to_contain_text(amount)
    expect(statement.locator("tr", has_text="Balance due")).to_contain_text("$68.00")
    shot(page, artifacts, "statement", js)
    assert errors_on_opening == [], "the statement link answers its default period with errors"
    assert_quiet_console(page)


def test_the_draft_fits_a_320_px_phone(watched, js, billing, app, artifacts):
    """No sideways scrolling on the draft, billed to a payer (the longer choice)."""
    with in_app(app) as session:
        invoice = invoices.build_draft(
            session.get(Agency, billing.a.id),
            session.get(User, billing.staff_a.id),
            session.get(Client, billing.client_a.id),
            date(2026, 11, 1),
            date(2026, 11, 30),
            billed_to=session.get(User, billing.robert.id),
        )
        session.commit()
        here = f"/admin/invoices/{invoice.id}"
    page = watched
    page.set_viewport_size(NARROW)
    page.goto(here)
    sign_in(page, "admin", PASSWORD)
    expect_path(page, here)
    expect(page.get_by_role("heading", name="Draft invoice")).to_be_visible()
    shot(page, artifacts, "draft-320", js)
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"] + 1, too_wide(page)
    assert_quiet_console(page)
