"""Office account management: create people, credentials, temporary passwords, reset, lock."""

import re

from sqlalchemy import select

from app.models import ClientLink, OutboxMail, User
from tests.conftest import HOST_B, PASSWORD, in_app, login


def _new_person(**overrides):
    data = {
        "first_name": "Susan",
        "last_name": "Jones",
        "email": "susan.new@example.com",
        "phone": "",
        "role": "portal",
        "relationship": "emergency_contact",
        "access": "email",
        "temporary_password": "",
    }
    data.update(overrides)
    return data


def test_create_person_sends_one_time_welcome_link(app, client, world):
    login(client, "admin")
    response = client.post_form(
        "/admin/people/new", _new_person(client_id=str(world.client_a.id)), follow=True
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    # susanjones exists already, so the new login name gets a digit.
    assert "susanjones2" in page
    with in_app(app) as session:
        user = session.scalar(select(User).filter_by(username="susanjones2"))
        link = session.scalar(select(ClientLink).filter_by(user_id=user.id))
        assert link.relationship_kind == "emergency_contact" and link.client_id == world.client_a.id
        mail = session.scalar(select(OutboxMail).filter_by(to_address="susan.new@example.com"))
    assert "susanjones2" in mail.body_text
    token = re.search(r"/welcome/(\S+)", mail.body_text).group(1)

    client.post_form("/logout", token_from="/admin/")
    newcomer = app.test_client()
    form = newcomer.get(f"/welcome/{token}")
    assert "Welcome, Susan" in form.get_data(as_text=True)
    assert "susanjones2" in form.get_data(as_text=True)
    done = newcomer.post_form(
        f"/welcome/{token}",
        {"new_password": "maple river lantern cobalt", "confirm_password": "maple river lantern cobalt"},
        follow=True,
    )
    assert "My Alpha Home Care" in done.get_data(as_text=True)
    again = app.test_client().get(f"/welcome/{token}")
    assert again.status_code == 404


def test_temporary_password_must_be_changed_first(app, client, world):
    login(client, "admin")
    data = _new_person(
        first_name="Dorothy",
        last_name="Parker",
        email="",
        client_id=str(world.client_a2.id),
        relationship="self",
        access="temporary",
        temporary_password="Temporary-2024-pass-long",
    )
    assert client.post_form("/admin/people/new", data, follow=True).status_code == 200
    other = app.test_client()
    response = login(other, "dorothyparker", "Temporary-2024-pass-long")
    assert response.headers["Location"].endswith("/password/change")
    assert other.get("/dashboard").headers["Location"].endswith("/password/change")


def test_bad_input_is_shown_beside_the_field(client, world):
    login(client, "admin")
    response = client.post_form(
        "/admin/people/new", _new_person(first_name="", email="not-an-address"), follow=True
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter the first name." in page
    assert "Enter an e-mail address like name@example.com." in page


def test_lock_ends_sessions_and_unlock_restores(app, client, world):
    family = app.test_client()
    login(family, "susanjones")
    assert family.get("/dashboard").status_code == 200
    login(client, "admin")
    client.post_form(
        f"/admin/people/{world.susan.id}/lock", {"locked": "1"}, token_from="/admin/people/new", follow=True
    )
    assert family.get("/dashboard").status_code == 302
    assert login(app.test_client(), "susanjones").status_code == 422
    client.post_form(
        f"/admin/people/{world.susan.id}/lock", {"locked": "0"}, token_from="/admin/people/new", follow=True
    )
    assert login(app.test_client(), "susanjones", PASSWORD).status_code == 303


def test_reset_email_from_admin(app, client, world):
    login(client, "admin")
    page = client.post_form(
        f"/admin/people/{world.margaret.id}/reset-email", {}, token_from="/admin/people/new", follow=True
    ).get_data(as_text=True)
    assert "reset link was sent" in page
    with in_app(app) as session:
        mail = session.scalar(select(OutboxMail).filter_by(to_address=world.margaret.email))
    assert "/password/reset/" in mail.body_text


def test_other_agency_people_answer_404(client, world):
    login(client, "admin", host=HOST_B)
    assert client.get(f"/admin/people/{world.margaret.id}", host=HOST_B).status_code == 404
    response = client.post_form(
        f"/admin/people/{world.margaret.id}/lock",
        {"locked": "1"},
        host=HOST_B,
        token_from="/admin/people/new",
    )
    assert response.status_code == 404


def test_portal_users_cannot_reach_admin(client, world):
    login(client, "margaretjones")
    assert client.get("/admin/people").status_code == 404


def test_credentials_need_an_email_address(app, client, make, world):
    no_mail = make.user(world.a, "noemail", email=None)
    login(client, "admin")
    response = client.post_form(f"/admin/people/{no_mail.id}/credentials", {}, token_from="/admin/people/new")
    assert response.status_code == 422
    assert "has no e-mail address" in response.get_data(as_text=True)


def test_staff_cannot_lock_themselves(client, world):
    login(client, "admin")
    response = client.post_form(
        f"/admin/people/{world.staff_a.id}/lock", {"locked": "1"}, token_from="/admin/people/new"
    )
    assert response.status_code == 422
    assert "cannot lock your own account" in response.get_data(as_text=True)
