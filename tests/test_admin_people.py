"""Office account management: create people, credentials, temporary passwords, reset, lock."""

import re

from sqlalchemy import select

from app.models import ClientLink, OutboxMail, User
from tests.conftest import HOST_A, HOST_B, PASSWORD, csrf_token, in_app, login


def _post(client, path, data, host=HOST_A, follow=True):
    data = {"csrf_token": csrf_token(client, "/admin/people/new", host), **data}
    return client.post(path, data=data, headers={"Host": host}, follow_redirects=follow)


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
    response = _post(client, "/admin/people/new", _new_person(client_id=str(world.client_a.id)))
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

    client.post(
        "/logout", data={"csrf_token": csrf_token(client, "/admin/", HOST_A)}, headers={"Host": HOST_A}
    )
    newcomer = app.test_client()
    form = newcomer.get(f"/welcome/{token}", headers={"Host": HOST_A})
    assert "Welcome, Susan" in form.get_data(as_text=True)
    assert "susanjones2" in form.get_data(as_text=True)
    done = newcomer.post(
        f"/welcome/{token}",
        data={
            "csrf_token": csrf_token(newcomer, f"/welcome/{token}"),
            "new_password": "maple river lantern cobalt",
            "confirm_password": "maple river lantern cobalt",
        },
        headers={"Host": HOST_A},
        follow_redirects=True,
    )
    assert "My Alpha Home Care" in done.get_data(as_text=True)
    again = app.test_client().get(f"/welcome/{token}", headers={"Host": HOST_A})
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
    assert _post(client, "/admin/people/new", data).status_code == 200
    other = app.test_client()
    response = login(other, "dorothyparker", "Temporary-2024-pass-long")
    assert response.headers["Location"].endswith("/password/change")
    assert other.get("/dashboard", headers={"Host": HOST_A}).headers["Location"].endswith("/password/change")


def test_bad_input_is_shown_beside_the_field(client, world):
    login(client, "admin")
    response = _post(client, "/admin/people/new", _new_person(first_name="", email="not-an-address"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter the first name." in page
    assert "Enter an e-mail address like name@example.com." in page


def test_lock_ends_sessions_and_unlock_restores(app, client, world):
    family = app.test_client()
    login(family, "susanjones")
    assert family.get("/dashboard", headers={"Host": HOST_A}).status_code == 200
    login(client, "admin")
    _post(client, f"/admin/people/{world.susan.id}/lock", {"locked": "1"})
    assert family.get("/dashboard", headers={"Host": HOST_A}).status_code == 302
    assert login(app.test_client(), "susanjones").status_code == 422
    _post(client, f"/admin/people/{world.susan.id}/lock", {"locked": "0"})
    assert login(app.test_client(), "susanjones", PASSWORD).status_code == 303


def test_reset_email_from_admin(app, client, world):
    login(client, "admin")
    page = _post(client, f"/admin/people/{world.margaret.id}/reset-email", {}).get_data(as_text=True)
    assert "reset link was sent" in page
    with in_app(app) as session:
        mail = session.scalar(select(OutboxMail).filter_by(to_address=world.margaret.email))
    assert "/password/reset/" in mail.body_text


def test_other_agency_people_answer_404(client, world):
    login(client, "admin", host=HOST_B)
    assert client.get(f"/admin/people/{world.margaret.id}", headers={"Host": HOST_B}).status_code == 404
    response = _post(
        client, f"/admin/people/{world.margaret.id}/lock", {"locked": "1"}, host=HOST_B, follow=False
    )
    assert response.status_code == 404


def test_portal_users_cannot_reach_admin(client, world):
    login(client, "margaretjones")
    assert client.get("/admin/people", headers={"Host": HOST_A}).status_code == 404


def test_credentials_need_an_email_address(app, client, make, world):
    no_mail = make.user(world.a, "noemail", email=None)
    login(client, "admin")
    response = _post(client, f"/admin/people/{no_mail.id}/credentials", {}, follow=False)
    assert response.status_code == 422
    assert "has no e-mail address" in response.get_data(as_text=True)


def test_staff_cannot_lock_themselves(client, world):
    login(client, "admin")
    response = _post(client, f"/admin/people/{world.staff_a.id}/lock", {"locked": "1"}, follow=False)
    assert response.status_code == 422
    assert "cannot lock your own account" in response.get_data(as_text=True)
