"""Conflicts answer 409 with a page that says what to do, never a 500, and keep nothing.

A stale form is refused by its version; a race lost after that check is found by the database, in
a view's flush or in the one commit after the view answered. "Another request" here is a second
database connection that commits in the middle of the request, through a session event armed for
that one request; the same for a plain and an htmx request.
"""

import re
from contextlib import contextmanager, nullcontext

import pytest
from flask import g, has_request_context, message_flashed
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Agency, OutboxMail, User
from tests.conftest import CSRF_RE, get_one, in_app, login

KINDS = pytest.mark.parametrize("headers", [{}, {"HX-Request": "true"}], ids=["page", "htmx"])
VERSION_RE = re.compile(r'name="version" type="hidden" value="(\d+)"')

STALE = "Someone else changed this at the same time, so your changes were not saved."
RELOAD = "Reload the page to see what is saved now, then make your changes again."
CLASH = "This could not be saved: it clashes with something saved at the same moment."


def _open_settings(client) -> dict:
    """What one browser tab holds after opening the settings: its form token and version."""
    page = client.get("/admin/settings").get_data(as_text=True)
    token = CSRF_RE.search(page)
    return {"csrf_token": token.group(1) or token.group(2), "version": VERSION_RE.search(page).group(1)}


def _settings(tab, **overrides):
    data = {
        **tab,
        "name": "Alpha Home Care",
        "contact_email": "office@alpha.example.org",
        "time_zone": "America/Chicago",
        "schedule_request_recipient_id": "0",
        "schedule_request_horizon_days": "90",
        "session_idle_minutes": "15",
        "payment_gateway": "none",
    }
    data.update(overrides)
    return data


def _assert_conflict(response, headers, *lines):
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert ("<html" in page) is ("HX-Request" not in headers)  # the fragment for htmx, else the page
    assert 'id="error"' in page
    for line in lines:
        assert line in page
    return page


@contextmanager
def during_request(name, hook):
    """Run `hook(session, *args)` at the session event `name`, once, inside the next request."""
    fired = []

    def listener(session, *args):
        if has_request_context() and not fired and hook(session, *args) is not False:
            fired.append(True)

    event.listen(Session, name, listener)
    try:
        yield fired
    finally:
        event.remove(Session, name, listener)
    assert fired, f"the {name} hook never ran"


@contextmanager
def flush_in_the_view(app):
    """Make the settings view flush its changes itself, as a service does, before it answers."""

    def flush(_sender, **_):
        db.session.flush()

    message_flashed.connect(flush, app)  # the view flashes "saved" after changing the row
    try:
        yield
    finally:
        message_flashed.disconnect(flush, app)


def _saved_elsewhere(agency_id):
    """Another owner saves the settings now, on its own connection."""
    with db.engine.begin() as other:
        other.execute(
            update(Agency.__table__)
            .where(Agency.id == agency_id)
            .values(name="Saved Elsewhere", version=Agency.version + 1)
        )


@KINDS
def test_second_tab_is_refused_and_the_first_tabs_save_is_kept(app, client, world, headers):
    login(client, "admin")
    first, second = _open_settings(client), _open_settings(client)
    saved = client.post("/admin/settings", data=_settings(first, name="First Tab Care"))
    assert saved.status_code == 303

    response = client.post("/admin/settings", data=_settings(second, name="Second Tab Care"), headers=headers)
    page = _assert_conflict(response, headers, STALE, RELOAD, "The saved copy is now version 2.")
    assert 'href="/admin/settings"' in page  # the reload link
    assert get_one(app, Agency, id=world.a.id).name == "First Tab Care"

    # Reloading gives the current version, and that save goes through.
    again = client.post("/admin/settings", data=_settings(_open_settings(client), name="Second Tab Care"))
    assert again.status_code == 303
    assert get_one(app, Agency, id=world.a.id).name == "Second Tab Care"


def test_a_form_without_its_version_is_refused_in_the_readers_language(app, client, world):
    with in_app(app) as session:
        session.get(User, world.staff_a.id).language = "es"
        session.commit()
    login(client, "admin")
    tab = _open_settings(client)
    del tab["version"]
    response = client.post("/admin/settings", data=_settings(tab, name="No Version Care"))
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Otra persona cambió esto al mismo tiempo, así que sus cambios no se guardaron." in page
    assert "La copia guardada es ahora la versión 1." in page and "Volver a cargar la página" in page
    assert get_one(app, Agency, id=world.a.id).name == "Alpha Home Care"


@pytest.mark.commits  # another connection or thread writes at the same time
@KINDS
@pytest.mark.parametrize("flushed_in", ["view", "commit"])
def test_a_save_that_loses_the_race_after_the_check_is_a_409(app, client, world, headers, flushed_in):
    # Both saves pass check_version; the other one is written first, just before this one's flush,
    # which a view may do itself (the error handler answers) or leave to the commit (after_request).
    def other_saves_first(session, *_):
        if g.agency not in session.dirty:
            return False
        _saved_elsewhere(g.agency.id)

    login(client, "admin")
    tab = _open_settings(client)
    in_view = flush_in_the_view(app) if flushed_in == "view" else nullcontext()
    with during_request("before_flush", other_saves_first), in_view:
        response = client.post(
            "/admin/settings", data=_settings(tab, contact_phone="555-0199"), headers=headers
        )
    page = _assert_conflict(response, headers, STALE, RELOAD)
    agency = get_one(app, Agency, id=world.a.id)
    assert (agency.name, agency.contact_phone, agency.version) == ("Saved Elsewhere", None, 2)
    # "Office settings saved." was never true: not on the 409 page, nor on the next one.
    assert "Office settings saved." not in page
    assert "Office settings saved." not in client.get("/admin/settings").get_data(as_text=True)


@pytest.mark.commits  # another connection or thread writes at the same time
@KINDS
def test_a_stale_row_found_at_commit_replaces_the_views_answer_with_a_409(app, client, world, headers):
    # The view has answered 200; only the commit's flush writes this request's change, and by then
    # another connection has saved the row.
    def changed_behind_the_sessions_back(session):
        _saved_elsewhere(g.agency.id)
        g.agency.contact_phone = "555-0199"

    login(client, "admin")
    with during_request("before_commit", changed_behind_the_sessions_back):
        response = client.get("/admin/settings", headers=headers)
    _assert_conflict(response, headers, STALE, RELOAD)
    assert response.headers["Content-Security-Policy"]  # the replacing page gets every header too
    agency = get_one(app, Agency, id=world.a.id)
    assert (agency.name, agency.contact_phone) == ("Saved Elsewhere", None)


@KINDS
def test_a_unique_clash_found_at_commit_is_a_409(app, client, world, headers):
    def duplicate_login_name(session):
        session.add(User(agency_id=g.agency.id, username="margaretjones", first_name="M", last_name="J"))

    login(client, "admin")
    with during_request("before_commit", duplicate_login_name):
        response = client.get("/admin/settings", headers=headers)
    _assert_conflict(response, headers, CLASH)
    with in_app(app) as session:
        assert session.scalar(select(func.count()).where(User.username == "margaretjones")) == 1


@pytest.mark.commits  # another connection or thread writes at the same time
@KINDS
def test_two_people_created_with_the_same_login_name_at_once(app, client, world, headers):
    # The other request picks the same free name and commits between our check and our insert.
    def other_takes_the_name(session, *_):
        if not any(isinstance(obj, User) and obj.username == "noraquinn" for obj in session.new):
            return False
        with db.engine.begin() as other:
            other.execute(
                insert(User.__table__).values(
                    agency_id=g.agency.id, username="noraquinn", first_name="Nora", last_name="Quinn"
                )
            )

    login(client, "admin")
    data = {
        "csrf_token": _open_settings(client)["csrf_token"],
        "first_name": "Nora",
        "last_name": "Quinn",
        "email": "nora@example.com",
        "role": "portal",
        "client_id": str(world.client_a.id),
        "relationship": "payer",
        "access": "email",
    }
    with during_request("before_flush", other_takes_the_name):
        response = client.post("/admin/people/new", data=data, headers=headers)
    _assert_conflict(response, headers, CLASH)
    with in_app(app) as session:
        assert session.scalars(select(User.email).where(User.username == "noraquinn")).all() == [None]
        assert session.scalar(select(OutboxMail).filter_by(to_address="nora@example.com")) is None
