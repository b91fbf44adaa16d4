"""Password rules (NIST SP 800-63B-4, password used alone) as a user meets them on the forms.

At least 15 characters, no composition rules, at least 64 accepted, common and breached
passwords refused, and neither the login name nor the agency name inside. The error sits next to
the field and the answer is a 422, for a plain post and for htmx alike.
"""

import html
import re
import unicodedata

import pytest

from app.auth.passwords import MAX_LENGTH, MIN_LENGTH
from app.models import User
from tests.conftest import PASSWORD, get_one, login

GOOD = "kettle orchard velvet lantern"


def change(client, new, confirm=None, current=PASSWORD, htmx=False):
    data = {
        "current_password": current,
        "new_password": new,
        "confirm_password": new if confirm is None else confirm,
    }
    return client.post_form("/password/change", data, htmx=htmx)


def field_tag(body, name):
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', body)
    assert match, f"no field {name}"
    return match.group(0)


def assert_error_next_to(body, name, message):
    tag = field_tag(body, name)
    assert 'aria-invalid="true"' in tag, tag
    assert f"{name}-error" in tag, tag
    match = re.search(rf'<p id="{name}-error" class="error">([^<]*)</p>', body)
    assert match, f"no error paragraph for {name}"
    assert message in html.unescape(match.group(1)), match.group(1)


def signs_in_with(app, password):
    return login(app.test_client(), "margaretjones", password).status_code == 303


@pytest.fixture
def margaret(client, world):
    assert login(client, "margaretjones").status_code == 303
    return world.margaret


REFUSED = [
    pytest.param("porch lamp", "Use at least 15 characters.", id="too-short"),
    pytest.param("fourteen chars", "Use at least 15 characters.", id="fourteen"),
    pytest.param("passwordstandard", "list of common or breached passwords", id="common-list"),
    pytest.param("qwertasdfgzxcvb", "list of common or breached passwords", id="common-list-15"),
    pytest.param("Password Standard", "list of common or breached passwords", id="common-list-spaced"),
    pytest.param("passwordpassword", "too easy to guess", id="repeated-word"),
    pytest.param("iloveyouiloveyou", "too easy to guess", id="common-phrase"),
    pytest.param("1234567890123456", "too easy to guess", id="sequence"),
    pytest.param("aaaaaaaaaaaaaaaaaaaa", "Avoid repeating the same few characters.", id="one-char"),
    pytest.param("margaretjones forever", "Do not use your login name", id="login-name"),
    pytest.param("I am MargaretJones 1942", "Do not use your login name", id="login-name-case"),
    pytest.param("Margaret Jones loves tea", "Do not use your login name", id="login-name-spaced"),
    pytest.param("alpha home care is lovely", "Do not use the agency's name", id="agency-name"),
    pytest.param("ALPHAHOMECARE2026!", "Do not use the agency's name", id="agency-name-case"),
    pytest.param(
        ("velvet lantern orchard kettle harbour " * 4)[: MAX_LENGTH + 1], "Use at most", id="too-long"
    ),
]


@pytest.mark.parametrize(("password", "message"), REFUSED)
def test_weak_password_is_refused_next_to_the_field(app, client, margaret, password, message):
    response = change(client, password)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" in body
    assert_error_next_to(body, "new_password", message)
    # Nothing changed: the old password still signs in.
    assert signs_in_with(app, PASSWORD)
    assert get_one(app, User, id=margaret.id).password_changed_at is None


@pytest.mark.parametrize(
    ("password", "message"),
    [
        pytest.param("porch lamp", "Use at least 15 characters.", id="too-short"),
        pytest.param("passwordstandard", "list of common or breached passwords", id="common-list"),
        pytest.param("margaretjones forever", "Do not use your login name", id="login-name"),
        pytest.param("alpha home care is lovely", "Do not use the agency's name", id="agency-name"),
    ],
)
def test_weak_password_by_htmx_gets_the_form_fragment(client, margaret, password, message):
    response = change(client, password, htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" not in body and body.lstrip().startswith("<form")
    assert 'id="password-form"' in body
    assert_error_next_to(body, "new_password", message)


def test_typed_twice_differently_is_refused_at_the_second_field(client, margaret):
    response = change(client, GOOD, confirm=GOOD + " ")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert_error_next_to(body, "confirm_password", "The two passwords differ.")


def test_empty_new_password_is_refused(client, margaret):
    response = change(client, "", confirm="")
    assert response.status_code == 422
    assert_error_next_to(response.get_data(as_text=True), "new_password", "Choose a password.")


@pytest.mark.parametrize(
    "password",
    [
        pytest.param(GOOD, id="four-words"),
        pytest.param("porch lamp river", id="three-words"),
        pytest.param("tortoise saxophone harbour", id="no-capitals-no-digits-no-symbols"),
        pytest.param(("velvet lantern orchard kettle " * 3)[:64], id="64-characters"),
        pytest.param(("velvet lantern orchard kettle " * 3)[:72], id="72-characters"),
        pytest.param(("velvet lantern orchard kettle harbour " * 3)[:100], id="100-characters"),
        pytest.param(("velvet lantern orchard kettle harbour " * 4)[:MAX_LENGTH], id="longest"),
        pytest.param("café crème brûlée au matin", id="accents"),
        pytest.param("  leading and trailing spaces kept  ", id="spaces"),
        pytest.param("Ω😀 sunflower Ø paperclip", id="emoji-and-symbols"),
    ],
)
def test_good_password_is_accepted_and_signs_in(app, client, margaret, password):
    response = change(client, password)
    assert response.status_code == 303, re.findall(r'class="error">([^<]*)', response.get_data(as_text=True))
    assert signs_in_with(app, password)
    assert not signs_in_with(app, PASSWORD)


def test_good_password_by_htmx_redirects_the_whole_page(app, client, margaret):
    response = change(client, GOOD, htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/dashboard"
    assert signs_in_with(app, GOOD)


def test_minimum_is_fifteen_characters_exactly(app, client, margaret):
    assert MIN_LENGTH == 15
    assert change(client, "harbour kettles").status_code == 303  # 15 characters
    assert signs_in_with(app, "harbour kettles")


def test_the_same_password_typed_on_another_keyboard_signs_in(app, client, margaret):
    composed = unicodedata.normalize("NFC", "café crème brûlée au matin")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert change(client, composed).status_code == 303
    assert signs_in_with(app, decomposed)


def test_only_the_hash_is_stored(app, client, margaret):
    change(client, GOOD)
    stored = get_one(app, User, id=margaret.id).password_hash
    assert stored.startswith("$argon2id$")
    assert GOOD not in stored


def test_form_suggests_words_and_lets_password_managers_work(client, margaret):
    body = client.get("/password/change").get_data(as_text=True)
    assert "At least 15 characters. Three or four everyday words are easy to remember." in body
    new = field_tag(body, "new_password")
    assert 'type="password"' in new
    assert 'autocomplete="new-password"' in new
    assert 'aria-describedby="new_password-hint"' in new
    # No maxlength that would cut a long passphrase short, and no composition pattern.
    maxlength = re.search(r'maxlength="(\d+)"', new)
    assert maxlength is None or int(maxlength.group(1)) >= 64
    assert "pattern=" not in new
    assert 'autocomplete="current-password"' in field_tag(body, "current_password")


def test_welcome_link_applies_the_same_rules(app, client, world):
    from app.auth.tokens import make_token
    from tests.conftest import in_app

    with in_app(app) as session:
        token = make_token(session.get(User, world.harold.id), "welcome")
    path = f"/welcome/{token}"
    for password, message in [
        ("too short", "Use at least 15 characters."),
        ("haroldsmith is here", "Do not use your login name"),
        ("my alpha home care account", "Do not use the agency's name"),
        ("passwordstandard", "list of common or breached passwords"),
    ]:
        response = client.post_form(path, {"new_password": password, "confirm_password": password})
        assert response.status_code == 422
        assert_error_next_to(response.get_data(as_text=True), "new_password", message)
    assert client.get(path).status_code == 200  # still unused


def test_agency_name_of_the_host_is_what_counts(app, client, world):
    # "beta home care" is another agency's name: fine for a user of Alpha.
    assert login(client, "margaretjones").status_code == 303
    assert change(client, "beta home care fan club").status_code == 303


def test_login_accepts_the_longest_password(app, client, margaret):
    longest = ("velvet lantern orchard kettle harbour " * 4)[:MAX_LENGTH]
    assert change(client, longest).status_code == 303
    assert signs_in_with(app, longest)
    assert not signs_in_with(app, longest[:-1])


def test_profile_password_is_the_same_change_password_page(app, world):
    """/profile/password (the URL contract's name) is the change-password page: the current
    password is required and the change ends the other sessions."""
    phone, laptop = app.test_client(), app.test_client()
    login(phone, "margaretjones")
    login(laptop, "margaretjones")
    page = phone.get("/profile/password")
    assert page.status_code == 200 and 'name="current_password"' in page.get_data(as_text=True)
    new = "a brand new phrase of everyday words"
    fields = {"new_password": new, "confirm_password": new}
    wrong = phone.post_form("/profile/password", {"current_password": "not it", **fields})
    assert wrong.status_code == 422
    assert phone.post_form("/profile/password", {"current_password": PASSWORD, **fields}).status_code == 303
    assert phone.get("/dashboard").status_code == 200
    assert laptop.get("/dashboard").headers["Location"].startswith("/login")
