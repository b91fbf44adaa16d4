"""Shift signatures in a real browser, with JavaScript on (the signature pad) and off (the typed
name alone): Margaret finds her completed visit from the dashboard, reads what she signs, signs it
and downloads the record as a PDF; a wrong name is refused beside the field; a drawing can be
cleared, and a touch stroke draws too; the sign page fits a 320 px phone. Never an error in the
console."""

import io
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from app.models import Signature, StoredFile
from tests.browser.test_phone import assert_quiet_console, too_wide
from tests.browser.test_sign_in import expect_path, sign_in
from tests.conftest import PASSWORD, get_one
from tests.test_signatures import START, completed, pdf_text

pytestmark = pytest.mark.browser

NARROW = {"width": 320, "height": 740}
SIGN = "Sign the visit record"
WRONG_NAME = "Type your full name as it is on your account: Margaret Jones."
# How many of the canvas's pixels carry ink (alpha above 0).
INK = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"""


@pytest.fixture
def shift(make, world):
    """Margaret's completed visit of 3 November 2026 (9:00–11:00 in Chicago, clocked 9:05–11:05)
    with Ana Torres, bathing done."""
    world.ana = make.caregiver(world.a, "Ana Torres")
    world.bathing = make.task(world.a, "Bathing")
    world.visit = completed(make, world.client_a, caregiver=world.ana, task=world.bathing)
    return world


@pytest.fixture
def watched(page):
    """The page, also recording console errors (for assert_quiet_console)."""
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    return page


def browser_session(app, page):
    """A test client carrying the browser's cookies, on agency A's address."""
    client = app.test_client()
    for cookie in page.context.cookies():
        client.set_cookie(cookie["name"], cookie["value"], domain=cookie["domain"], path=cookie["path"])
    return client


def shot(page, artifacts, name: str, js: bool) -> None:
    """The viewport only: a full-page screenshot resizes the page while it is taken, which resizes
    the signature pad under a drawing (the suspect of a drawing CI once found unreadable)."""
    page.screenshot(path=artifacts / f"signatures-{name}-{'js' if js else 'nojs'}.png")


def open_visit(page, visit_id: int) -> None:
    """Sign in on the visit's page; wait for the load event, so signature.js has set the pad up."""
    here = f"/signatures/{visit_id}"
    page.goto(here)
    sign_in(page, "margaretjones", PASSWORD)
    expect_path(page, here)
    page.wait_for_load_state()


def pad(page):
    canvas = page.get_by_label("Signature box")
    canvas.scroll_into_view_if_needed()
    return canvas


def draw_with_mouse(page) -> None:
    """A stroke across the signature box: press, several moves, release."""
    box = pad(page).bounding_box()
    x, y = box["x"] + 20, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 9):
        page.mouse.move(x + step * (box["width"] - 40) / 8, y + (12 if step % 2 else -12))
    page.mouse.up()


def draw_with_finger(page) -> None:
    """A stroke as a finger makes it: touch events through Chromium's input pipeline (DevTools
    protocol), which Chromium turns into pointer events of type "touch"."""
    box = pad(page).bounding_box()
    x, y = box["x"] + 20, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for step in range(1, 9):
        point = {"x": x + step * (box["width"] - 40) / 8, "y": y + (10 if step % 2 else -10)}
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def sign_as(page, name: str) -> None:
    page.get_by_label("Your full name").fill(name)
    page.get_by_role("button", name=SIGN).click()


def expect_signed(page, visit_id: int) -> None:
    expect(page.get_by_text("Thank you. The visit of 2026-11-03 is signed.")).to_be_visible()
    expect_path(page, f"/signatures/{visit_id}")
    expect(page.locator(".status.completed", has_text="Signed")).to_be_visible()
    expect(page.get_by_role("button", name=SIGN)).to_have_count(0)


def test_margaret_signs_her_visit_and_downloads_the_record(watched, js, shift, app, artifacts):
    page = watched
    page.goto("/dashboard")
    sign_in(page, "margaretjones", PASSWORD)
    expect_path(page, "/dashboard")
    page.get_by_role("link", name="Shift Signatures").click()
    expect_path(page, "/signatures")
    pending = page.locator("section", has=page.get_by_role("heading", name="1 visit waiting for a signature"))
    pending.get_by_role("link", name="Nov 3, 2026, 9:00 AM – 11:00 AM").click()

    here = f"/signatures/{shift.visit.id}"
    expect_path(page, here)
    expect(page.get_by_role("heading", name="Visit record: Margaret Jones")).to_be_visible()
    facts = page.locator("dl.meta")
    for label, value in (
        ("Date", "Tuesday, November 3, 2026"),
        ("Caregiver", "Ana Torres"),
        ("Scheduled", "9:00 AM – 11:00 AM"),
        ("Clocked", "in 9:05 AM, out 11:05 AM"),
    ):
        expect(facts.locator(f"dt:text-is('{label}') + dd")).to_have_text(value)
    expect(page.get_by_text("✓ Bathing — done")).to_be_visible()
    page.wait_for_load_state()
    canvas = page.get_by_label("Signature box")
    if js:
        expect(canvas).to_be_visible()
        expect(page.get_by_role("button", name="Clear the drawing")).to_be_visible()
        draw_with_mouse(page)
        assert canvas.evaluate(INK) > 0, "the mouse stroke left no ink"
    else:
        expect(canvas).to_be_hidden()
        expect(page.get_by_role("button", name="Clear the drawing")).to_be_hidden()
    shot(page, artifacts, "sign", js)
    with page.expect_request(lambda r: r.method == "POST") as posted:
        sign_as(page, "Margaret Jones")
    drawing = parse_qs(posted.value.post_data or "").get("drawing", [""])[0]
    if js:
        sent = f"the pad sent {drawing[:60]!r} ({len(drawing)} characters)"
        assert drawing.startswith("data:image/png;base64,"), sent

    expect_signed(page, shift.visit.id)
    expect(page.get_by_text("drawn" if js else "typed name")).to_be_visible()
    shot(page, artifacts, "signed", js)
    signature = get_one(app, Signature)
    assert signature.typed_name == "Margaret Jones"
    if js:
        assert signature.method == "drawn" and signature.drawing_file_id is not None
    else:
        assert signature.method == "typed" and signature.drawing_file_id is None

    # The signed record as a PDF, downloaded as the browser does from the link.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download this record as PDF").click()
    data = download.value.path().read_bytes()
    assert data.startswith(b"%PDF-")
    assert download.value.suggested_filename.endswith(".pdf")
    text = pdf_text(data)
    assert "Margaret Jones" in text and "Ana Torres" in text and "Bathing" in text
    assert signature.facts_hash[:16] in text.replace(" ", "")
    images = [image for sheet in PdfReader(io.BytesIO(data)).pages for image in sheet.images]
    assert bool(images) == js  # the drawing is printed; a typed signature has none
    # A download fires no response event, so the answer's headers are read through the test client
    # with the browser's session (Playwright's own requests cannot resolve *.localhost).
    answer = browser_session(app, page).get(f"{here}.pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.data.startswith(b"%PDF-")
    assert_quiet_console(page)


def test_a_wrong_name_is_refused_beside_the_field(watched, js, shift, app, artifacts):
    page = watched
    open_visit(page, shift.visit.id)
    if js:
        draw_with_mouse(page)  # a drawing does not make a wrong name right
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        sign_as(page, "Susan Jones")
    assert answer.value.status == 422
    name = page.get_by_label("Your full name")
    expect(page.locator("#typed_name-error")).to_have_text(WRONG_NAME)
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_attribute("aria-describedby", "typed_name-hint typed_name-error")
    expect(name).to_have_value("Susan Jones")
    expect(page.get_by_role("button", name=SIGN)).to_be_visible()
    if js:  # the whole page came back: the pad is set up again, empty
        expect(page.get_by_label("Signature box")).to_be_visible()
    shot(page, artifacts, "wrong-name", js)
    assert get_one(app, Signature) is None
    assert get_one(app, StoredFile) is None  # the drawing was not kept either
    assert_quiet_console(page)


@pytest.mark.parametrize("js", [True], ids=["js"])
def test_clear_empties_the_drawing_and_a_finger_draws(watched, js, shift, make, app, artifacts):
    """Drawn, then cleared: signed by typed name only. A touch stroke on a second visit: drawn."""
    page = watched
    open_visit(page, shift.visit.id)
    canvas = pad(page)
    draw_with_mouse(page)
    assert canvas.evaluate(INK) > 0
    page.get_by_role("button", name="Clear the drawing").click()
    assert canvas.evaluate(INK) == 0, "Clear the drawing left ink on the canvas"
    sign_as(page, "Margaret Jones")
    expect_signed(page, shift.visit.id)
    signature = get_one(app, Signature)
    assert (signature.method, signature.drawing_file_id) == ("typed", None)
    assert get_one(app, StoredFile) is None

    second = completed(make, shift.client_a, START.replace(day=4), caregiver=shift.ana, task=shift.bathing)
    page.goto(f"/signatures/{second.id}")
    page.wait_for_load_state()
    canvas = pad(page)
    canvas.evaluate(
        "c => { window.__kinds = []; c.addEventListener('pointermove', e => __kinds.push(e.pointerType)); }"
    )
    draw_with_finger(page)
    assert set(page.evaluate("window.__kinds")) == {"touch"}
    assert canvas.evaluate(INK) > 0, "the touch stroke left no ink"
    shot(page, artifacts, "touch", js)
    with page.expect_request(lambda r: r.method == "POST") as posted:
        sign_as(page, "Margaret Jones")
    drawing = parse_qs(posted.value.post_data or "").get("drawing", [""])[0]
    sent = f"the pad sent {drawing[:60]!r} ({len(drawing)} characters)"
    assert drawing.startswith("data:image/png;base64,"), sent
    expect(page.get_by_text("Thank you. The visit of 2026-11-04 is signed.")).to_be_visible()
    touched = get_one(app, Signature, visit_id=second.id)
    assert touched.method == "drawn" and touched.drawing_file_id is not None
    assert_quiet_console(page)


def test_the_sign_page_fits_a_320_px_phone(watched, js, shift, artifacts):
    page = watched
    page.set_viewport_size(NARROW)
    open_visit(page, shift.visit.id)
    expect(page.get_by_role("heading", name="Sign this visit")).to_be_visible()
    shot(page, artifacts, "sign-320", js)
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"] + 1, too_wide(page)
    sign = page.get_by_role("button", name=SIGN).bounding_box()
    assert sign["height"] >= 44, f"the sign button is {sign['height']} px tall"
    assert page.get_by_label("Your full name").bounding_box()["height"] >= 44
    if js:
        canvas = pad(page).bounding_box()
        assert canvas["x"] >= 0 and canvas["x"] + canvas["width"] <= NARROW["width"], canvas
        assert canvas["height"] >= 80, canvas  # room to sign
        clear = page.get_by_role("button", name="Clear the drawing").bounding_box()
        assert clear["height"] >= 44, f"the clear button is {clear['height']} px tall"
    assert_quiet_console(page)
