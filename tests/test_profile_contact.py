"""/profile/contact: names, phone, postal address and e-mail; a new address waits for its link."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.models import Agency, AuditEvent, CarePlan, OutboxMail, User
from app.services import profile as profile_service
from tests.conftest import HOST_B, get_one, in_app, login, recorded_sql
from tests.test_auth import token_for

PHONE_MESSAGE = "Enter a phone number like (312) 555-0142."
EMAIL_MESSAGE = "Enter an e-mail address like name@example.com."
LINK_RE = re.compile(r"http://alpha\.localhost/profile/contact/confirm/[A-Za-z0-9_.\-]+")
# What the office knows about Margaret's care: none of it may reach a mail.
CARE_WORDS = ("Insulin", "dementia", "Margaret Jones needs")


def contact_data(**changes):
    data = {
        "first_name": "Margaret",
        "last_name": "Jones",
        "phone": "",
        "address": "",
        "email": "margaretjones@example.com",
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def mails(app):
    with in_app(app) as session:
        rows = session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        session.expunge_all()
        return rows


def actions(app, user_id):
    with in_app(app) as session:
        query = select(AuditEvent).where(AuditEvent.target_id == user_id).order_by(AuditEvent.id)
        return [(e.action, e.details) for e in session.scalars(query) if e.action.startswith("profile.")]


def field_error(html, name):
    match = re.search(rf'<p id="{name}-error" class="error">([^<]*)</p>', html)
    return match.group(1) if match else None


@pytest.fixture
def care(make, world):
    """Health information about Margaret that no mail may carry."""
    make.save(
        CarePlan(
            agency_id=world.a.id,
            client_id=world.client_a.id,
            goals="Margaret Jones needs help with dementia",
            special_instructions="Insulin at 8 am",
        )
    )


# --- the page and the plain round trip -----------------------------------------------------------


def test_the_page_shows_the_account_with_the_phone_in_national_format(app, make, client, world):
    user = get_one(app, User, id=world.margaret.id)
    user.phone, user.address = "+13125550142", "12 Elm Street\nSpringfield, IL 62701"
    make.save(user)
    login(client, "margaretjones")
    response = client.get("/profile/contact")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html
    assert 'value="(312) 555-0142"' in html
    assert 'value="margaretjones@example.com"' in html
    assert "12 Elm Street\nSpringfield, IL 62701</textarea>" in html
    assert 'autocomplete="tel"' in html and 'inputmode="tel"' in html
    assert "For example (312) 555-0142." in html


def test_saving_stores_e164_and_audits_field_names_only(app, client, world):
    login(client, "margaretjones")
    response = client.post_form(
        "/profile/contact",
        contact_data(first_name=" Maggie ", phone="312.555.0199", address="12 Elm Street\r\nSpringfield"),
        follow=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.request.path == "/profile/contact"
    assert "Your contact information is saved." in html
    assert 'value="(312) 555-0199"' in html and 'value="Maggie"' in html
    user = get_one(app, User, id=world.margaret.id)
    assert (user.first_name, user.phone) == ("Maggie", "+13125550199")
    assert user.address == "12 Elm Street\r\nSpringfield"
    assert user.email == "margaretjones@example.com" and user.pending_email is None
    assert actions(app, user.id) == [
        ("profile.contact_changed", {"changed": ["first_name", "phone", "address"]})
    ]
    assert mails(app) == []


def test_saving_with_htmx_answers_the_fragment(app, client, world):
    login(client, "margaretjones")
    response = client.post_form("/profile/contact", contact_data(phone="+44 20 7946 0958"), htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="contact">')
    assert "Your contact information is saved." in html
    assert 'value="+44 20 7946 0958"' in html  # a number abroad is shown with its country code
    assert get_one(app, User, id=world.margaret.id).phone == "+442079460958"


def test_an_unchanged_form_changes_nothing(app, client, world):
    login(client, "margaretjones")
    response = client.post_form("/profile/contact", contact_data(email="MargaretJones@EXAMPLE.com"))
    assert response.status_code == 303
    assert actions(app, world.margaret.id) == [] and mails(app) == []


@pytest.mark.parametrize("phone", ["555-0142", "12345", "call me", "+1 999 555 0142", "3" * 40])
def test_a_bad_phone_number_is_refused_beside_the_field(app, client, world, phone):
    login(client, "margaretjones")
    for htmx in (False, True):
        response = client.post_form("/profile/contact", contact_data(phone=phone, first_name="X"), htmx=htmx)
        html = response.get_data(as_text=True)
        assert response.status_code == 422
        assert field_error(html, "phone") == PHONE_MESSAGE
        assert ("<html" in html) is not htmx
    user = get_one(app, User, id=world.margaret.id)
    assert (user.first_name, user.phone) == ("Margaret", None)


def test_an_extension_is_kept(app, client, world):
    login(client, "margaretjones")
    client.post_form("/profile/contact", contact_data(phone="312-555-0142 x12"))
    assert get_one(app, User, id=world.margaret.id).phone == "+13125550142;ext=12"
    assert 'value="(312) 555-0142 ext. 12"' in client.get("/profile/contact").get_data(as_text=True)


def test_the_phone_region_comes_from_the_agency_time_zone(app, make, world):
    agency = get_one(app, Agency, id=world.a.id)
    assert profile_service.phone_region(agency) == "US"
    agency.time_zone = "Europe/Madrid"
    assert profile_service.phone_region(agency) == "ES"
    assert profile_service.normalize_phone("912 34 56 78", "ES") == "+34912345678"
    agency.time_zone = "UTC"
    assert profile_service.phone_region(agency) == "US"


@pytest.mark.parametrize(
    "email",
    ["not-an-address", "name@", "name@@example.com", "josé@example.com", "a b@example.com", "x@localhost"],
)
def test_a_bad_email_address_is_refused_beside_the_field(app, client, world, email):
    login(client, "margaretjones")
    response = client.post_form("/profile/contact", contact_data(email=email))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "email") == EMAIL_MESSAGE
    user = get_one(app, User, id=world.margaret.id)
    assert user.email == "margaretjones@example.com" and user.pending_email is None
    assert mails(app) == []


def test_names_are_required(app, client, world):
    login(client, "margaretjones")
    response = client.post_form("/profile/contact", contact_data(first_name="  ", last_name=""))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "first_name") == "Enter your first name."
    assert field_error(html, "last_name") == "Enter your last name."


# --- a new e-mail address ------------------------------------------------------------------------


def request_change(client, address="New.Address@Example.ORG", htmx=False):
    login(client, "margaretjones")
    return client.post_form("/profile/contact", contact_data(email=address), htmx=htmx)


def confirm_link(app, to="New.Address@example.org") -> str:
    (mail,) = [m for m in mails(app) if m.to_address == to]
    return LINK_RE.search(mail.body_text).group(0).removeprefix("http://alpha.localhost")


def test_a_new_address_waits_for_its_link_and_both_addresses_hear_of_it(app, client, world, care):
    response = request_change(client)
    assert response.status_code == 303
    html = client.get(response.location).get_data(as_text=True)
    assert "We sent a link to New.Address@example.org; your address changes when you open it." in html
    user = get_one(app, User, id=world.margaret.id)
    assert user.email == "margaretjones@example.com"  # still the address in use
    assert user.pending_email == "New.Address@example.org"  # the domain normalized, the rest kept
    new, old = mails(app)
    assert new.to_address == "New.Address@example.org"
    assert LINK_RE.search(new.body_text), new.body_text
    assert "24 hours" in new.body_text and "Alpha Home Care" in new.subject
    assert old.to_address == "margaretjones@example.com"
    assert "N***@example.org" in old.body_text and "call the office" in old.body_text
    assert "New.Address" not in old.body_text and "/confirm/" not in old.body_text
    for mail in (new, old):
        for word in CARE_WORDS:
            assert word not in mail.subject + mail.body_text
    assert [a for a, _ in actions(app, user.id)] == ["profile.email_change_requested"]
    assert actions(app, user.id)[0][1] == {}  # no address in the audit trail


def test_a_new_address_with_htmx_says_where_the_link_went(app, client, world):
    response = request_change(client, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert "We sent a link to New.Address@example.org; your address changes when you open it." in html


def test_the_link_shows_a_button_and_only_the_button_confirms(app, client, world):
    request_change(client)
    path = confirm_link(app)
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Use New.Address@example.org as the e-mail address of your Alpha Home Care portal account?" in html
    assert (
        get_one(app, User, id=world.margaret.id).pending_email == "New.Address@example.org"
    )  # a GET: nothing
    response = client.post_form(path)
    assert response.status_code == 303 and response.location == "/profile/contact"
    html = client.get("/profile/contact").get_data(as_text=True)
    assert "Your e-mail address is now New.Address@example.org." in html
    user = get_one(app, User, id=world.margaret.id)
    assert user.email == "New.Address@example.org" and user.pending_email is None
    assert user.email_confirmed_at is not None
    assert "profile.email_confirmed" in [a for a, _ in actions(app, user.id)]
    # Once only.
    again = client.get(path)
    assert again.status_code == 404 and "This link no longer works" in again.get_data(as_text=True)


def test_the_link_works_without_signing_in(app, client, world):
    request_change(client)
    path = confirm_link(app)
    phone = app.test_client()  # the mail program on another device, not signed in
    assert phone.get(path).status_code == 200
    response = phone.post_form(path)
    assert response.status_code == 303 and response.location == "/login"
    assert get_one(app, User, id=world.margaret.id).email == "New.Address@example.org"
    assert phone.post_form(path, token_from="/login").status_code == 404


def test_a_second_request_kills_the_first_link(app, client, world):
    request_change(client)
    first = confirm_link(app)
    client.post_form("/profile/contact", contact_data(email="other@example.org"))
    assert client.get(first).status_code == 404
    second = confirm_link(app, to="other@example.org")
    assert client.post_form(second).status_code == 303
    assert get_one(app, User, id=world.margaret.id).email == "other@example.org"


def test_the_change_can_be_cancelled(app, client, world):
    request_change(client)
    path = confirm_link(app)
    page = client.get("/profile/contact").get_data(as_text=True)
    assert "Cancel the change of address" in page
    response = client.post_form("/profile/contact/cancel-email", token_from="/profile/contact", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert "The change of e-mail address is cancelled." in html and "We sent a link" not in html
    assert get_one(app, User, id=world.margaret.id).pending_email is None
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("kind", ["garbage", "expired", "other_agency", "password_changed"])
def test_bad_links_are_refused(app, make, client, world, monkeypatch, kind):
    request_change(client)
    path = confirm_link(app)
    host = None
    if kind == "garbage":
        path = "/profile/contact/confirm/not-a-token"
    elif kind == "expired":
        token = token_for(
            app, world.margaret.id, "email_confirm", age=timedelta(hours=25), monkeypatch=monkeypatch
        )
        path = f"/profile/contact/confirm/{token}"
    elif kind == "other_agency":
        make.user(world.b, "margaretjones", name="Margaret Beta")
        host = HOST_B
    else:
        user = get_one(app, User, id=world.margaret.id)
        user.email_nonce = "0" * 32  # what every password change does to outstanding links
        make.save(user)
    other = app.test_client()
    response = other.get(path, host=host)
    assert response.status_code == 404
    assert "This link no longer works" in response.get_data(as_text=True)
    token = other.csrf_token("/login", host=host)
    response = other.post(path, data={"csrf_token": token}, headers={"Host": host or "alpha.localhost"})
    assert response.status_code == 404
    assert get_one(app, User, id=world.margaret.id).email == "margaretjones@example.com"


def test_removing_the_address_takes_effect_at_once(app, client, world):
    login(client, "margaretjones")
    response = client.post_form("/profile/contact", contact_data(email=""), follow=True)
    assert "Your e-mail address is removed." in response.get_data(as_text=True)
    user = get_one(app, User, id=world.margaret.id)
    assert (user.email, user.email_confirmed_at, user.pending_email) == (None, None, None)
    assert [a for a, _ in actions(app, user.id)] == ["profile.email_removed"]
    (notice,) = mails(app)
    assert notice.to_address == "margaretjones@example.com" and "removed" in notice.body_text
    # Saved again without an address: nothing more to remove, nothing mailed.
    client.post_form("/profile/contact", contact_data(email=""))
    assert len(mails(app)) == 1


def test_an_address_for_an_account_that_had_none(app, client, world, make):
    user = get_one(app, User, id=world.margaret.id)
    user.email, user.email_confirmed_at = None, None
    make.save(user)
    request_change(client, "first@example.org")
    (mail,) = mails(app)  # nobody else to tell
    assert mail.to_address == "first@example.org"
    # Saving the form again, its e-mail field still empty, keeps the change waiting.
    client.post_form("/profile/contact", contact_data(email="", phone="312 555 0142"))
    assert get_one(app, User, id=world.margaret.id).pending_email == "first@example.org"


# --- who may, and hostile input -----------------------------------------------------------------


def test_staff_get_404(client, world):
    login(client, "admin")
    assert client.get("/profile/contact").status_code == 404
    token = client.csrf_token("/password/change")
    response = client.post("/profile/contact", data={**contact_data(), "csrf_token": token})
    assert response.status_code == 404


HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }}{% print 1 %}",
    "Robert'); DROP TABLE users;--",
    "\u202eevil\u202c",
    "x" * 5000,
    "😀" * 30,
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("name", ["first_name", "last_name", "phone", "address", "email"])
def test_hostile_strings_never_fail_and_never_come_back_as_html(app, client, world, name, value):
    login(client, "margaretjones")
    for htmx in (False, True):
        response = client.post_form("/profile/contact", contact_data(**{name: value}), htmx=htmx)
        assert response.status_code in (200, 303, 422), response.status
        html = client.get("/profile/contact").get_data(as_text=True) if response.status_code == 303 else ""
        html += response.get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html
    user = get_one(app, User, id=world.margaret.id)
    assert user.pending_email is None or "<" not in user.pending_email


def test_the_pages_cost_at_most_ten_statements(app, client, world):
    login(client, "margaretjones")
    client.get("/profile/contact")
    with recorded_sql(app) as shown:
        assert client.get("/profile/contact").status_code == 200
    token = client.csrf_token("/profile/contact")
    with recorded_sql(app) as saved:
        response = client.post(
            "/profile/contact", data={**contact_data(phone="3125550142"), "csrf_token": token}
        )
        assert response.status_code == 303
    with recorded_sql(app) as changed:
        response = client.post(
            "/profile/contact", data={**contact_data(email="new@example.org"), "csrf_token": token}
        )
        assert response.status_code == 303
    assert len(shown) <= 10, shown
    assert len(saved) <= 10, saved
    assert len(changed) <= 10, changed


def test_an_account_saves_its_contact_details_at_most_ten_times_an_hour(client, world):
    """Each save may mail a confirmation link to whatever address is typed: a budget per account
    keeps a signed-in account from flooding someone's inbox."""
    login(client, "margaretjones")
    token = client.csrf_token("/profile/contact")
    answers = []
    for n in range(11):
        data = {
            "csrf_token": token,
            "first_name": "Margaret",
            "last_name": "Jones",
            "email": f"m{n}@example.com",
        }
        answers.append(client.post("/profile/contact", data=data).status_code)
    assert answers[:10] == [303] * 10 and answers[10] == 429
