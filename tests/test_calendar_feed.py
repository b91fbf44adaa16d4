"""The private calendar feed and the personal settings page that creates, regenerates and revokes it.

What is asserted is what a subscriber's calendar app receives (a parsable iCalendar with stable
UIDs and no health details), what the user sees on the settings page, and what is stored (only a
hash of the token).
"""

import hashlib
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from icalendar import Calendar
from sqlalchemy import select

from app.models import AuditEvent, CalendarFeedToken, ClientLink, User, Visit, VisitTask, utcnow
from tests.conftest import HOST_A, HOST_B, get_one, in_app, login

FEED_URL_RE = re.compile(r'id="feed-url"[^>]*value="([^"]+)"')


def create_feed(client, host=HOST_A) -> str:
    """Press "Create my calendar feed" and return the feed path shown once on the page."""
    response = client.post_form("/profile/settings/calendar-feed", host=host, token_from="/profile/settings")
    assert response.status_code == 200
    match = FEED_URL_RE.search(response.get_data(as_text=True))
    assert match, "the new feed address is shown"
    url = match.group(1)
    assert url.startswith(f"http://{host}/schedule/feed/") and url.endswith(".ics")
    return urlsplit(url).path


def token_of(path: str) -> str:
    return path.removeprefix("/schedule/feed/").removesuffix(".ics")


def parse(response) -> list:
    assert response.status_code == 200
    calendar = Calendar.from_ical(response.data)
    return list(calendar.walk("VEVENT"))


@pytest.fixture
def visits(world, make):
    """Margaret's visits across the feed window, one for Harold, one in agency B."""
    now = utcnow().replace(microsecond=0)
    ana = make.caregiver(world.a, "Ana Torres")
    bathing = make.task(world.a, "Bathing assistance")
    v = type("Visits", (), {})()
    v.too_old = make.visit(world.client_a, now - timedelta(days=120), caregiver_id=ana.id)
    v.past = make.visit(
        world.client_a,
        now - timedelta(days=10),
        caregiver_id=ana.id,
        status="completed",
        caregiver_note="Mentioned dizziness after insulin",
    )
    v.upcoming = make.visit(world.client_a, now + timedelta(days=3), caregiver_id=ana.id)
    v.cancelled = make.visit(world.client_a, now + timedelta(days=5), caregiver_id=ana.id, status="cancelled")
    v.no_caregiver = make.visit(world.client_a, now + timedelta(days=7))
    v.too_far = make.visit(world.client_a, now + timedelta(days=120), caregiver_id=ana.id)
    v.harold = make.visit(world.client_a2, now + timedelta(days=2), caregiver_id=ana.id)
    v.other_agency = make.visit(world.client_b, now + timedelta(days=2))
    make.save(VisitTask(agency_id=world.a.id, visit_id=v.past.id, task_id=bathing.id, status="done"))
    return v


def uids(events) -> set[str]:
    return {str(e["UID"]) for e in events}


def test_feed_lists_visits_in_range_without_health_details(client, world, visits):
    login(client, "margaretjones")
    path = create_feed(client)

    anonymous = client.application.test_client()  # a calendar app: no cookie, no session
    response = anonymous.get(path)
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    cache = response.headers["Cache-Control"]
    assert "private" in cache and "max-age=300" in cache
    events = parse(response)

    expected = {visits.past.id, visits.upcoming.id, visits.cancelled.id, visits.no_caregiver.id}
    assert uids(events) == {f"visit-{i}@{HOST_A}" for i in expected}
    by_uid = {str(e["UID"]): e for e in events}
    upcoming = by_uid[f"visit-{visits.upcoming.id}@{HOST_A}"]
    assert str(upcoming["SUMMARY"]) == "Care visit — Ana"
    assert upcoming.decoded("DTSTART") == visits.upcoming.starts_at
    assert upcoming.decoded("DTEND") == visits.upcoming.ends_at
    assert str(upcoming["STATUS"]) == "CONFIRMED"
    assert str(by_uid[f"visit-{visits.cancelled.id}@{HOST_A}"]["STATUS"]) == "CANCELLED"
    assert str(by_uid[f"visit-{visits.no_caregiver.id}@{HOST_A}"]["SUMMARY"]) == "Care visit"

    body = response.get_data(as_text=True)
    for secret in ("Bathing", "dizziness", "insulin", "Torres", "Harold"):
        assert secret not in body
    assert "DESCRIPTION" not in body

    # A second fetch gives the same UIDs, so calendar apps update events rather than duplicate them.
    assert uids(parse(anonymous.get(path))) == uids(events)
    row = get_one(client.application, CalendarFeedToken, user_id=world.margaret.id)
    assert row.last_used_at is not None


def test_feed_follows_the_access_policy(client, world, visits, app):
    # Robert pays for both clients: both schedules, each visit says whose it is.
    login(client, "robertjones")
    events = parse(client.get(create_feed(client)))
    summaries = {str(e["UID"]): str(e["SUMMARY"]) for e in events}
    assert summaries[f"visit-{visits.harold.id}@{HOST_A}"] == "Care visit for Harold — Ana"
    assert summaries[f"visit-{visits.upcoming.id}@{HOST_A}"] == "Care visit for Margaret — Ana"


def test_feed_drops_a_client_whose_schedule_is_switched_off(client, world, visits, app):
    login(client, "robertjones")
    path = create_feed(client)
    with in_app(app) as session:
        link = session.scalar(
            select(ClientLink).where(
                ClientLink.user_id == world.robert.id, ClientLink.client_id == world.client_a2.id
            )
        )
        link.show_schedule = False
        session.commit()
    events = parse(client.application.test_client().get(path))
    assert f"visit-{visits.harold.id}@{HOST_A}" not in uids(events)
    assert f"visit-{visits.upcoming.id}@{HOST_A}" in uids(events)
    assert not any(" for " in str(e["SUMMARY"]) for e in events)  # one client left: no name needed


def test_only_the_hash_of_the_token_is_stored(client, world, app):
    login(client, "margaretjones")
    token = token_of(create_feed(client))
    with in_app(app) as session:
        rows = session.scalars(select(CalendarFeedToken)).all()
        assert len(rows) == 1
        assert rows[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr([getattr(rows[0], c.key) for c in CalendarFeedToken.__table__.columns])
        events = session.scalars(select(AuditEvent).where(AuditEvent.action.like("calendar_feed.%"))).all()
        assert [e.action for e in events] == ["calendar_feed.created"]
        assert token not in repr([e.details for e in events])


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t.upper(),
        lambda t: t + "x",
        lambda t: "x" * 500,
        lambda t: "",
    ],
    ids=["last-char", "case", "suffix", "long", "empty"],
)
def test_tampered_token_is_404(client, world, tamper):
    login(client, "margaretjones")
    token = token_of(create_feed(client))
    anonymous = client.application.test_client()
    assert anonymous.get(f"/schedule/feed/{tamper(token)}.ics").status_code == 404
    assert anonymous.get(f"/schedule/feed/{token}.ics").status_code == 200


def test_revoked_token_is_404(client, world, app):
    login(client, "margaretjones")
    path = create_feed(client)
    response = client.post_form(
        "/profile/settings/calendar-feed/revoke", follow=True, token_from="/profile/settings"
    )
    body = response.get_data(as_text=True)
    assert "Your calendar feed is switched off" in body
    assert "You have no calendar feed" in body
    assert client.application.test_client().get(path).status_code == 404
    with in_app(app) as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert "calendar_feed.revoked" in actions


def test_regenerate_kills_the_old_address(client, world, app):
    login(client, "margaretjones")
    old = create_feed(client)
    settings = client.get("/profile/settings").get_data(as_text=True)
    assert "Your feed is on" in settings and "Make a new address" in settings
    assert token_of(old) not in settings  # shown once only
    new = create_feed(client)
    assert new != old
    anonymous = client.application.test_client()
    assert anonymous.get(old).status_code == 404
    assert anonymous.get(new).status_code == 200
    with in_app(app) as session:
        active = session.scalars(
            select(CalendarFeedToken).where(CalendarFeedToken.revoked_at.is_(None))
        ).all()
        assert len(active) == 1
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("calendar_feed.%"))
        ).all()
        assert actions == ["calendar_feed.created", "calendar_feed.regenerated"]


def test_token_of_agency_a_is_404_on_host_b(client, world):
    login(client, "margaretjones")
    path = create_feed(client)
    anonymous = client.application.test_client()
    assert anonymous.get(path, host=HOST_B).status_code == 404
    assert anonymous.get(path).status_code == 200


def test_locked_or_deactivated_user_feed_is_404(client, world, app):
    login(client, "margaretjones")
    path = create_feed(client)
    with in_app(app) as session:
        session.get(User, world.margaret.id).is_locked = True
        session.commit()
    assert app.test_client().get(path).status_code == 404


def test_feed_create_and_revoke_with_htmx_answer_fragments(client, world):
    login(client, "margaretjones")
    response = client.post_form("/profile/settings/calendar-feed", htmx=True, token_from="/profile/settings")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'id="calendar-feed"' in body
    path = urlsplit(FEED_URL_RE.search(body).group(1)).path
    assert client.application.test_client().get(path).status_code == 200

    response = client.post_form(
        "/profile/settings/calendar-feed/revoke", htmx=True, token_from="/profile/settings"
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert "Your calendar feed is switched off" in body
    assert client.application.test_client().get(path).status_code == 404


def test_feed_section_hidden_without_schedule(client, world, make):
    make.link(make.user(world.a, "nobody", name="No Body"), world.client_a2, "self", show_schedule=False)
    login(client, "nobody")
    body = client.get("/profile/settings").get_data(as_text=True)
    assert "not switched on for you" in body and "Create my calendar feed" not in body
    client.post_form("/profile/settings/calendar-feed", token_from="/profile/settings")
    assert get_one(client.application, CalendarFeedToken) is None


def test_staff_have_no_personal_feed(client, world):
    login(client, "admin")
    assert client.get("/profile/settings").status_code == 404


# --- the rest of personal settings ----------------------------------------------------------------


def settings_data(**overrides):
    data = {"language": "en", "time_zone": "", "notify_messages": "y"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_settings_save_plain_form(client, world, app):
    login(client, "margaretjones")
    page = client.get("/profile/settings").get_data(as_text=True)
    assert "Personal settings" in page and "Calendar feed" in page
    response = client.post_form(
        "/profile/settings",
        settings_data(language="es", time_zone="America/New_York", large_text="y", notify_messages=None),
        follow=True,
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Your settings are saved." in body
    assert '<html lang="es" class="large-text">' in body
    user = get_one(app, User, id=world.margaret.id)
    assert (user.language, user.time_zone, user.large_text, user.notify_messages) == (
        "es",
        "America/New_York",
        True,
        False,
    )
    assert get_one(app, AuditEvent, action="profile.settings_changed") is not None


def test_settings_save_with_htmx(client, world, app):
    login(client, "margaretjones")
    response = client.post_form("/profile/settings", settings_data(notify_visit_summary="y"), htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and "Your settings are saved." in body
    assert get_one(app, User, id=world.margaret.id).notify_visit_summary is True
    # A change of text size reloads the whole page.
    response = client.post_form("/profile/settings", settings_data(large_text="y"), htmx=True)
    assert response.headers.get("HX-Redirect") == "/profile/settings"


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("time_zone", "Mars/Olympus_Mons", "Choose a time zone from the list."),
        ("time_zone", "Europe/Paris", "Choose a time zone from the list."),
        ("language", "fr", "Choose English or Español."),
    ],
)
def test_settings_refuse_bad_values(client, world, app, field, value, message):
    login(client, "margaretjones")
    response = client.post_form("/profile/settings", settings_data(**{field: value}))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    user = get_one(app, User, id=world.margaret.id)
    assert user.time_zone is None and user.language == "en"
    response = client.post_form("/profile/settings", settings_data(**{field: value}), htmx=True)
    assert response.status_code == 422 and "<html" not in response.get_data(as_text=True)


def test_unchanged_feed_answers_304_and_a_change_shows(client, world, visits, app):
    login(client, "margaretjones")
    path = create_feed(client)
    phone = app.test_client()
    first = phone.get(path, headers={"Accept-Encoding": "gzip"})
    etag = first.headers["ETag"]
    again = phone.get(path, headers={"If-None-Match": etag, "Accept-Encoding": "gzip"})
    assert again.status_code == 304 and again.data == b""

    with in_app(app) as session:
        session.get(Visit, visits.upcoming.id).status = "cancelled"
        session.commit()
    changed = phone.get(path, headers={"If-None-Match": etag})
    events = {str(e["UID"]): e for e in parse(changed)}
    event = events[f"visit-{visits.upcoming.id}@{HOST_A}"]
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1
