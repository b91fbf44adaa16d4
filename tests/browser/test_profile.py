"""Contact details and the profile picture in a real browser, with JavaScript on and off."""

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from app.models import User
from tests.browser.test_sign_in import csp_violations, expect_path, sign_in
from tests.conftest import PASSWORD, get_one

pytestmark = pytest.mark.browser


def test_contact_details_refuse_a_bad_phone_then_save(page, js, world, app):
    page.goto("/profile/contact")
    sign_in(page, "margaretjones", PASSWORD)
    expect_path(page, "/profile/contact")
    page.get_by_label("Phone").fill("12")
    page.get_by_role("button", name="Save contact information").click()
    expect(page.get_by_text("Enter a phone number like")).to_be_visible()
    page.get_by_label("Phone").fill("312 555 0142")
    page.get_by_role("button", name="Save contact information").click()
    expect(page.get_by_text("Your contact information is saved.")).to_be_visible()
    assert get_one(app, User, id=world.margaret.id).phone == "+13125550142"
    expect(page.get_by_label("Phone")).to_have_value("(312) 555-0142")
    assert csp_violations(page) == [], page.console_messages


def test_upload_then_remove_a_picture(page, js, world, app, tmp_path, artifacts):
    photo = tmp_path / "me.png"
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), "teal").save(buffer, "PNG")
    photo.write_bytes(buffer.getvalue())
    not_a_photo = tmp_path / "notes.png"
    not_a_photo.write_text("just some text, renamed")

    page.goto("/profile/picture")
    sign_in(page, "margaretjones", PASSWORD)
    page.get_by_label("Choose a photo").set_input_files(str(not_a_photo))
    page.get_by_role("button", name="Upload picture").click()
    expect(page.get_by_text("Choose a photo in JPEG, PNG or WebP format.")).to_be_visible()
    assert get_one(app, User, id=world.margaret.id).photo_file_id is None

    page.get_by_label("Choose a photo").set_input_files(str(photo))
    page.get_by_role("button", name="Upload picture").click()
    expect(page.get_by_text("Your picture is saved.")).to_be_visible()
    assert get_one(app, User, id=world.margaret.id).photo_file_id is not None
    page.screenshot(path=artifacts / f"profile-picture-390-{'js' if js else 'nojs'}.png", full_page=True)
    page.get_by_role("button", name="Remove picture").click()
    expect(page.get_by_text("Your picture is removed.")).to_be_visible()
    assert get_one(app, User, id=world.margaret.id).photo_file_id is None
    assert csp_violations(page) == [], page.console_messages
