"""My Schedule: month, week and day views, as pages and as htmx fragments, seen by each kind of user.

Times are stored in UTC and the demo agency is in Chicago, so a visit stored at 15:00 UTC on
30 November 2026 (CST, UTC-6) must read 9:00 AM. Access is checked from the outside: another
client's visits never show, a client out of reach or a switched-off section answers 404, and bad
query values answer 400 with a message, never 500.
"""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import func, insert, select

from app.models import Visit, VisitTask
from tests.conftest import HOST_B, in_app, login, recorded_sql

NOV_30_9AM_CHICAGO = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15"
    b"\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


def text_of(response) -> str:
    return unescape(response.get_data(as_text=True))


def link(html: str, rel: str) -> str:
    match = re.search(rf'<a [^>]*href="([^"]+)"[^>]*rel="{rel}"', html)
    assert match, f"no rel={rel} link"
    return unescape(match.group(1))


@pytest.fixture
def care(make, world):
    """Caregivers and tasks of agency A, and one visit of Margaret's on Monday 30 November."""
    c = type("Care", (), {})()
    c.ana = make.caregiver(world.a, "Ana Torres")
    c.lucja = make.caregiver(world.a, "Łucja Nowak", photo=PNG)
    c.bathing = make.task(world.a, "Bathing")
    c.meals = make.task(world.a, "Meal preparation")
    c.walk = make.task(world.a, "Short walk")
    c.visit = make.visit(world.client_a, NOV_30_9AM_CHICAGO, caregiver_id=c.ana.id)
    make.save(
        VisitTask(agency_id=world.a.id, visit_id=c.visit.id, task_id=c.bathing.id),
        VisitTask(agency_id=world.a.id, visit_id=c.visit.id, task_id=c.meals.id),
    )
    return c


# --- the three views -----------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["month", "week", "day"])
def test_each_view_is_a_page_with_the_visit_in_local_time(client, world, care, view):
    login(client, "margaretjones")
    response = client.get(f"/schedule?view={view}&date=2026-11-30")
    assert response.status_code == 200
    html = text_of(response)
    assert "<html" in html and "My Schedule" in html
    assert "9:00 AM – 11:00 AM" in html  # 15:00–17:00 UTC in Chicago
    assert "3:00 PM" not in html
    assert "Ana Torres" in html and "Bathing, Meal preparation" in html
    assert "Scheduled" in html
    assert f'aria-current="page">{view.capitalize()}<' in html


@pytest.mark.parametrize("view", ["month", "week", "day"])
def test_each_view_is_a_fragment_for_htmx(client, world, care, view):
    login(client, "margaretjones")
    response = client.get(f"/schedule?view={view}&date=2026-11-30", htmx=True)
    assert response.status_code == 200
    html = text_of(response)
    assert "<html" not in html and "<body" not in html
    assert 'id="calendar"' in html and "9:00 AM – 11:00 AM" in html
    # The controls swap only the calendar and keep the address bar in step.
    assert 'hx-target="#calendar"' in html and 'hx-push-url="true"' in html
    assert f'hx-get="/schedule?view={view}&date=2026-11-' in html
    assert "<title>My Schedule" in html
    assert "HX-Request" in response.headers["Vary"]


def test_titles_and_previous_next_today_links(client, world, care):
    login(client, "margaretjones")
    month = text_of(client.get("/schedule?view=month&date=2026-11-17"))
    assert "November 2026" in month
    assert "view=month&date=2026-10-01" in link(month, "prev")
    assert "view=month&date=2026-12-01" in link(month, "next")

    week = text_of(client.get("/schedule?view=week&date=2026-11-30"))
    assert "November 29 – December 5, 2026" not in week  # the short form is used
    assert "Nov 29 – Dec 5, 2026" in week  # weeks start on Sunday
    previous = client.get(link(week, "prev"))
    assert "November 22 – 28, 2026" in text_of(previous)
    assert "9:00 AM – 11:00 AM" not in text_of(previous)

    day = text_of(client.get("/schedule?view=day&date=2026-11-30"))
    assert "Monday, November 30, 2026" in day
    assert "date=2026-11-29" in link(day, "prev") and "date=2026-12-01" in link(day, "next")
    following = text_of(client.get(link(day, "next")))
    assert "Tuesday, December 1, 2026" in following and "No visits on this day." in following
    assert ">Today</a>" in day


def test_view_links_keep_the_date_and_the_client(client, world, care):
    login(client, "robertjones")
    html = text_of(client.get(f"/schedule?view=month&date=2026-11-30&client={world.client_a2.id}"))
    assert f'href="/schedule?view=week&date=2026-11-30&client={world.client_a2.id}"' in html
    assert f'href="/schedule?view=day&date=2026-11-30&client={world.client_a2.id}"' in html


def test_month_marks_days_without_visits_and_week_lists_every_day(client, world, care):
    """The month holds every day for the wide-screen grid; a phone lists only the busy ones (the
    "free" days are hidden by app.css, checked in tests/browser/test_phone.py)."""
    login(client, "margaretjones")
    month = text_of(client.get("/schedule?view=month&date=2026-11-01"))
    days = re.findall(r'<section class="day( free)?">\s*<h3>.*?<span class="dname">([^<]+)</span>', month)
    assert len(days) == 30 and [name for free, name in days if not free] == ["Monday, November 30"]
    assert month.count('<span class="blank"></span>') == 0  # 1 November 2026 is a Sunday
    assert "No visits." not in month
    week = text_of(client.get("/schedule?view=week&date=2026-11-30"))
    assert "Sunday, November 29" in week and "No visits." in week


def test_empty_month_says_so(client, world, care):
    login(client, "margaretjones")
    assert "No visits in January 2027." in text_of(client.get("/schedule?view=month&date=2027-01-10"))


def test_visit_grouped_on_the_local_day_it_starts(client, make, world, care):
    # 03:00 UTC on 1 December is 9:00 PM on Monday 30 November in Chicago.
    make.visit(world.client_a, datetime(2026, 12, 1, 3, 0, tzinfo=UTC), caregiver_id=care.ana.id)
    login(client, "margaretjones")
    assert "9:00 PM – 11:00 PM" in text_of(client.get("/schedule?view=day&date=2026-11-30"))
    assert "9:00 PM" not in text_of(client.get("/schedule?view=day&date=2026-12-01"))


def test_day_of_the_clock_change_has_its_25_hours(client, make, world, care):
    # 1 November 2026: Chicago leaves daylight time at 2 AM; the local day runs 05:00–06:00 UTC.
    nov1 = datetime(2026, 11, 1, tzinfo=UTC)
    for start, hours in (
        (timedelta(hours=4, minutes=30), 1),  # 11:30 PM on 31 October (UTC-5): not shown
        (timedelta(hours=5, minutes=30), 2),  # 12:30 AM daylight time to 1:30 AM standard time
        (timedelta(hours=14), 2),  # 8:00 AM standard time (UTC-6)
        (timedelta(hours=29, minutes=45), 1),  # 11:45 PM, the 25th hour of the day
        (timedelta(hours=30, minutes=15), 1),  # 12:15 AM on 2 November: not shown
    ):
        make.visit(world.client_a, nov1 + start, hours=hours)
    login(client, "margaretjones")
    html = text_of(client.get("/schedule?view=day&date=2026-11-01"))
    assert "12:30 AM – 1:30 AM" in html
    assert "8:00 AM – 10:00 AM" in html
    assert "11:45 PM – 12:45 AM" in html
    assert "11:30 PM" not in html and "12:15 AM" not in html
    assert html.count('<li class="visit') == 3


def test_users_own_time_zone_wins_over_the_agencys(client, make, world, care):
    with in_app(make.app) as session:
        session.get(type(world.margaret), world.margaret.id).time_zone = "America/New_York"
        session.commit()
    login(client, "margaretjones")
    assert "10:00 AM – 12:00 PM" in text_of(client.get("/schedule?view=day&date=2026-11-30"))


@pytest.mark.parametrize("status", ["scheduled", "in_progress", "completed", "cancelled", "missed"])
def test_every_status_is_shown_in_words(client, make, world, care, status):
    make.visit(world.client_a, datetime(2026, 11, 25, 15, 0, tzinfo=UTC), status=status)
    login(client, "margaretjones")
    html = text_of(client.get("/schedule?view=day&date=2026-11-25"))
    label = {"in_progress": "In progress"}.get(status, status.capitalize())
    assert f'<span class="status {status}">{label}</span>' in html
    assert "Caregiver not yet assigned" in html


def test_completed_visit_shows_the_after_visit_summary(client, make, world, care):
    visit = make.visit(
        world.client_a,
        datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
        caregiver_id=care.lucja.id,
        status="completed",
        clock_in_at=datetime(2026, 11, 23, 15, 4, tzinfo=UTC),
        clock_out_at=datetime(2026, 11, 23, 16, 58, tzinfo=UTC),
        caregiver_note="Margaret enjoyed the soup.\nShe asked about Thursday.",
    )
    make.save(
        VisitTask(agency_id=world.a.id, visit_id=visit.id, task_id=care.bathing.id, status="done"),
        VisitTask(agency_id=world.a.id, visit_id=visit.id, task_id=care.meals.id, status="done"),
        VisitTask(
            agency_id=world.a.id,
            visit_id=visit.id,
            task_id=care.walk.id,
            status="refused",
            refusal_reason="Too cold outside",
        ),
    )
    login(client, "margaretjones")
    html = text_of(client.get("/schedule?view=week&date=2026-11-23"))
    summary = html[html.index("<details>") : html.index("</details>")]
    assert "Arrived 9:04 AM, left 10:58 AM" in summary
    assert "Done: Bathing, Meal preparation" in summary
    assert "Short walk — Too cold outside" in summary
    assert "Margaret enjoyed the soup.\nShe asked about Thursday." in summary
    assert html.count("<details>") == 1  # the scheduled visit has no summary


def test_summary_of_a_visit_with_every_task_done(client, make, world, care):
    visit = make.visit(
        world.client_a,
        datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
        caregiver_id=care.ana.id,
        status="completed",
    )
    make.save(VisitTask(agency_id=world.a.id, visit_id=visit.id, task_id=care.bathing.id, status="done"))
    login(client, "margaretjones")
    html = text_of(client.get("/schedule?view=day&date=2026-11-23"))
    summary = html[html.index("<details>") : html.index("</details>")]
    assert "All tasks done" in summary and "Arrived not recorded, left not recorded" in summary


# --- caregiver photos ----------------------------------------------------------------------------


def test_photo_is_shown_only_when_there_is_one(client, make, world, care):
    make.visit(world.client_a, datetime(2026, 12, 1, 15, 0, tzinfo=UTC), caregiver_id=care.lucja.id)
    login(client, "margaretjones")
    html = text_of(client.get("/schedule?view=week&date=2026-11-30"))
    photo_url = f"/schedule/caregivers/{care.lucja.id}/photo"
    assert f'src="{photo_url}"' in html
    assert f"/schedule/caregivers/{care.ana.id}/photo" not in html  # Ana has none: initials
    assert '<span class="avatar" aria-hidden="true">AT</span>' in html
    photo = client.get(photo_url)
    assert photo.status_code == 200 and photo.mimetype == "image/png" and photo.data == PNG
    assert client.get(f"/schedule/caregivers/{care.ana.id}/photo").status_code == 404


def test_photo_of_a_caregiver_who_never_visits_my_clients_is_404(app, client, make, world, care):
    make.visit(world.client_a2, datetime(2026, 11, 24, 15, 0, tzinfo=UTC), caregiver_id=care.lucja.id)
    login(client, "margaretjones")
    assert client.get(f"/schedule/caregivers/{care.lucja.id}/photo").status_code == 404
    harold = app.test_client()
    login(harold, "haroldsmith")
    assert harold.get(f"/schedule/caregivers/{care.lucja.id}/photo").status_code == 200


def test_photo_of_another_agencys_caregiver_is_404(client, make, world):
    stranger = make.caregiver(world.b, "Bo Brown", photo=PNG)
    make.visit(world.client_b, NOV_30_9AM_CHICAGO, caregiver_id=stranger.id)
    login(client, "margaretjones")
    assert client.get(f"/schedule/caregivers/{stranger.id}/photo").status_code == 404


# --- who sees what -------------------------------------------------------------------------------


def test_payer_sees_all_clients_or_one(client, make, world, care):
    make.visit(world.client_a2, datetime(2026, 11, 30, 20, 0, tzinfo=UTC), caregiver_id=care.lucja.id)
    login(client, "robertjones")
    everyone = text_of(client.get("/schedule?view=day&date=2026-11-30&client=all"))
    assert "9:00 AM – 11:00 AM" in everyone and "2:00 PM – 4:00 PM" in everyone
    assert "for Margaret Jones" in everyone and "for Harold Smith" in everyone
    assert '<option value="all" selected>All clients</option>' in everyone
    assert "client=all" in link(everyone, "next")

    harold = text_of(client.get(f"/schedule?view=day&date=2026-11-30&client={world.client_a2.id}"))
    assert "2:00 PM – 4:00 PM" in harold and "9:00 AM – 11:00 AM" not in harold
    assert "for Harold Smith" not in harold  # one client: no need to say whose


def test_single_client_user_gets_no_client_picker(client, world, care):
    login(client, "margaretjones")
    html = text_of(client.get("/schedule"))
    assert 'name="client"' not in html and "All clients" not in html


def test_another_clients_visits_never_appear(client, make, world, care):
    make.visit(world.client_a2, datetime(2026, 11, 30, 20, 0, tzinfo=UTC), caregiver_id=care.lucja.id)
    login(client, "margaretjones")
    for query in ("", "&client=all"):
        html = text_of(client.get(f"/schedule?view=day&date=2026-11-30{query}"))
        assert "2:00 PM" not in html and "Łucja Nowak" not in html


@pytest.mark.parametrize("path", ["/schedule", "/schedule/print", "/schedule.pdf"])
def test_client_out_of_reach_is_404(client, world, care, path):
    login(client, "margaretjones")
    assert client.get(f"{path}?client={world.client_a2.id}").status_code == 404
    assert client.get(f"{path}?client={world.client_b.id}").status_code == 404
    assert client.get(f"{path}?client=abc").status_code == 404


def test_other_agency_never_sees_agency_a_visits(client, make, world, care):
    make.visit(world.client_b, datetime(2026, 11, 30, 18, 0, tzinfo=UTC))
    login(client, "alicebrown", host=HOST_B)
    html = text_of(client.get("/schedule?view=day&date=2026-11-30", host=HOST_B))
    assert "12:00 PM – 2:00 PM" in html
    assert "Ana Torres" not in html and "9:00 AM" not in html
    assert client.get(f"/schedule?client={world.client_a.id}", host=HOST_B).status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/schedule", "/schedule?view=week", "/schedule/print", "/schedule.pdf", "/schedule/caregivers/1/photo"],
)
def test_switched_off_schedule_is_404(client, make, world, care, path):
    user = make.user(world.a, "quietcousin", name="Quiet Cousin")
    make.link(user, world.client_a, "emergency_contact", show_schedule=False)
    login(client, "quietcousin")
    assert client.get(path).status_code == 404


def test_staff_have_no_portal_schedule(client, world, care):
    login(client, "admin")
    assert client.get("/schedule").status_code == 404


def test_signed_out_goes_to_login(client, world):
    response = client.get("/schedule?view=week")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/schedule?view=week", htmx=True).status_code == 401


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("view=foo", "There is no such calendar view"),
        ("view=MONTH", "There is no such calendar view"),
        ("date=2026-13-45", "That date does not exist"),
        ("date=2026-02-30", "That date does not exist"),
        ("date=20261130", "That date is not valid"),
        ("date=2026-W48-1", "That date is not valid"),
        ("date=٢٠٢٦-١١-٣٠", "That date is not valid"),
        ("date=9999-12-31", "too far"),
        ("date=0001-01-01&view=day", "too far"),
    ],
)
def test_bad_query_values_are_400_with_a_message(client, world, care, query, message):
    login(client, "margaretjones")
    for path in ("/schedule", "/schedule/print", "/schedule.pdf"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, path
        assert message in text_of(response)
    fragment = client.get(f"/schedule?{query}", htmx=True)
    assert fragment.status_code == 400 and "<html" not in text_of(fragment)


def test_edges_of_the_calendar_do_not_break(client, world, care):
    login(client, "margaretjones")
    for query in ("view=month&date=2999-12-31", "view=week&date=2999-12-31", "view=day&date=1900-01-01"):
        response = client.get(f"/schedule?{query}")
        assert response.status_code == 200, query
        assert client.get(link(text_of(response), "next")).status_code == 200
        assert client.get(link(text_of(response), "prev")).status_code == 200


# --- print ---------------------------------------------------------------------------------------


def test_print_view_has_no_script_and_a_printer_link_leads_there(client, world, care):
    login(client, "margaretjones")
    page = text_of(client.get("/schedule?view=week&date=2026-11-30"))
    print_url = re.search(
        r'<a href="(/schedule/print\?[^"]+)"><svg[^>]*><use href="[^"]+#printer"></use></svg>Print', page
    )
    assert print_url, "no printer link"
    assert "view=week" in print_url.group(1) and "date=2026-11-30" in print_url.group(1)
    response = client.get(unescape(print_url.group(1)))
    assert response.status_code == 200
    html = text_of(response)
    assert "<script" not in html.lower()
    assert re.search(r'<link rel="stylesheet" href="/static/css/schedule-print\.[0-9a-f]{12}\.css">', html)
    assert "Margaret Jones" in html and "9:00 AM – 11:00 AM" in html and "Ana Torres" in html
    assert "Sunday, November 29" in html and "Saturday, December 5" in html


def test_month_print_starts_each_week_on_a_new_page(client, world, care):
    login(client, "margaretjones")
    html = text_of(client.get("/schedule/print?view=month&date=2026-11-01"))
    assert html.count('<div class="week') == 5  # Nov 2026: five calendar weeks
    css = client.get("/static/css/schedule-print.css").get_data(as_text=True)
    assert ".week+.week{break-before:page}" in css


# --- bounded queries -----------------------------------------------------------------------------


def _count_queries(app, client, path) -> tuple[int, str]:
    with recorded_sql(app) as statements:
        response = client.get(path)
    assert response.status_code == 200
    return len(statements), response.get_data(as_text=True)


def _bulk_visits(app, world, care, number):
    """`number` visits spread over November 2026, each with two tasks, inserted in bulk."""
    start = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    caregivers = [care.ana.id, care.lucja.id]
    rows = [
        {
            "agency_id": world.a.id,
            "client_id": world.client_a.id,
            "caregiver_id": caregivers[n % 2],
            "starts_at": start + timedelta(minutes=40 * n),
            "ends_at": start + timedelta(minutes=40 * n + 30),
            "status": "completed" if n % 3 else "scheduled",
            "version": 1,
        }
        for n in range(number)
    ]
    with in_app(app) as session:
        before = session.scalar(select(func.max(Visit.id)))
        session.execute(insert(Visit), rows)
        ids = session.scalars(select(Visit.id).where(Visit.id > before)).all()
        tasks = [
            {"agency_id": world.a.id, "visit_id": vid, "task_id": task, "status": "done"}
            for vid in ids
            for task in (care.bathing.id, care.meals.id)
        ]
        session.execute(insert(VisitTask), tasks)
        session.commit()


def test_month_view_costs_the_same_queries_for_ten_or_a_thousand_visits(app, client, world, care):
    login(client, "margaretjones")
    path = "/schedule?view=month&date=2026-11-01"
    _bulk_visits(app, world, care, 9)  # with the fixture's visit: 10
    few, html = _count_queries(app, client, path)
    assert html.count('<li class="visit') == 10

    _bulk_visits(app, world, care, 1_000)
    many, html = _count_queries(app, client, path)
    assert html.count('<li class="visit') == 1_010
    assert many == few, f"{few} queries for 10 visits, {many} for 1,010"
    assert few <= 10
