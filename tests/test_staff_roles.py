"""Staff roles: the owner and office staff (DESIGN.md, "People and what each may see").

Office staff run people, schedule requests and the message inbox; only an owner manages staff,
office and payment settings and reads the audit log, and only an owner acts on a staff or owner
account. The matrix is unit tested on in-memory users; the HTTP tests show that an office staff
member (`carolwhite`, as in the demo) gets 404 for each of those and leaves the owner's account as
it was.
"""

import pytest
from sqlalchemy import func, select

from app.auth import policies
from app.auth.policies import (
    AREA_AUDIT,
    AREA_BILLING,
    AREA_CARE_PLANS,
    AREA_DOCUMENTS,
    AREA_HOME,
    AREA_MESSAGES,
    AREA_PEOPLE,
    AREA_SCHEDULE_REQUESTS,
    AREA_SETTINGS,
    AREA_STAFF,
    AREA_VISITS,
    can_act_on,
    can_manage,
)
from app.models import Agency, OutboxMail, User
from tests.conftest import get_one, in_app, login

# --- the matrix ---------------------------------------------------------------------------------


def _user(role, is_owner=False, agency_id=1):
    return User(agency_id=agency_id, role=role, is_owner=is_owner, first_name="A", last_name="B")


OWNER = _user("staff", is_owner=True)
OFFICE = _user("staff")
PORTAL = _user("portal")
MAY_MANAGE = {
    "owner": {
        AREA_HOME,
        AREA_PEOPLE,
        AREA_SCHEDULE_REQUESTS,
        AREA_MESSAGES,
        AREA_BILLING,
        AREA_CARE_PLANS,
        AREA_DOCUMENTS,
        AREA_VISITS,
        AREA_SETTINGS,
        AREA_STAFF,
        AREA_AUDIT,
    },
    "office": {
        AREA_HOME,
        AREA_PEOPLE,
        AREA_SCHEDULE_REQUESTS,
        AREA_MESSAGES,
        AREA_BILLING,
        AREA_CARE_PLANS,
        AREA_DOCUMENTS,
        AREA_VISITS,
    },
    "portal": set(),
}
WHO = {"owner": OWNER, "office": OFFICE, "portal": PORTAL}


def test_every_area_is_in_the_matrix():
    assert policies.AREAS == MAY_MANAGE["owner"]


@pytest.mark.parametrize("area", sorted(policies.AREAS))
@pytest.mark.parametrize("who", sorted(WHO))
def test_can_manage(who, area):
    assert can_manage(WHO[who], area) is (area in MAY_MANAGE[who])


@pytest.mark.parametrize("area", [None, "", "invoices", "Settings"])
def test_an_unknown_area_is_refused_even_to_the_owner(area):
    assert can_manage(OWNER, area) is False


ACT_ON = [
    ("owner", _user("staff", is_owner=True), True),
    ("owner", _user("staff"), True),
    ("owner", _user("portal"), True),
    ("office", _user("staff", is_owner=True), False),
    ("office", _user("staff"), False),
    ("office", _user("portal"), True),
    ("portal", _user("portal"), False),
    ("owner", _user("portal", agency_id=2), False),
    ("owner", _user("staff", agency_id=2), False),
    ("office", _user("portal", agency_id=2), False),
]


@pytest.mark.parametrize(
    ("who", "person", "allowed"),
    ACT_ON,
    ids=[f"{w}-{p.role}{'-owner' if p.is_owner else ''}-agency{p.agency_id}" for w, p, _ in ACT_ON],
)
def test_can_act_on(who, person, allowed):
    assert can_act_on(WHO[who], person) is allowed


def test_an_owner_acts_on_their_own_account():
    assert can_act_on(OWNER, OWNER) is True
    assert can_act_on(OFFICE, OFFICE) is False


# --- every admin view declares its area ---------------------------------------------------------


def _admin_endpoints(app):
    return sorted({r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")})


def test_every_admin_endpoint_declares_a_known_area(app):
    endpoints = _admin_endpoints(app)
    assert "admin.settings" in endpoints and "admin.lock" in endpoints
    undeclared = {e: getattr(app.view_functions[e], "admin_area", None) for e in endpoints}
    assert {e: a for e, a in undeclared.items() if a not in policies.AREAS} == {}


def test_a_view_without_an_area_is_closed_even_to_the_owner(app, client, world, monkeypatch):
    login(client, "admin")
    assert client.get("/admin/").status_code == 200
    monkeypatch.delattr(app.view_functions["admin.index"], "admin_area")
    assert client.get("/admin/").status_code == 404


# --- over HTTP ----------------------------------------------------------------------------------

ACTIONS = {
    "credentials": {},
    "reset-email": {},
    "temporary-password": {"temporary_password": "Temporary-2024-pass-long"},
    "lock": {"locked": "1"},
}
SETTINGS_FORM = {
    "version": "1",
    "name": "Taken Over Care",
    "contact_email": "office@alpha.example.org",
    "contact_phone": "",
    "address": "",
    "time_zone": "America/Chicago",
    "schedule_request_recipient_id": "0",
    "message_recipient_id": "0",
    "schedule_request_horizon_days": "90",
    "message_template": "",
    "session_idle_minutes": "15",
    "payment_gateway": "stripe",
}


@pytest.fixture
def carol(make, world):
    return make.user(world.a, "carolwhite", role="staff", name="Carol White")


@pytest.fixture
def dana(make, world):
    """A second office staff member, so staff-on-staff is tested apart from staff-on-owner."""
    return make.user(world.a, "danagreen", role="staff", name="Dana Green")


def _post(client, path, data, follow=False):
    return client.post_form(path, data, token_from="/admin/people/new", follow=follow)


def _account(app, user):
    row = get_one(app, User, id=user.id)
    return (row.password_hash, row.is_locked, row.must_change_password, row.session_stamp, row.token_nonce)


def _mail_count(app):
    with in_app(app) as session:
        return session.scalar(select(func.count(OutboxMail.id)))


def _assert_done(app, action, person, before, mails):
    """What each action leaves behind: a mail queued, the account locked, or a new password."""
    password_hash, is_locked, must_change = _account(app, person)[:3]
    if action in ("credentials", "reset-email"):
        assert _mail_count(app) == mails + 1
    elif action == "lock":
        assert is_locked is True
    else:
        assert password_hash != before[0] and must_change is True


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("target", ["owner", "other_staff"])
def test_office_staff_cannot_act_on_staff_accounts(app, client, world, carol, dana, target, action):
    person = {"owner": world.staff_a, "other_staff": dana}[target]
    before, mails = _account(app, person), _mail_count(app)
    login(client, "carolwhite")
    response = _post(client, f"/admin/people/{person.id}/{action}", ACTIONS[action])
    assert response.status_code == 404
    assert _account(app, person) == before
    assert _mail_count(app) == mails


@pytest.mark.parametrize("target", ["owner", "other_staff"])
def test_office_staff_see_a_staff_account_read_only(client, world, carol, dana, target):
    person = {"owner": world.staff_a, "other_staff": dana}[target]
    login(client, "carolwhite")
    response = client.get(f"/admin/people/{person.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert person.username in page
    assert f"/admin/people/{person.id}/" not in page  # no action form at all
    assert "Only the owner of the agency can change a staff account." in page


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_office_staff_act_on_portal_users(app, client, world, carol, action):
    before, mails = _account(app, world.margaret), _mail_count(app)
    login(client, "carolwhite")
    assert client.get(f"/admin/people/{world.margaret.id}").status_code == 200
    response = _post(client, f"/admin/people/{world.margaret.id}/{action}", ACTIONS[action])
    assert response.status_code == 303
    _assert_done(app, action, world.margaret, before, mails)


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_the_owner_acts_on_office_staff(app, client, world, carol, action):
    before, mails = _account(app, carol), _mail_count(app)
    login(client, "admin")
    page = client.get(f"/admin/people/{carol.id}").get_data(as_text=True)
    assert f'action="/admin/people/{carol.id}/{action}"' in page
    assert _post(client, f"/admin/people/{carol.id}/{action}", ACTIONS[action]).status_code == 303
    _assert_done(app, action, carol, before, mails)


def test_office_settings_are_the_owners_alone(app, client, world, carol):
    login(client, "carolwhite")
    assert client.get("/admin/settings").status_code == 404
    response = _post(client, "/admin/settings", SETTINGS_FORM)
    assert response.status_code == 404
    agency = get_one(app, Agency, id=world.a.id)
    assert (agency.name, agency.payment_gateway) == ("Alpha Home Care", "none")
    home = client.get("/admin/").get_data(as_text=True)
    assert "/admin/people" in home and "/admin/schedule-requests" in home and "/admin/messages" in home
    assert "/admin/settings" not in home

    other = app.test_client()
    login(other, "admin")
    assert "/admin/settings" in other.get("/admin/").get_data(as_text=True)
    saved = other.post_form("/admin/settings", SETTINGS_FORM)
    assert saved.status_code == 303
    assert get_one(app, Agency, id=world.a.id).payment_gateway == "stripe"


NEW_STAFF = {
    "first_name": "Erin",
    "last_name": "Moss",
    "email": "erin@example.org",
    "phone": "",
    "role": "staff",
    "client_id": "",
    "relationship": "self",
    "access": "temporary",
    "temporary_password": "Temporary-2024-pass-long",
}


def test_only_the_owner_adds_office_staff(app, client, world, carol):
    login(client, "carolwhite")
    form = client.get("/admin/people/new").get_data(as_text=True)
    assert 'value="portal"' in form and 'value="staff"' not in form
    response = _post(client, "/admin/people/new", NEW_STAFF)
    assert response.status_code == 422
    assert "Only the owner of the agency can add office staff." in response.get_data(as_text=True)
    assert get_one(app, User, username="erinmoss") is None

    other = app.test_client()
    login(other, "admin")
    assert 'value="staff"' in other.get("/admin/people/new").get_data(as_text=True)
    assert _post(other, "/admin/people/new", NEW_STAFF).status_code == 303
    created = get_one(app, User, username="erinmoss")
    assert created.role == "staff" and created.is_owner is False
