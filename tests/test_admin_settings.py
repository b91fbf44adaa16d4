"""Office settings: saved, validated beside the field, audited, and only for the host's agency."""

from sqlalchemy import select

from app.models import Agency, AuditEvent
from tests.conftest import HOST_B, in_app, login


def _form(**overrides):
    data = {
        "version": "1",  # the version a fresh agency's form was opened at
        "name": "Alpha Home Care",
        "contact_email": "office@alpha.example.org",
        "contact_phone": "(312) 555-0100",
        "address": "",
        "time_zone": "America/Chicago",
        "schedule_request_recipient_id": "0",
        "schedule_request_horizon_days": "90",
        "message_template": "Hello,",
        "session_idle_minutes": "15",
        "payment_gateway": "manual",
    }
    data.update(overrides)
    return data


def test_staff_save_office_settings(app, client, world):
    login(client, "admin")
    data = _form(
        session_idle_minutes="30",
        schedule_request_recipient_id=str(world.staff_a.id),
        security_questions_enabled="y",
        invitations_need_approval="y",
    )  # e-mail sign-in left unticked: switched off
    response = client.post_form("/admin/settings", data, follow=True)
    assert "Office settings saved." in response.get_data(as_text=True)
    with in_app(app) as session:
        agency = session.get(Agency, world.a.id)
        assert agency.session_idle_minutes == 30
        assert agency.schedule_request_recipient_id == world.staff_a.id
        assert agency.security_questions_enabled is True
        assert agency.invitations_need_approval is True and agency.email_sign_in_enabled is False
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "office_settings.changed"))
        assert "session_idle_minutes" in event.details["fields"]


def test_bad_values_are_refused_beside_the_field(app, client, world):
    login(client, "admin")
    data = _form(name="", session_idle_minutes="0", contact_email="nope")
    response = client.post_form("/admin/settings", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter the agency&#39;s name." in page
    assert "Choose between 5 and 120 minutes." in page
    assert "Enter an e-mail address like office@example.com." in page


def test_recipient_must_be_staff_of_this_agency(app, client, world):
    login(client, "admin")
    data = _form(schedule_request_recipient_id=str(world.staff_b.id))
    assert client.post_form("/admin/settings", data).status_code == 422


def test_each_agency_edits_only_its_own_settings(app, client, world):
    login(client, "admin", host=HOST_B)
    page = client.get("/admin/settings", host=HOST_B).get_data(as_text=True)
    assert "Beta Home Care" in page and "Alpha Home Care" not in page
