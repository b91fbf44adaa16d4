"""Tenancy: the fail-closed safety net under every tenant-owned SELECT, and the agency from the host.

The safety net is the second lock (views also look up by id *and* agency), so these tests query
without any `where agency_id = …` and expect the listener alone to keep agency B's rows out.
"""

import pytest
from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import Agency, Client, ClientLink, Invoice, OutboxMail, Visit
from app.tenancy import TenantScopeMissing, agency_scope, all_agencies
from app.web.tenancy import resolve_agency
from tests.conftest import HOST_A, HOST_B, login

# Statements that touch the clients table in different ways: entity, column, aggregate without
# any entity, joined, aliased, in a subquery.
ClientAlias = aliased(Client)
STATEMENTS = {
    "entity": lambda: select(Client),
    "column": lambda: select(Client.id),
    "count-column": lambda: select(func.count(Client.id)),
    "count-star-select-from": lambda: select(func.count()).select_from(Client),
    "joined-from-agency": lambda: select(Agency.id).join(Client, Client.agency_id == Agency.id),
    "aliased": lambda: select(ClientAlias.id),
    "in-subquery": lambda: select(Agency.id).where(Agency.id.in_(select(Client.agency_id))),
    "exists": lambda: select(Agency.id).where(exists().where(Client.agency_id == Agency.id)),
}


@pytest.mark.parametrize("name", STATEMENTS)
def test_query_without_agency_in_scope_fails_closed(app, world, name):
    with app.app_context(), pytest.raises(TenantScopeMissing):
        db.session.execute(STATEMENTS[name]()).all()


def test_get_by_id_without_agency_in_scope_fails_closed(app, world):
    with app.app_context(), pytest.raises(TenantScopeMissing):
        db.session.get(Client, world.client_a.id)


def test_tables_not_owned_by_a_tenant_need_no_scope(app, world):
    with app.app_context():
        assert len(db.session.scalars(select(Agency)).all()) == 2
        assert db.session.scalars(select(OutboxMail)).all() == []


def _agency_ids(rows):
    return {row.agency_id for row in rows}


@pytest.mark.parametrize(
    ("name", "expected_a", "expected_both"),
    [
        ("entity", 2, 3),
        ("column", 2, 3),
        ("count-column", 2, 3),
        ("count-star-select-from", 2, 3),
        ("joined-from-agency", 2, 3),
        ("aliased", 2, 3),
        ("in-subquery", 1, 2),
        ("exists", 1, 2),
    ],
)
def test_agency_scope_limits_rows_without_a_where_clause(app, world, name, expected_a, expected_both):
    def count(rows):
        return rows[0][0] if name.startswith("count") else len(rows)

    with app.app_context():
        with agency_scope(world.a):
            assert count(db.session.execute(STATEMENTS[name]()).all()) == expected_a
        with agency_scope(world.b):
            assert count(db.session.execute(STATEMENTS[name]()).all()) == expected_both - expected_a
        with all_agencies():
            assert count(db.session.execute(STATEMENTS[name]()).all()) == expected_both


def test_agency_scope_returns_only_that_agencys_objects(app, world):
    with app.app_context():
        with agency_scope(world.a):
            clients = db.session.scalars(select(Client)).all()
            assert {c.id for c in clients} == {world.client_a.id, world.client_a2.id}
            assert _agency_ids(clients) == {world.a.id}
            assert db.session.get(Client, world.client_b.id) is None
        db.session.expunge_all()
        with agency_scope(world.b):
            assert [c.id for c in db.session.scalars(select(Client))] == [world.client_b.id]


def test_lazy_loads_are_scoped_too(app, make, world):
    """Even a row pointing across agencies (a bug elsewhere) does not pull the other agency's data."""

    # Agency B's link row pointing at agency A's client, and agency A's link pointing at B's client.
    def stray_link(agency, user, client):
        return make.save(
            ClientLink(agency_id=agency.id, user_id=user.id, client_id=client.id, relationship_kind="self")
        )

    stray_link(world.b, world.alice, world.client_a)
    stray = stray_link(world.a, world.margaret, world.client_b)
    with app.app_context():
        with agency_scope(world.a):
            client = db.session.get(Client, world.client_a.id)
            # one-to-many: A's own links only, not B's link that names A's client
            assert {link.agency_id for link in client.links} == {world.a.id}
            assert world.alice.id not in {link.user_id for link in client.links}
            # many-to-one: B's client is not loaded through A's stray link
            link = db.session.get(ClientLink, stray.id)
            assert link.client is None
        db.session.expunge_all()
        with all_agencies():
            assert db.session.get(ClientLink, stray.id).client.id == world.client_b.id


def test_joined_tenant_rows_are_filtered(app, make, world):
    """A join from agency A's visit to agency B's client (bad data) yields nothing in scope A."""
    from datetime import timedelta

    from app.models import utcnow

    bad = make.save(
        Visit(
            agency_id=world.a.id,
            client_id=world.client_b.id,
            starts_at=utcnow(),
            ends_at=utcnow() + timedelta(hours=1),
        )
    )
    with app.app_context(), agency_scope(world.a):
        rows = db.session.execute(
            select(Visit.id, Client.id).join(Client, Client.id == Visit.client_id)
        ).all()
        assert rows == []
        assert db.session.get(Visit, bad.id) is not None


def test_scope_ends_with_its_block(app, world):
    with app.app_context():
        with agency_scope(world.a):
            db.session.scalars(select(Invoice)).all()
        with pytest.raises(TenantScopeMissing):
            db.session.scalars(select(Invoice)).all()


# --- the agency comes from the request host ----------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (HOST_A, "alpha"),
        ("alpha.localhost:5000", "alpha"),  # the port does not matter
        ("ALPHA.localhost", "alpha"),  # nor the case
        (HOST_B, "beta"),
        ("beta.localhost:8443", "beta"),
        # Only the hosts the configuration names (DEFAULT_AGENCY_HOSTS) fall back to the default.
        ("127.0.0.1:5000", "alpha"),
        ("localhost", "alpha"),
        ("unknown.example.org", None),
        ("attacker.example", None),
        ("alpha.localhost.attacker.example", None),
    ],
)
def test_host_resolves_agency(app, world, host, expected):
    with app.test_request_context("/", headers={"Host": host}):
        agency = resolve_agency()
        assert (agency.slug if agency else None) == expected


@pytest.mark.parametrize("path", ["/login", "/password/forgot", "/dashboard", "/admin/"])
def test_unknown_host_answers_400(client, world, path):
    response = client.get(path, host="attacker.example")
    assert response.status_code == 400
    assert "does not belong to any agency" in response.get_data(as_text=True)


def test_named_host_without_default_agency_answers_400(client, make):
    make.agency("alpha", HOST_A)
    assert client.get("/login", host=HOST_A).status_code == 200
    assert client.get("/login", host="localhost").status_code == 400


def test_trusted_hosts_setting_is_a_comma_separated_list(monkeypatch):
    from config import _list

    monkeypatch.setenv("TRUSTED_HOSTS", "portal.example.org, Care.Example.org,")
    assert _list("TRUSTED_HOSTS") == ("portal.example.org", "care.example.org")
    monkeypatch.delenv("TRUSTED_HOSTS")
    assert _list("TRUSTED_HOSTS") == ()


def test_requests_see_their_hosts_agency(client, world):
    assert "Alpha Home Care" in client.get("/login", host=HOST_A).get_data(as_text=True)
    assert "Beta Home Care" in client.get("/login", host=HOST_B).get_data(as_text=True)


# --- a session belongs to one agency ------------------------------------------------------------


def _session_cookie(client, host):
    cookie = client.get_cookie("session", domain=host)
    assert cookie is not None, f"no session cookie for {host}"
    return cookie.value


def test_session_cookie_replayed_on_another_agencys_host_is_not_signed_in(app, client, world):
    assert login(client, "margaretjones").status_code == 303
    assert client.get("/dashboard", host=HOST_A).status_code == 200
    # A browser would not send a host-only cookie to another host; an attacker (or a shared parent
    # cookie domain) can. Replay the very same signed cookie on agency B's host.
    client.set_cookie("session", _session_cookie(client, HOST_A), domain=HOST_B)
    response = client.get("/dashboard", host=HOST_B)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    htmx = client.get("/dashboard", host=HOST_B, htmx=True)
    assert htmx.status_code == 401
    assert htmx.headers["HX-Redirect"].startswith("/login")


def test_agency_b_session_on_agency_a_host_is_not_signed_in(client, world):
    """The other direction: a user of agency B replaying their cookie on agency A's host."""
    assert login(client, "alicebrown", host=HOST_B).status_code == 303
    client.set_cookie("session", _session_cookie(client, HOST_B), domain=HOST_A)
    response = client.get("/dashboard", host=HOST_A)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- the three lookups ----------------------------------------------------------------------------


def test_a_child_is_found_only_through_its_parent(app, make, world):
    from werkzeug.exceptions import NotFound

    from app.models import InvoiceLine
    from app.web.tenancy import enter_request_scope, get_child_or_404, leave_request_scope

    mine = make.invoice(world.client_a, "INV-1")
    other = make.invoice(world.client_a2, "INV-2")
    line = make.save(
        InvoiceLine(agency_id=world.a.id, invoice_id=other.id, description="Visit", amount_cents=1)
    )
    with app.test_request_context("/", headers={"Host": HOST_A}):
        enter_request_scope()
        try:
            assert get_child_or_404(db.session.get(Invoice, other.id), InvoiceLine, line.id).id == line.id
            with pytest.raises(NotFound):
                get_child_or_404(db.session.get(Invoice, mine.id), InvoiceLine, line.id)
            with pytest.raises(NotFound):
                get_child_or_404(db.session.get(Invoice, other.id), InvoiceLine, "9" * 30)
            with pytest.raises(TypeError):
                get_child_or_404(db.session.get(Invoice, mine.id), Client, 1)
        finally:
            leave_request_scope()
