"""The office's visits: the filtered, searched and paged list (a bounded number of statements),
adding a visit in the agency's local time (DST-safe), changing and reassigning it (the family's
"who is coming today" card follows), cancelling with a required reason, the 409 on a stale form,
another agency's ids and portal users answering 404."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from app.models import AuditEvent, ClientCaregiver, Signature, Visit, VisitTask
from tests.conftest import get_one, in_app, login, recorded_sql, set_columns

CHICAGO = ZoneInfo("America/Chicago")


def today_at(hour, minute=0):
    return datetime.combine(datetime.now(CHICAGO).date(), time(hour, minute), CHICAGO)


def _staff(client, world):
    login(client, "admin")


def test_list_filters_unassigned_and_search(client, make, world):
    ana = make.caregiver(world.a, "Ana Torres")
    make.visit(world.client_a, today_at(9), caregiver_id=ana.id)
    make.visit(world.client_a2, today_at(13))
    make.visit(world.client_b, today_at(10))
    _staff(client, world)
    html = client.get("/admin/visits").get_data(as_text=True)
    assert "Margaret Jones" in html and "Harold Smith" in html and "Alice Brown" not in html
    assert "2 visits" in html
    unassigned = client.get("/admin/visits?unassigned=1").get_data(as_text=True)
    assert "Harold Smith" in unassigned and "Margaret Jones" not in unassigned
    assert "Harold Smith" not in client.get("/admin/visits?q=margaret").get_data(as_text=True)
    assert "Harold" not in client.get(f"/admin/visits?caregiver={ana.id}").get_data(as_text=True)
    assert "Margaret" not in client.get(f"/admin/visits?client={world.client_a2.id}").get_data(as_text=True)
    fragment = client.get("/admin/visits?q=harold", htmx=True).get_data(as_text=True)
    assert fragment.startswith('<section id="admin-visits"')
    assert 'href="/admin/visits?unassigned=1"' in client.get("/admin/").get_data(as_text=True)
    assert client.get("/admin/visits?start=2026-13-45&status=bogus&page=abc").status_code == 200


def test_list_query_count_with_hundreds_of_visits(client, make, world, app):
    ana = make.caregiver(world.a, "Ana Torres")
    start = today_at(8).astimezone(UTC)
    with in_app(app) as session:
        session.execute(
            insert(Visit),
            [
                {
                    "agency_id": world.a.id,
                    "client_id": (world.client_a if i % 2 else world.client_a2).id,
                    "caregiver_id": ana.id if i % 3 else None,
                    "starts_at": start + timedelta(minutes=10 * i),
                    "ends_at": start + timedelta(minutes=10 * i + 60),
                    "status": "scheduled",
                    "version": 1,
                }
                for i in range(400)
            ],
        )
        session.commit()
    _staff(client, world)
    with recorded_sql(app) as statements:
        response = client.get("/admin/visits?page=2")
    assert response.status_code == 200 and "400 visits" in response.get_data(as_text=True)
    assert len(statements) <= 10, statements
    assert client.get("/admin/visits?page=99").status_code == 404


def _new(client, data):
    return client.post_form("/admin/visits/new", data)


def test_create_in_local_time_across_dst(client, make, world):
    ana = make.caregiver(world.a, "Ana Torres")
    _staff(client, world)
    base = {
        "client_id": world.client_a.id,
        "caregiver_id": ana.id,
        "start_time": "09:00",
        "end_time": "11:00",
    }
    assert _new(client, {**base, "day": "2026-10-31"}).status_code == 303
    assert _new(client, {**base, "day": "2026-11-02"}).status_code == 303
    with in_app(make.app) as session:
        visits = session.scalars(
            select(Visit).where(Visit.client_id == world.client_a.id).order_by(Visit.starts_at)
        ).all()
        assert [v.starts_at.hour for v in visits] == [14, 15]  # CDT then CST: 9:00 local both days
        assert all(v.caregiver_id == ana.id for v in visits)
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "visit.created")) is not None


def test_create_refuses_bad_input_beside_the_field(client, make, world):
    other = make.caregiver(world.b, "Bo Other")
    _staff(client, world)
    base = {"client_id": world.client_a.id, "start_time": "09:00", "end_time": "11:00", "day": "2026-11-03"}
    for bad in (
        {"day": "2026-02-30"},
        {"end_time": "08:00"},
        {"start_time": "25:99"},
        {"day": "2026-03-08", "start_time": "02:30"},  # the clocks skip it in Chicago
        {"caregiver_id": other.id},
        {"client_id": world.client_b.id},
    ):
        response = _new(client, {**base, **bad})
        assert response.status_code == 422, bad
        assert 'class="error"' in response.get_data(as_text=True)
    assert get_one(make.app, Visit, client_id=world.client_b.id) is None


def test_reassign_shows_on_the_family_card(client, make, world, app):
    ana = make.caregiver(world.a, "Ana Torres")
    mary = make.caregiver(world.a, "Mary Smith")
    visit = make.visit(world.client_a, today_at(14), caregiver_id=ana.id)
    _staff(client, world)
    url = f"/admin/visits/{visit.id}"
    assert "Ana Torres" in client.get(url).get_data(as_text=True)
    local = today_at(14)
    response = client.post_form(
        url,
        {
            "version": 1,
            "caregiver_id": mary.id,
            "day": local.date().isoformat(),
            "start_time": "14:30",
            "end_time": "16:30",
            "caregiver_note": "Bring the walker.",
        },
    )
    assert response.status_code == 303
    changed = get_one(app, Visit, id=visit.id)
    assert changed.caregiver_id == mary.id and changed.version == 2
    assert changed.starts_at == today_at(14, 30).astimezone(UTC)
    other = app.test_client()
    login(other, "margaretjones")
    html = other.get("/dashboard").get_data(as_text=True)
    start = html.index("Who is coming today")
    card = html[start : html.index("</section>", start)]
    assert "Mary Smith" in card and "Ana Torres" not in card


def test_stale_edit_shows_the_conflict_page(client, make, world, app):
    visit = make.visit(world.client_a, today_at(9))
    _staff(client, world)
    url = f"/admin/visits/{visit.id}"
    set_columns(app, Visit, visit.id, caregiver_note="changed meanwhile")
    response = client.post_form(
        url,
        {"version": 1, "caregiver_id": "", "day": "2026-11-03", "start_time": "09:00", "end_time": "10:00"},
    )
    assert response.status_code == 409
    assert get_one(app, Visit, id=visit.id).caregiver_note == "changed meanwhile"


def test_cancel_requires_a_reason(client, make, world, app):
    visit = make.visit(world.client_a, today_at(9))
    _staff(client, world)
    url = f"/admin/visits/{visit.id}/cancel"
    response = client.post_form(url, {"version": 1, "reason": "  "}, token_from=f"/admin/visits/{visit.id}")
    assert response.status_code == 422
    assert get_one(app, Visit, id=visit.id).status == "scheduled"
    response = client.post_form(
        url, {"version": 1, "reason": "Client in hospital"}, token_from=f"/admin/visits/{visit.id}"
    )
    assert response.status_code == 303
    cancelled = get_one(app, Visit, id=visit.id)
    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "Client in hospital"
    event = get_one(app, AuditEvent, action="visit.cancelled")
    assert event is not None


def test_other_agency_and_portal_users_get_404(client, make, world):
    theirs = make.visit(world.client_b, today_at(9))
    ours = make.visit(world.client_a, today_at(9))
    _staff(client, world)
    assert client.get(f"/admin/visits/{theirs.id}").status_code == 404
    assert (
        client.post_form(
            f"/admin/visits/{theirs.id}/cancel", {"reason": "x", "version": 1}, token_from="/admin/visits"
        ).status_code
        == 404
    )
    portal = make.app.test_client()
    login(portal, "margaretjones")
    for path in ("/admin/visits", f"/admin/visits/{ours.id}", "/admin/visits/new"):
        assert portal.get(path).status_code == 404


def test_office_staff_may_use_visits(client, make, world):
    make.user(world.a, "office2", role="staff", name="Olive Office")
    visit = make.visit(world.client_a, today_at(9))
    login(client, "office2")
    assert client.get("/admin/visits").status_code == 200
    assert client.get(f"/admin/visits/{visit.id}").status_code == 200
    assert client.get("/admin/visits/new").status_code == 200


def _visit_with_tasks(make, world, app, *names):
    tasks = [make.task(world.a, name) for name in names]
    visit = make.visit(world.client_a, datetime(2026, 11, 3, 15, tzinfo=UTC))
    with in_app(app) as session:
        for task in tasks:
            session.add(VisitTask(agency_id=world.a.id, visit_id=visit.id, task_id=task.id))
        session.commit()
    return visit, tasks


def test_create_with_tasks_and_change_them_keeping_outcomes(client, make, world, app):
    bathing, meals = make.task(world.a, "Bathing"), make.task(world.a, "Meals")
    _staff(client, world)
    data = {"client_id": world.client_a.id, "caregiver_id": "", "day": "2026-11-03", "start_time": "09:00"}
    answer = _new(client, {**data, "end_time": "11:00", "tasks": [str(bathing.id), str(meals.id)]})
    assert answer.status_code == 303
    visit = get_one(app, Visit, client_id=world.client_a.id)
    with in_app(app) as session:
        assert sorted(
            session.scalars(select(VisitTask.task_id).where(VisitTask.visit_id == visit.id))
        ) == sorted([bathing.id, meals.id])
    other = make.task(world.b, "Gardening")
    refused = _new(client, {**data, "end_time": "11:00", "tasks": [str(other.id)]})
    assert refused.status_code == 422 and "Choose tasks from the list." in refused.get_data(as_text=True)
    url = f"/admin/visits/{visit.id}"
    edit = {"version": 1, "caregiver_id": "", "day": "2026-11-03", "start_time": "09:00", "end_time": "11:00"}
    assert client.post_form(url, {**edit, "tasks": [str(meals.id)]}).status_code == 303
    with in_app(app) as session:
        assert session.scalars(select(VisitTask.task_id).where(VisitTask.visit_id == visit.id)).all() == [
            meals.id
        ]


def test_mark_completed_with_clock_times_refusals_and_a_note(client, make, world, app):
    visit, (bathing, meals) = _visit_with_tasks(make, world, app, "Bathing", "Meals")
    _staff(client, world)
    url = f"/admin/visits/{visit.id}/complete"
    data = {
        "version": 1,
        "clock_in": "09:05",
        "clock_out": "11:02",
        f"task-{bathing.id}": "refused",
        f"reason-{bathing.id}": "",
        f"task-{meals.id}": "done",
        "caregiver_note": "Margaret was cheerful.",
    }
    answer = client.post_form(url, data, token_from=f"/admin/visits/{visit.id}")
    assert answer.status_code == 422 and "Say why the task was refused." in answer.get_data(as_text=True)
    assert get_one(app, Visit, id=visit.id).status == "scheduled"
    data[f"reason-{bathing.id}"] = "Not feeling well today"
    answer = client.post_form(url, data, token_from=f"/admin/visits/{visit.id}", follow=True)
    assert "Visit marked completed." in answer.get_data(as_text=True)
    done = get_one(app, Visit, id=visit.id)
    assert done.status == "completed" and done.caregiver_note == "Margaret was cheerful."
    assert (done.clock_in_at, done.clock_out_at) == (
        datetime(2026, 11, 3, 15, 5, tzinfo=UTC),
        datetime(2026, 11, 3, 17, 2, tzinfo=UTC),
    )
    with in_app(app) as session:
        rows = {r.task_id: (r.status, r.refusal_reason) for r in session.scalars(select(VisitTask))}
    assert rows == {bathing.id: ("refused", "Not feeling well today"), meals.id: ("done", None)}
    # The family sees it as the caregiver reported it, the refusal reason included.
    margaret = client.application.test_client()
    login(margaret, "margaretjones")
    assert "Not feeling well today" in margaret.get("/schedule?view=day&date=2026-11-03").get_data(
        as_text=True
    )


def test_completing_needs_a_verdict_for_each_task_and_real_times(client, make, world, app):
    visit, (bathing,) = _visit_with_tasks(make, world, app, "Bathing")
    _staff(client, world)
    url = f"/admin/visits/{visit.id}/complete"
    page = f"/admin/visits/{visit.id}"
    base = {"version": 1, "clock_in": "09:05", "clock_out": "11:00"}
    assert client.post_form(url, base, token_from=page).status_code == 422
    assert client.post_form(url, {**base, f"task-{bathing.id}": "maybe"}, token_from=page).status_code == 422
    bad = {**base, "clock_in": "25:99", f"task-{bathing.id}": "done"}
    assert client.post_form(url, bad, token_from=page).status_code == 422
    night = {**base, "clock_in": "22:00", "clock_out": "06:00", f"task-{bathing.id}": "done"}
    assert client.post_form(url, night, token_from=page).status_code == 303
    done = get_one(app, Visit, id=visit.id)
    assert done.clock_out_at - done.clock_in_at == timedelta(hours=8)  # into the next morning
    stale = client.post_form(url, {**night, "clock_out": "06:30"}, token_from=page)
    assert stale.status_code == 409


def test_a_signed_visit_corrected_by_the_office_loses_its_signature(client, make, world, app):
    visit, (bathing,) = _visit_with_tasks(make, world, app, "Bathing")
    _staff(client, world)
    page = f"/admin/visits/{visit.id}"
    data = {"version": 1, "clock_in": "09:00", "clock_out": "11:00", f"task-{bathing.id}": "done"}
    assert client.post_form(f"{page}/complete", data, token_from=page).status_code == 303
    margaret = client.application.test_client()
    login(margaret, "margaretjones")
    from tests.test_signatures import sign

    assert sign(margaret, visit.id).status_code in (302, 303)
    assert get_one(app, Signature, visit_id=visit.id).voided_at is None
    data = {**data, "version": get_one(app, Visit, id=visit.id).version, "clock_out": "11:30"}
    assert client.post_form(f"{page}/complete", data, token_from=page).status_code == 303
    assert get_one(app, Signature, visit_id=visit.id).voided_at is not None


def test_preferred_caregivers_are_offered_first(client, make, world, app):
    ana, ben = make.caregiver(world.a, "Ana Torres"), make.caregiver(world.a, "Ben Cole")
    outsider = make.caregiver(world.b, "Olga Other")
    _staff(client, world)
    url = f"/admin/visits/preferred/{world.client_a.id}"
    assert client.post_form(url, {"caregivers": [str(ben.id)]}).status_code == 303
    page = client.get(f"/admin/visits/new?client={world.client_a.id}").get_data(as_text=True)
    assert page.index("Ben Cole ★") < page.index("Ana Torres")
    assert client.post_form(url, {"caregivers": [str(outsider.id)]}).status_code == 422
    assert client.get(f"/admin/visits/preferred/{world.client_b.id}").status_code == 404
    with in_app(app) as session:
        preferred = session.scalars(
            select(ClientCaregiver.caregiver_id).where(
                ClientCaregiver.client_id == world.client_a.id, ClientCaregiver.is_preferred.is_(True)
            )
        ).all()
    assert preferred == [ben.id] and ana


def test_the_visit_page_costs_a_few_statements_with_many_tasks(client, make, world, app):
    visit, _ = _visit_with_tasks(make, world, app, *[f"Task {n:02d}" for n in range(2)])
    _staff(client, world)
    with recorded_sql(app) as few:
        assert client.get(f"/admin/visits/{visit.id}").status_code == 200
    many, _ = _visit_with_tasks(make, world, app, *[f"Job {n:02d}" for n in range(40)])
    with recorded_sql(app) as statements:
        assert client.get(f"/admin/visits/{many.id}").status_code == 200
    assert len(statements) == len(few) <= 10, statements


def test_the_visit_page_records_that_the_office_read_the_caregivers_note(client, make, world, app):
    ana = make.caregiver(world.a, "Ana Torres")
    visit, _ = _visit_with_tasks(make, world, app, *[f"Task {n:02d}" for n in range(20)])
    set_columns(app, Visit, visit.id, status="completed", caregiver_id=ana.id, caregiver_note="Tired today.")
    make.save(
        ClientCaregiver(
            agency_id=world.a.id, client_id=world.client_a.id, caregiver_id=ana.id, is_preferred=True
        )
    )
    _staff(client, world)
    with recorded_sql(app) as statements:
        page = client.get(f"/admin/visits/{visit.id}").get_data(as_text=True)
    assert "Tired today." in page and "Ana Torres ★" in page  # the preferred caregiver, marked
    assert len(statements) <= 10, statements  # the view's audit event included
    [event] = [e for e in _events(app) if e.action == "record.viewed"]
    assert (event.client_id, event.details["kind"], event.actor_id) == (
        world.client_a.id,
        "visit_notes",
        world.staff_a.id,
    )
    scheduled = make.visit(world.client_a, datetime(2026, 11, 4, 15, tzinfo=UTC))
    client.get(f"/admin/visits/{scheduled.id}")  # nothing to read yet: no event
    assert len([e for e in _events(app) if e.action == "record.viewed"]) == 1


def _events(app):
    with in_app(app) as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        session.expunge_all()
        return rows


def test_the_list_stops_counting_at_the_cap(client, make, world, monkeypatch):
    from app.services import office

    for hour in (8, 10, 12):
        make.visit(world.client_a, today_at(hour))
    _staff(client, world)
    monkeypatch.setattr(office, "COUNT_CAP", 2)
    html = client.get("/admin/visits").get_data(as_text=True)
    assert "2 visits or more: narrow the days or the filters" in html
    assert html.count('href="/admin/visits/') >= 3  # the page itself is whole
