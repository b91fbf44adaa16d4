"""The dashboard's "who is coming today" card: today's caregiver, photo, arrival window, and a plain
sentence when the caregiver is not the usual one. "Today" is today in Chicago, the agency's zone."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from app.models import Client
from tests.conftest import in_app, login
from tests.test_schedule import PNG

CHICAGO = ZoneInfo("America/Chicago")


def page_text(client, path="/dashboard"):
    return client.get(path).get_data(as_text=True).replace("&#39;", "'")


def today_at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(datetime.now(CHICAGO).date(), time(hour, minute), CHICAGO)


@pytest.fixture
def carers(make, world):
    c = type("Carers", (), {})()
    c.ana = make.caregiver(world.a, "Ana Torres", photo=PNG)
    c.mary = make.caregiver(world.a, "Mary Smith")
    with in_app(make.app) as session:
        session.get(Client, world.client_a.id).usual_caregiver_id = c.mary.id
        session.commit()
    return c


def card(html: str) -> str:
    start = html.index("Who is coming today")
    return html[start : html.index("</section>", start)]


def test_usual_caregiver_today(client, make, world, carers):
    make.visit(world.client_a, today_at(9), hours=3, caregiver_id=carers.mary.id)
    login(client, "margaretjones")
    today = card(page_text(client))
    assert "Mary Smith" in today and "Arriving 9:00 AM – 12:00 PM" in today
    assert '<span class="avatar" aria-hidden="true">MS</span>' in today  # no photo: initials, no <img>
    assert "<img" not in today
    assert "instead of" not in today


def test_a_different_caregiver_is_said_plainly(client, make, world, carers):
    make.visit(world.client_a, today_at(14), hours=2, caregiver_id=carers.ana.id)
    login(client, "margaretjones")
    today = card(page_text(client))
    assert "Today Ana Torres is coming instead of your usual caregiver, Mary Smith." in today
    assert "Arriving 2:00 PM – 4:00 PM" in today
    assert f'src="/schedule/caregivers/{carers.ana.id}/photo"' in today
    assert client.get(f"/schedule/caregivers/{carers.ana.id}/photo").data == PNG


def test_family_member_reads_the_clients_name(client, make, world, carers):
    make.visit(world.client_a, today_at(14), caregiver_id=carers.ana.id)
    login(client, "susanjones")
    assert "instead of Margaret’s usual caregiver, Mary Smith." in card(page_text(client))


def test_no_visit_today(client, make, world, carers):
    make.visit(world.client_a, today_at(9).replace(year=today_at(9).year + 1), caregiver_id=carers.ana.id)
    login(client, "margaretjones")
    assert "No visit today." in card(page_text(client))


def test_cancelled_visit_is_not_a_change_of_caregiver(client, make, world, carers):
    make.visit(world.client_a, today_at(9), caregiver_id=carers.ana.id, status="cancelled")
    login(client, "margaretjones")
    today = card(page_text(client))
    assert "was cancelled" in today and "instead of" not in today


def test_only_the_selected_clients_visits(app, client, make, world, carers):
    make.visit(world.client_a2, today_at(10), caregiver_id=carers.ana.id)
    login(client, "margaretjones")
    assert "No visit today." in card(page_text(client))
    payer = app.test_client()
    login(payer, "robertjones")
    assert "Ana Torres" in card(page_text(payer, f"/dashboard?client={world.client_a2.id}"))
    assert "No visit today." in card(page_text(payer, f"/dashboard?client={world.client_a.id}"))


def test_no_card_when_the_schedule_is_switched_off(client, make, world, carers):
    user = make.user(world.a, "quietcousin", name="Quiet Cousin")
    make.link(user, world.client_a, "emergency_contact", show_schedule=False)
    make.visit(world.client_a, today_at(9), caregiver_id=carers.ana.id)
    login(client, "quietcousin")
    html = page_text(client)
    assert "Who is coming today" not in html and "Ana Torres" not in html


def test_account_without_a_linked_client_is_told_so(app, client, make, world):
    make.user(world.a, "lonelyuser", name="Lonely User")
    login(client, "lonelyuser")
    response = client.get("/dashboard")
    assert response.status_code == 200
    assert "not linked to anyone's care record" in response.get_data(as_text=True)


# --- the dashboard costs the same queries whatever the data size -----------------------------------


def _lots_of_everything(app, make, world, size):
    """`size` upcoming visits today and after, outstanding invoices (the client's and the payer's),
    documents in three categories and messages, inserted in bulk; Margaret has a usual caregiver."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from app.models import (
        CarePlan,
        CarePlanTask,
        Client,
        Conversation,
        Document,
        DocumentCategory,
        Invoice,
        Message,
        Task,
        Visit,
    )

    ana = make.caregiver(world.a, "Ana Torres")
    file_id = make.stored_file(world.a, b"%PDF-1.4 form", "application/pdf").id
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    with in_app(app) as session:
        session.get(Client, world.client_a.id).usual_caregiver_id = ana.id
        visits = [
            {
                "agency_id": world.a.id,
                "client_id": client.id,
                "caregiver_id": ana.id,
                "version": 1,
                "starts_at": soon + timedelta(hours=6 * n),
                "ends_at": soon + timedelta(hours=6 * n + 1),
                "status": "scheduled" if n % 4 else "completed",
            }
            for n in range(size)
            for client in (world.client_a, world.client_a2)
        ]
        session.execute(insert(Visit), visits)
        invoices = [
            {
                "agency_id": world.a.id,
                "client_id": world.client_a.id,
                "number": f"INV-{n}",
                "status": "issued",
                "total_cents": 10_000,
                "paid_cents": 0,
                "version": 1,
                "issued_at": soon - timedelta(days=n),
                "billed_to_id": world.robert.id if n % 2 else None,
                "period_start": soon.date(),
                "period_end": soon.date(),
            }
            for n in range(size)
        ]
        session.execute(insert(Invoice), invoices)
        categories = [DocumentCategory(agency_id=world.a.id, name=f"Category {n}") for n in range(3)]
        session.add_all(categories)
        session.flush()
        session.execute(
            insert(Document),
            [
                {
                    "agency_id": world.a.id,
                    "client_id": world.client_a.id,
                    "category_id": categories[n % 3].id,
                    "title": f"Form {n}",
                    "filename": f"form-{n}.pdf",
                    "file_id": file_id,
                }
                for n in range(size)
            ],
        )
        conversation = Conversation(
            agency_id=world.a.id,
            client_id=world.client_a.id,
            subject="Hello",
            started_by_id=world.margaret.id,
        )
        session.add(conversation)
        session.flush()
        session.execute(
            insert(Message),
            [
                {
                    "agency_id": world.a.id,
                    "conversation_id": conversation.id,
                    "sender_id": world.staff_a.id,
                    "body": f"Message {n}",
                }
                for n in range(size)
            ],
        )
        # A care plan with its tasks: the badge shows how many, without loading them.
        plan = CarePlan(agency_id=world.a.id, client_id=world.client_a.id, frequency="Daily")
        session.add(plan)
        session.flush()
        task = Task(agency_id=world.a.id, name="Bathing")
        session.add(task)
        session.flush()
        session.add_all(
            CarePlanTask(agency_id=world.a.id, care_plan_id=plan.id, task_id=task.id)
            for _ in range(size // 10)
        )
        session.commit()


@pytest.mark.parametrize("username", ["margaretjones", "robertjones"])
def test_dashboard_costs_at_most_ten_queries_whatever_the_data(app, client, make, world, username):
    from tests.test_schedule import _count_queries

    login(client, username)
    small, _ = _count_queries(app, client, "/dashboard")
    _lots_of_everything(app, make, world, 300)
    large, html = _count_queries(app, client, "/dashboard")
    assert large == small <= 10, (small, large)
    assert "Ana Torres" in html
