"""Owner: the audit log — filters, pages, another agency's events, the chain check, the export."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text

from app.models import AuditEvent
from tests.conftest import HOST_B, in_app, login, recorded_sql


@pytest.fixture
def carol(make, world):
    return make.user(world.a, "carolwhite", role="staff", name="Carol White")


def _events(app, **filters):
    with in_app(app) as session:
        return session.scalars(select(AuditEvent).filter_by(**filters).order_by(AuditEvent.id)).all()


def test_the_owner_reads_the_log_newest_first(app, client, world):
    login(client, "admin")
    client.post_form(f"/admin/people/{world.susan.id}/lock", {"locked": "1"}, token_from="/admin/people/new")
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "Account locked" in page and "Susan Jones" in page and "Signed in" in page
    assert page.index("Account locked") < page.index("Signed in")  # newest first
    assert "Sam Rivera" in page  # who
    assert "127.0.0.1" in page  # from where
    fragment = client.get("/admin/audit?kind=account.", htmx=True).get_data(as_text=True)
    assert "<html" not in fragment and "Account locked" in fragment and "Signed in" not in fragment


def test_office_staff_and_portal_users_get_404(app, world, carol):
    for username, token_from in (("carolwhite", "/admin/"), ("margaretjones", "/dashboard")):
        other = app.test_client()
        login(other, username)
        assert other.get("/admin/audit").status_code == 404
        assert other.get("/admin/audit.csv").status_code == 404
        assert other.post_form("/admin/audit/verify", {}, token_from=token_from).status_code == 404


def test_another_agencys_events_are_never_shown(app, client, world):
    login(client, "admin", host=HOST_B)  # Bea Staff signs in at agency B
    login(client, "admin")
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "Bea Staff" not in page
    by_id = client.get(f"/admin/audit?person={world.staff_b.id}").get_data(as_text=True)
    assert "No events match." in by_id
    csv = client.get("/admin/audit.csv").get_data(as_text=True)
    assert "Bea Staff" not in csv and "Sam Rivera" in csv


def test_filters_by_person_client_kind_and_days(app, client, world):
    susan = app.test_client()
    login(susan, "susanjones")
    login(client, "admin")
    with in_app(app) as session:  # an event about a client, as a care-plan change would be
        session.execute(
            insert(AuditEvent),
            [
                {
                    "agency_id": world.a.id,
                    "actor_id": world.staff_a.id,
                    "action": "invoice.issued",
                    "target_type": "Invoice",
                    "target_id": 7,
                    "client_id": world.client_a2.id,
                    "details": {},
                    "created_at": datetime(2026, 3, 10, 15, tzinfo=UTC),
                    "prev_hash": "x" * 64,
                    "hash": "y" * 64,
                }
            ],
        )
        session.commit()
    by_name = client.get("/admin/audit?person=susan").get_data(as_text=True)
    assert "Susan Jones" in by_name and "Sam Rivera" not in by_name
    by_id = client.get(f"/admin/audit?person={world.staff_a.id}").get_data(as_text=True)
    assert "Sam Rivera" in by_id and "Susan Jones" not in by_id
    by_client = client.get(f"/admin/audit?client_id={world.client_a2.id}").get_data(as_text=True)
    assert "Invoice #7" in by_client and "Harold Smith" in by_client and "Signed in" not in by_client
    assert "Invoice #7" in client.get("/admin/audit?kind=invoice.").get_data(as_text=True)
    assert "Invoice #7" in client.get("/admin/audit?kind=invoice").get_data(as_text=True)
    assert "Invoice #7" in client.get("/admin/audit?kind=invoice.issued").get_data(as_text=True)
    assert "Invoice #7" not in client.get("/admin/audit?kind=invoice.voided").get_data(as_text=True)
    assert "No events match." in client.get("/admin/audit?kind=%25").get_data(as_text=True)
    # Agency-local days (America/Chicago): 15:00 UTC on March 10 is that day in Chicago.
    day = client.get("/admin/audit?start=2026-03-10&end=2026-03-10").get_data(as_text=True)
    assert "Invoice #7" in day and "Signed in" not in day
    assert "Invoice #7" not in client.get("/admin/audit?start=2026-03-11").get_data(as_text=True)
    bad = client.get("/admin/audit?start=2026-02-30&end=2026-01-01")
    assert bad.status_code == 422 and "Enter a real date" in bad.get_data(as_text=True)
    backwards = client.get("/admin/audit?start=2026-03-10&end=2026-03-01")
    assert backwards.status_code == 422


def test_verify_chain_says_intact_then_where_it_breaks(app, client, world):
    login(client, "admin")
    client.post_form(f"/admin/people/{world.susan.id}/lock", {"locked": "1"}, token_from="/admin/people/new")
    page = client.post_form("/admin/audit/verify", {}, token_from="/admin/audit").get_data(as_text=True)
    assert "The chain is intact" in page
    locked = _events(app, action="account.locked")[0]
    with in_app(app) as session:
        session.execute(
            text("UPDATE audit_events SET ip_address = '6.6.6.6' WHERE id = :id"), {"id": locked.id}
        )
        session.commit()
    response = client.post_form("/admin/audit/verify", {}, token_from="/admin/audit")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"The chain is broken at event number {locked.id}" in page
    # Agency B's chain is its own: still intact.
    login(client, "admin", host=HOST_B)
    page = client.post_form("/admin/audit/verify", {}, token_from="/admin/audit", host=HOST_B).get_data(
        as_text=True
    )
    assert "The chain is intact" in page


def test_pages_cost_a_few_statements_whatever_the_size(app, client, world):
    login(client, "admin")
    with recorded_sql(app) as few:
        assert client.get("/admin/audit").status_code == 200
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with in_app(app) as session:
        session.execute(
            insert(AuditEvent),
            [
                {
                    "agency_id": world.a.id,
                    "actor_id": world.staff_a.id if n % 2 else None,
                    "action": "account.updated" if n % 3 else "account.locked",
                    "target_type": "User",
                    "target_id": world.susan.id,
                    "client_id": world.client_a.id,
                    "ip_address": "10.0.0.1",
                    "details": {},
                    "created_at": start + timedelta(minutes=n),
                    "prev_hash": f"{n:064d}",
                    "hash": f"{n + 1:064x}",
                }
                for n in range(3000)
            ],
        )
        session.commit()
    with recorded_sql(app) as many:
        page = client.get(f"/admin/audit?person=Sam&client_id={world.client_a.id}&kind=account.").get_data(
            as_text=True
        )
    assert len(many) <= 10 and len(many) <= len(few) + 1, many
    assert page.count("Susan Jones") >= 50
    older = page.split('href="/admin/audit?before=')[1].split('"')[0].replace("&amp;", "&")
    with recorded_sql(app) as next_page:
        second = client.get(f"/admin/audit?before={older}")
    assert second.status_code == 200 and "Newest" in second.get_data(as_text=True)
    assert len(next_page) <= 10


def test_csv_export_follows_the_filters_and_is_audited(app, client, world):
    login(client, "admin")
    client.post_form(f"/admin/people/{world.susan.id}/lock", {"locked": "1"}, token_from="/admin/people/new")
    response = client.get("/admin/audit.csv?kind=account.")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = body.strip().splitlines()
    assert lines[0].startswith("Number,When,Who,What")
    assert len(lines) == 2 and "Account locked" in lines[1] and "Susan Jones" in lines[1]
    with in_app(app) as session:
        exported = session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.exported"))
        assert exported.details == {"filters": {"kind": "account."}}
        assert session.scalar(select(func.count()).select_from(AuditEvent)) >= 3
