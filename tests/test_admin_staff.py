"""Owner: staff accounts — the list, owner ↔ office staff, removal, and the last owner kept."""

import pytest
from sqlalchemy import insert, select

from app.models import AuditEvent, User
from tests.conftest import HOST_B, in_app, login, recorded_sql


@pytest.fixture
def carol(make, world):
    return make.user(world.a, "carolwhite", role="staff", name="Carol White")


def _owner(app, user_id) -> bool:
    with in_app(app) as session:
        return session.get(User, user_id).is_owner


def test_the_owner_lists_staff_with_role_and_last_sign_in(client, world, carol):
    login(client, "admin")
    page = client.get("/admin/staff").get_data(as_text=True)
    assert "Sam Rivera" in page and "Carol White" in page
    assert "Owner" in page and "Office staff" in page and "never" in page
    assert "Margaret Jones" not in page  # portal users are not staff
    assert "Bea Staff" not in page  # nor is another agency's owner
    assert 'href="/admin/people/new"' in page
    fragment = client.get("/admin/staff?q=carol", htmx=True).get_data(as_text=True)
    assert "<html" not in fragment and "Carol White" in fragment and "Sam Rivera" not in fragment


def test_office_staff_and_portal_users_get_404_everywhere(app, client, world, carol):
    for username, token_from in (("carolwhite", "/admin/"), ("margaretjones", "/dashboard")):
        other = app.test_client()
        login(other, username)
        assert other.get("/admin/staff").status_code == 404
        for path, data in (
            (f"/admin/staff/{world.staff_a.id}/role", {"owner": "0"}),
            (f"/admin/staff/{world.staff_a.id}/remove", {}),
        ):
            assert other.post_form(path, data, token_from=token_from).status_code == 404
    assert _owner(app, world.staff_a.id)


def test_another_agencys_staff_answer_404(client, world):
    login(client, "admin")
    response = client.post_form(f"/admin/staff/{world.staff_b.id}/remove", {}, token_from="/admin/staff")
    assert response.status_code == 404
    response = client.post_form(
        f"/admin/staff/{world.margaret.id}/role", {"owner": "1"}, token_from="/admin/staff"
    )
    assert response.status_code == 404  # a portal user is no staff member


def test_change_role_both_ways_and_audit_it(app, client, world, carol):
    login(client, "admin")
    page = client.post_form(
        f"/admin/staff/{carol.id}/role", {"owner": "1"}, token_from="/admin/staff", follow=True
    ).get_data(as_text=True)
    assert "Carol White is now an owner." in page
    assert _owner(app, carol.id)
    client.post_form(f"/admin/staff/{carol.id}/role", {"owner": "0"}, token_from="/admin/staff")
    assert not _owner(app, carol.id)
    bad = client.post_form(f"/admin/staff/{carol.id}/role", {"owner": "maybe"}, token_from="/admin/staff")
    assert bad.status_code == 422
    with in_app(app) as session:
        details = session.scalars(
            select(AuditEvent.details)
            .where(AuditEvent.action == "staff.role_changed")
            .order_by(AuditEvent.id)
        ).all()
    assert details == [{"role": "owner"}, {"role": "office_staff"}]


def test_the_last_owner_can_neither_step_down_nor_be_removed(app, client, world, carol):
    login(client, "admin")
    me = world.staff_a.id
    for path, data in ((f"/admin/staff/{me}/role", {"owner": "0"}), (f"/admin/staff/{me}/remove", {})):
        response = client.post_form(path, data, token_from="/admin/staff")
        assert response.status_code == 422
        assert "You are the agency&#39;s only owner" in response.get_data(as_text=True)
    assert _owner(app, me)
    assert client.get("/admin/staff").status_code == 200  # still signed in, still the owner
    # With a second owner, the first may step down.
    client.post_form(f"/admin/staff/{carol.id}/role", {"owner": "1"}, token_from="/admin/staff")
    response = client.post_form(f"/admin/staff/{me}/role", {"owner": "0"}, token_from="/admin/staff")
    assert response.status_code == 303
    assert not _owner(app, me)
    assert client.get("/admin/staff").status_code == 404  # office staff now


def test_a_removed_staff_member_is_signed_out(app, client, world, carol):
    office = app.test_client()
    login(office, "carolwhite")
    assert office.get("/admin/").status_code == 200
    login(client, "admin")
    page = client.post_form(
        f"/admin/staff/{carol.id}/remove", {}, token_from="/admin/staff", follow=True
    ).get_data(as_text=True)
    assert "Carol White was removed and signed out everywhere." in page
    assert office.get("/admin/").status_code == 302  # the next request is signed out
    assert login(app.test_client(), "carolwhite").status_code == 422  # and cannot sign in again
    removed = client.get("/admin/staff?show=removed").get_data(as_text=True)
    assert "Carol White" in removed
    assert "Carol White" not in client.get("/admin/staff").get_data(as_text=True)
    with in_app(app) as session:
        assert (
            session.scalar(select(AuditEvent).where(AuditEvent.action == "staff.removed")).target_id
            == carol.id
        )


def test_the_staff_list_costs_a_few_statements_whatever_its_size(app, client, world):
    login(client, "admin")
    with recorded_sql(app) as few:
        assert client.get("/admin/staff").status_code == 200
    with in_app(app) as session:
        session.execute(
            insert(User),
            [
                {
                    "agency_id": world.a.id,
                    "username": f"bulkstaff{n:03d}",
                    "role": "staff",
                    "first_name": "Bulk",
                    "last_name": f"Staff{n:03d}",
                    "session_stamp": f"stamp{n}",
                }
                for n in range(300)
            ],
        )
        session.commit()
    with recorded_sql(app) as many:
        page = client.get("/admin/staff?page=2").get_data(as_text=True)
    assert "Page 2 of 7" in page
    assert len(many) <= 10 and len(many) == len(few), many


def test_other_agency_owner_sees_only_their_staff(client, world, carol):
    login(client, "admin", host=HOST_B)
    page = client.get("/admin/staff", host=HOST_B).get_data(as_text=True)
    assert "Bea Staff" in page and "Carol White" not in page
