"""Weekly visit patterns: set one up (visits generated ahead on the right weekdays at the local
time, across daylight saving changes; a skipped spring time gets no visit and is said), the
idempotent `flask visits generate`, changing the pattern and all future visits (the past and the
completed stay), ending it, the 409 on a stale form, other agencies' ids and portal users."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from app.models import Agency, AuditEvent, Client, User, Visit, VisitSeries, VisitTask
from app.models.statuses import VisitStatus
from app.services import visit_series as service
from app.tenancy import agency_scope
from tests.conftest import get_one, in_app, login, recorded_sql, set_columns

CHICAGO = ZoneInfo("America/Chicago")


def today():
    return datetime.now(CHICAGO).date()


def next_weekday(iso, after=None):
    day = (after or today()) + timedelta(days=1)
    while day.isoweekday() != iso:
        day += timedelta(days=1)
    return day


def _series_visits(app, series_id):
    with in_app(app) as session:
        return session.scalars(
            select(Visit).where(Visit.series_id == series_id).order_by(Visit.starts_at)
        ).all()


def _service_create(app, world, today_, **kw):
    with app.app_context(), agency_scope(world.a):
        from app.extensions import db

        agency = db.session.get(Agency, world.a.id)
        client = db.session.get(Client, world.client_a.id)
        actor = db.session.get(User, world.staff_a.id)
        series, outcome = service.create_series(agency, actor, client, today=today_, **kw)
        db.session.commit()
        return series.id, outcome


def test_dst_keeps_the_local_time_and_skips_the_missing_hour(app, world):
    # Fall back on Sunday 2026-11-01 in Chicago: 09:00 local before (CDT, 14:00 UTC) and after (15:00).
    series_id, outcome = _service_create(
        app,
        world,
        date(2026, 10, 26),
        weekdays=[1, 3, 7],
        start_time=time(9, 0),
        minutes=120,
        first_day=date(2026, 10, 26),
        last_day=date(2026, 11, 4),
    )
    visits = _series_visits(app, series_id)
    local = [v.starts_at.astimezone(CHICAGO) for v in visits]
    assert [d.date().isoformat() for d in local] == [
        "2026-10-26",
        "2026-10-28",
        "2026-11-01",
        "2026-11-02",
        "2026-11-04",
    ]
    assert {(d.hour, d.minute) for d in local} == {(9, 0)}
    assert [v.starts_at.hour for v in visits] == [14, 14, 15, 15, 15]
    assert all(v.ends_at - v.starts_at == timedelta(hours=2) for v in visits)
    assert outcome.created == 5 and outcome.skipped == []
    # Spring forward 2027-03-14: 02:30 does not exist that Sunday, so no visit, and the day is said.
    series_id, outcome = _service_create(
        app,
        world,
        date(2027, 3, 8),
        weekdays=[7],
        start_time=time(2, 30),
        minutes=60,
        first_day=date(2027, 3, 7),
        last_day=date(2027, 3, 21),
    )
    days = [v.starts_at.astimezone(CHICAGO).date().isoformat() for v in _series_visits(app, series_id)]
    assert days == ["2027-03-21"]  # 03-07 is before "today", 03-14 is skipped
    assert outcome.skipped == [date(2027, 3, 14)]


def _new(client, data):
    return client.post_form("/admin/visits/series/new", data)


def _tomorrow() -> str:
    return (today() + timedelta(days=1)).isoformat()


def _base(world, **kw):
    return {
        "client_id": world.client_a.id,
        "weekdays": ["1", "3"],
        "start_time": "09:00",
        "minutes": "90",
        "first_day": today().isoformat(),
        **kw,
    }


def test_create_through_the_page_generates_eight_weeks(client, make, world, app):
    ana = make.caregiver(world.a, "Ana Torres")
    bath = make.task(world.a, "Bathing")
    login(client, "admin")
    page = client.get(f"/admin/visits/series/new?client={world.client_a.id}").get_data(as_text=True)
    assert (
        f'<option selected value="{world.client_a.id}">' in page
        or f'value="{world.client_a.id}" selected' in page
    )
    assert "Bathing" in page and "Ana Torres" in page
    response = _new(
        client, _base(world, caregiver_id=ana.id, tasks=[str(bath.id)], minutes="", end_time="11:00")
    )
    assert response.status_code == 303
    series = get_one(app, VisitSeries, client_id=world.client_a.id)
    assert series.minutes == 120 and series.weekdays == "1,3" and series.start_time == "09:00"
    visits = _series_visits(app, series.id)
    assert len(visits) in (16, 17)  # Mondays and Wednesdays of 8 weeks (today counts if one)
    assert all(v.starts_at.astimezone(CHICAGO).isoweekday() in (1, 3) for v in visits)
    assert all(v.starts_at.astimezone(CHICAGO).time() == time(9, 0) for v in visits)
    assert all(v.caregiver_id == ana.id for v in visits)
    assert max(v.starts_at.astimezone(CHICAGO).date() for v in visits) < today() + timedelta(weeks=8)
    with in_app(app) as session:
        assert session.scalar(select(func.count(VisitTask.id)).where(VisitTask.task_id == bath.id)) == len(
            visits
        )
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "series.created")) is not None
    html = client.get(f"/admin/visits/series/{series.id}").get_data(as_text=True)
    assert "Upcoming visits" in html and "Monday, Wednesday" in html
    visit_page = client.get(f"/admin/visits/{visits[0].id}").get_data(as_text=True)
    assert f'href="/admin/visits/series/{series.id}"' in visit_page
    new_visit = client.get(f"/admin/visits/new?client={world.client_a.id}").get_data(as_text=True)
    assert f'href="/admin/visits/series/new?client={world.client_a.id}"' in new_visit


def test_create_refuses_bad_input_beside_the_field(client, make, world, app):
    other = make.caregiver(world.b, "Bo Other")
    other_task = make.task(world.b, "Other task")
    login(client, "admin")
    for bad in (
        {"weekdays": []},
        {"weekdays": ["9"]},
        {"first_day": "2026-02-30"},
        {"start_time": "25:99"},
        {"minutes": "0"},
        {"minutes": "99999999999999999999"},
        {"minutes": "", "end_time": ""},
        {"minutes": "abc"},
        {"last_day": "2000-01-01"},
        {"caregiver_id": other.id},
        {"client_id": world.client_b.id},
        {"tasks": [str(other_task.id)]},
        {"first_day": "1900-01-01"},
    ):
        response = _new(client, _base(world, **bad))
        assert response.status_code == 422, bad
        assert 'class="error"' in response.get_data(as_text=True), bad
    with in_app(app) as session:
        assert session.scalar(select(func.count(VisitSeries.id))) == 0


def test_generate_is_idempotent_and_the_cli_runs_every_agency(client, world, app):
    login(client, "admin")
    assert _new(client, _base(world, weekdays=["1", "2", "3", "4", "5", "6", "7"])).status_code == 303
    series = get_one(app, VisitSeries, client_id=world.client_a.id)
    assert series.generated_until == today() + timedelta(weeks=8, days=-1)
    count = len(_series_visits(app, series.id))
    assert count == 56
    runner = app.test_cli_runner()
    result = runner.invoke(args=["visits", "generate"])
    assert result.exit_code == 0 and "visits generated: 0" in result.output, result.output
    result = runner.invoke(args=["visits", "generate", "--weeks", "10"])
    assert result.exit_code == 0 and "visits generated: 14" in result.output, result.output
    assert len(_series_visits(app, series.id)) == 70
    assert "visits generated: 0" in runner.invoke(args=["visits", "generate", "--weeks", "10"]).output
    assert runner.invoke(args=["visits", "generate", "--weeks", "0"]).exit_code != 0


def _change(client, series, **kw):
    data = {
        "version": series.version,
        "weekdays": series.weekdays.split(","),
        "start_time": series.start_time,
        "minutes": series.minutes,
        "caregiver_id": series.caregiver_id or "",
        **kw,
    }
    return client.post_form(f"/admin/visits/series/{series.id}", data)


def test_change_all_future_leaves_the_past_and_the_completed(client, make, world, app):
    ana = make.caregiver(world.a, "Ana Torres")
    mary = make.caregiver(world.a, "Mary Smith")
    login(client, "admin")
    # From tomorrow: a visit of today may have begun already, and a begun visit is not moved.
    assert _new(client, _base(world, caregiver_id=ana.id, first_day=_tomorrow())).status_code == 303
    series = get_one(app, VisitSeries, client_id=world.client_a.id)
    visits = _series_visits(app, series.id)
    future = [v for v in visits if v.starts_at > datetime.now(UTC)]
    completed = future[1]
    set_columns(app, Visit, completed.id, status=VisitStatus.COMPLETED)
    with in_app(app) as session:  # a past visit of the series, from before
        past = Visit(
            agency_id=world.a.id,
            client_id=world.client_a.id,
            caregiver_id=ana.id,
            series_id=series.id,
            starts_at=datetime.now(UTC) - timedelta(days=7),
            ends_at=datetime.now(UTC) - timedelta(days=7, hours=-1),
            status="scheduled",
        )
        session.add(past)
        session.commit()
        past_id, past_start = past.id, past.starts_at
    # Tuesday and Wednesday at 14:00 for 60 minutes with Mary: Mondays cancelled, Tuesdays added.
    response = _change(
        client, series, weekdays=["2", "3"], start_time="14:00", minutes="60", caregiver_id=mary.id
    )
    assert response.status_code == 303
    after = {v.id: v for v in _series_visits(app, series.id)}
    assert after[past_id].starts_at == past_start and after[past_id].caregiver_id == ana.id
    assert after[completed.id].starts_at == completed.starts_at and after[completed.id].status == "completed"
    live = [v for v in after.values() if v.status == "scheduled" and v.id != past_id]
    assert live and all(v.starts_at.astimezone(CHICAGO).isoweekday() in (2, 3) for v in live)
    assert all(v.starts_at.astimezone(CHICAGO).time() == time(14, 0) for v in live)
    assert all(v.caregiver_id == mary.id and v.ends_at - v.starts_at == timedelta(hours=1) for v in live)
    assert any(v.starts_at.astimezone(CHICAGO).isoweekday() == 2 for v in live)
    cancelled = [v for v in after.values() if v.status == "cancelled"]
    assert cancelled and all(v.cancel_reason == "Series changed" for v in cancelled)
    assert all(v.starts_at.astimezone(CHICAGO).isoweekday() == 1 for v in cancelled)
    changed = get_one(app, VisitSeries, id=series.id)
    assert changed.start_time == "14:00" and changed.weekdays == "2,3" and changed.version > series.version
    with in_app(app) as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "series.changed")) is not None
        assert (
            session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "visit.updated")) > 0
        )
    # Monday back: the days the pattern itself cancelled get visits again.
    assert _change(client, changed, weekdays=["1", "2", "3"]).status_code == 303
    mondays = [
        v
        for v in _series_visits(app, series.id)
        if v.status == "scheduled" and v.starts_at.astimezone(CHICAGO).isoweekday() == 1 and v.id != past_id
    ]
    assert len(mondays) >= 7
    # A stale form: 409, nothing changed.
    response = _change(client, series, start_time="16:00")
    assert response.status_code == 409
    assert get_one(app, VisitSeries, id=series.id).start_time == "14:00"
    again = get_one(app, VisitSeries, id=series.id)
    assert _change(client, again, minutes="0").status_code == 422


def test_end_the_series(client, world, app):
    login(client, "admin")
    assert _new(client, _base(world)).status_code == 303
    series = get_one(app, VisitSeries, client_id=world.client_a.id)
    from_day = today() + timedelta(weeks=3)
    url = f"/admin/visits/series/{series.id}/end"
    assert (
        client.post_form(url, {"version": series.version, "from_day": from_day.isoformat()}).status_code
        == 422
    )
    assert (
        client.post_form(url, {"version": 0, "from_day": from_day.isoformat(), "reason": "x"}).status_code
        == 409
    )
    response = client.post_form(
        url,
        {"version": series.version, "from_day": from_day.isoformat(), "reason": "Moving to her daughter's."},
    )
    assert response.status_code == 303
    ended = get_one(app, VisitSeries, id=series.id)
    assert ended.last_day == from_day - timedelta(days=1)
    visits = _series_visits(app, series.id)
    for v in visits:
        late = v.starts_at.astimezone(CHICAGO).date() >= from_day
        assert (v.status == "cancelled") == late
        if late:
            assert v.cancel_reason == "Moving to her daughter's."
    assert (
        "visits generated: 0"
        in app.test_cli_runner().invoke(args=["visits", "generate", "--weeks", "12"]).output
    )
    with in_app(app) as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "series.ended")) is not None


def test_other_agency_and_portal_get_404(client, make, world, app):
    with in_app(app) as session:
        theirs = VisitSeries(
            agency_id=world.b.id,
            client_id=world.client_b.id,
            weekdays="1",
            start_time="09:00",
            minutes=60,
            first_day=today(),
        )
        session.add(theirs)
        session.commit()
        theirs_id = theirs.id
    login(client, "admin")
    assert client.get(f"/admin/visits/series/{theirs_id}").status_code == 404
    assert (
        client.post_form(
            f"/admin/visits/series/{theirs_id}/end",
            {"from_day": today().isoformat(), "reason": "x"},
            token_from="/admin/visits/series/new",
        ).status_code
        == 404
    )
    portal = app.test_client()
    login(portal, "margaretjones")
    assert portal.get("/admin/visits/series/new").status_code == 404


def test_series_page_query_count_with_many_visits(client, world, app):
    login(client, "admin")
    assert _new(client, _base(world)).status_code == 303
    series = get_one(app, VisitSeries, client_id=world.client_a.id)
    start = datetime.now(UTC) + timedelta(hours=1)
    with in_app(app) as session:
        session.execute(
            insert(Visit),
            [
                {
                    "agency_id": world.a.id,
                    "client_id": world.client_a.id,
                    "series_id": series.id,
                    "starts_at": start + timedelta(hours=6 * i),
                    "ends_at": start + timedelta(hours=6 * i + 1),
                    "status": "scheduled",
                    "version": 1,
                }
                for i in range(400)
            ],
        )
        session.commit()
    with recorded_sql(app) as statements:
        response = client.get(f"/admin/visits/series/{series.id}")
    assert response.status_code == 200
    assert len(statements) <= 10, statements


def test_change_voids_a_signed_future_visit_only_and_refuses_other_agencys_caregiver(
    client, make, world, app
):
    from app.models import Signature

    theirs = make.caregiver(world.b, "Bo Other")
    login(client, "admin")
    assert _new(client, _base(world, first_day=_tomorrow())).status_code == 303  # none begun yet
    series = get_one(app, VisitSeries, client_id=world.client_a.id)
    first, second = [v for v in _series_visits(app, series.id)][:2]
    with in_app(app) as session:
        for visit in (first, second):
            session.add(
                Signature(
                    agency_id=world.a.id,
                    visit_id=visit.id,
                    signer_id=world.margaret.id,
                    method="typed",
                    typed_name="Margaret Jones",
                    facts_hash="0" * 64,
                )
            )
        session.commit()
    assert _change(client, series, caregiver_id=theirs.id).status_code == 422
    assert _change(client, series, start_time="10:00").status_code == 303
    with in_app(app) as session:
        signatures = session.scalars(select(Signature).order_by(Signature.id)).all()
        assert all(s.voided_at is not None and "starts_at" in s.void_reason for s in signatures)
    # Nothing to change: no visit is touched, nothing voided again.
    assert _change(client, get_one(app, VisitSeries, id=series.id)).status_code == 303
