"""The office's clients: add (with "Send portal credentials"), edit, deactivate; people's details,
deactivation and sessions; the access grid of a link with its plain-words summary."""

import re

import pytest
from sqlalchemy import insert, select

from app.models import Agency, AuditEvent, Client, ClientLink, DocumentCategory, OutboxMail, User
from app.services import accounts
from tests.conftest import HOST_B, get_one, in_app, login, recorded_sql, set_columns


def _client_data(**overrides):
    data = {
        "first_name": "Rosa",
        "last_name": "Delgado",
        "email": "rosa@example.com",
        "phone": "555-0101",
        "address": "12 Elm Street",
        "external_id": "CRM-77",
    }
    data.update(overrides)
    return data


def test_add_a_client_and_send_portal_credentials(app, client, world):
    login(client, "admin")
    answer = client.post_form("/admin/clients/new", {**_client_data(), "send_credentials": "y"}, follow=True)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "rosadelgado" in page
    rosa = get_one(app, Client, last_name="Delgado")
    assert (rosa.agency_id, rosa.external_id, rosa.is_active) == (world.a.id, "CRM-77", True)
    account = get_one(app, User, username="rosadelgado")
    link = get_one(app, ClientLink, user_id=account.id)
    assert (link.client_id, link.relationship_kind) == (rosa.id, "self")
    mail = get_one(app, OutboxMail, to_address="rosa@example.com")
    link_text = re.search(r"https?://(\S+?)/welcome/\S+", mail.body_text)
    assert link_text and link_text.group(1).startswith("alpha.localhost")  # the agency's address


def test_credentials_need_an_e_mail_address(app, client, world):
    login(client, "admin")
    answer = client.post_form("/admin/clients/new", {**_client_data(email=""), "send_credentials": "y"})
    assert answer.status_code == 422
    assert "enter the client&#39;s e-mail address first" in answer.get_data(as_text=True)
    assert get_one(app, Client, last_name="Delgado") is None


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("first_name", "", "Enter the first name."),
        ("email", "not-an-address", "Enter an e-mail address like name@example.com."),
        ("external_id", "a b<script>", "Use letters, digits and"),
        ("last_name", "x" * 101, "Field cannot be longer than 100 characters."),
    ],
)
def test_bad_details_are_refused_beside_the_field(client, world, field, value, message):
    login(client, "admin")
    answer = client.post_form("/admin/clients/new", _client_data(**{field: value}))
    assert answer.status_code == 422
    assert message in answer.get_data(as_text=True)


def test_an_external_id_is_the_agencys_once(app, client, world, make):
    make.client(world.a, "Old Record", external_id="CRM-77")
    login(client, "admin")
    answer = client.post_form("/admin/clients/new", _client_data())
    assert answer.status_code == 422 and "Another client already has this id." in answer.get_data(
        as_text=True
    )


def test_edit_a_client_and_read_the_history(app, client, world):
    login(client, "admin")
    url = f"/admin/clients/{world.client_a.id}"
    answer = client.post_form(url, _client_data(first_name="Margaret", last_name="Jones-Hill"), follow=True)
    assert answer.status_code == 200 and "Details saved." in answer.get_data(as_text=True)
    assert get_one(app, Client, id=world.client_a.id).last_name == "Jones-Hill"
    page = client.get(url).get_data(as_text=True)
    assert "History of changes" in page and "Details changed" in page and "last name" in page
    assert "555-0101" not in page.split("History of changes")[1]  # names of fields, never values
    again = client.post_form(url, _client_data(first_name="Margaret", last_name="Jones-Hill"), follow=True)
    assert "Nothing changed." in again.get_data(as_text=True)


def test_deactivating_a_client_ends_their_peoples_access_at_once(app, world):
    office, margaret, robert = app.test_client(), app.test_client(), app.test_client()
    login(office, "admin")
    login(margaret, "margaretjones")
    login(robert, "robertjones")
    assert margaret.get("/dashboard").status_code == 200
    answer = office.post_form(
        f"/admin/clients/{world.client_a.id}/active",
        {"active": "0"},
        token_from=f"/admin/clients/{world.client_a.id}",
        follow=True,
    )
    assert "Client deactivated" in answer.get_data(as_text=True)
    # Margaret had only this client: signed out everywhere.
    assert margaret.get("/dashboard").status_code == 302
    # Robert still pays for Harold: he stays signed in and sees Harold only.
    page = robert.get("/dashboard").get_data(as_text=True)
    assert "Harold Smith" in page and "Margaret Jones" not in page
    assert robert.get(f"/schedule?client={world.client_a.id}").status_code == 404
    office.post_form(
        f"/admin/clients/{world.client_a.id}/active",
        {"active": "1"},
        token_from=f"/admin/clients/{world.client_a.id}",
    )
    assert "Margaret Jones" in robert.get("/dashboard").get_data(as_text=True)


def test_the_list_searches_and_pages_in_a_few_statements(app, client, world):
    login(client, "admin")
    with recorded_sql(app) as few:
        assert client.get("/admin/clients").status_code == 200
    with in_app(app) as session:
        session.execute(
            insert(Client),
            [
                {"agency_id": world.a.id, "first_name": f"Bulk{n:03d}", "last_name": "Client"}
                for n in range(300)
            ],
        )
        session.commit()
    with recorded_sql(app) as many:
        answer = client.get("/admin/clients?q=bulk&page=2")
        assert answer.status_code == 200
    assert len(many) == len(few) <= 10, many
    page = answer.get_data(as_text=True)
    assert "300 clients" in page and "Page 2 of 6" in page
    # The pager keeps the search, as a plain link that htmx swaps into the list.
    for step, word in ((1, "Previous"), (3, "Next")):
        to = f"/admin/clients?page={step}&amp;q=bulk&amp;status=active"
        assert f'<a href="{to}" hx-get="{to}" hx-target="#admin-clients" hx-swap="outerHTML"' in page, word
    fragment = client.get("/admin/clients?q=Margaret", htmx=True).get_data(as_text=True)
    assert fragment.startswith('<section id="admin-clients"') and "Jones, Margaret" in fragment
    assert "Brown" not in client.get("/admin/clients?q=Alice").get_data(as_text=True)  # agency B's
    assert client.get("/admin/clients?page=99").status_code == 404
    assert client.get("/admin/clients?q=%00%ff").status_code in (200, 400)


def test_another_agencys_client_and_link_are_404(client, world):
    login(client, "admin")
    assert client.get(f"/admin/clients/{world.client_b.id}").status_code == 404
    with in_app(client.application) as session:
        alices = session.scalar(select(ClientLink.id).where(ClientLink.client_id == world.client_b.id))
    assert client.get(f"/admin/links/{alices}").status_code == 404


def test_portal_users_never_reach_the_clients(client, world):
    login(client, "margaretjones")
    for path in ("/admin/clients", "/admin/clients/new", f"/admin/clients/{world.client_a.id}"):
        assert client.get(path).status_code in (302, 404)


def _link_id(app, user, client):
    with in_app(app) as session:
        return session.scalar(
            select(ClientLink.id).where(ClientLink.user_id == user.id, ClientLink.client_id == client.id)
        )


def test_the_access_grid_says_in_plain_words_what_the_person_sees(app, client, world, make):
    billing = make.save(DocumentCategory(agency_id=world.a.id, name="Billing", position=1))
    forms = make.save(DocumentCategory(agency_id=world.a.id, name="Caregiver Forms", position=2))
    login(client, "admin")
    url = f"/admin/links/{_link_id(app, world.susan, world.client_a)}"
    page = client.get(url).get_data(as_text=True)
    assert "What Susan Jones sees of Margaret Jones" in page
    assert "the client&#39;s invoices" in page and "They will not see:" in page and "the care plan" in page
    # The office turns off invoices and the Billing category, and lets her sign.
    data = {
        "relationship": "emergency_contact",
        "sections": ["schedule", "signatures", "messages", "documents"],
        "may_sign_visits": "y",
        "categories": [str(forms.id)],
    }
    answer = client.post_form(url, data, follow=True)
    page = answer.get_data(as_text=True)
    assert "Access saved." in page
    assert "the visit records, and signing them" in page and "documents in: Caregiver Forms" in page
    link = get_one(app, ClientLink, id=int(url.rsplit("/", 1)[1]))
    assert (link.show_invoices, link.may_view_invoices, link.may_sign_visits) == (False, False, True)
    with in_app(app) as session:
        hidden = session.scalars(
            select(DocumentCategory.id).join(ClientLink.hidden_categories).where(ClientLink.id == link.id)
        ).all()
    assert hidden == [billing.id]
    # The portal obeys the grid: Susan's invoices are gone (she has no other client).
    susan = app.test_client()
    login(susan, "susanjones")
    assert susan.get("/invoices").status_code == 404


def test_the_grid_keeps_each_relationship_within_its_ceiling(app, client, world):
    login(client, "admin")
    url = f"/admin/links/{_link_id(app, world.robert, world.client_a)}"
    client.post_form(url, {"relationship": "payer", "sections": ["care_plan", "signatures", "invoices"]})
    link = get_one(app, ClientLink, id=int(url.rsplit("/", 1)[1]))
    assert link.may_view_care_plan is False and link.show_invoices is True
    page = client.get(url).get_data(as_text=True)
    assert "Never for a payer." in page
    assert client.post_form(url, {"relationship": "boss", "sections": []}).status_code == 422
    assert client.post_form(url, {"relationship": "payer", "sections": ["everything"]}).status_code == 422


def test_link_an_existing_person_and_remove_the_link(app, client, world):
    login(client, "admin")
    url = f"/admin/clients/{world.client_a2.id}/links"
    answer = client.post_form(url, {"person": "SusanJones", "relationship": "emergency_contact"}, follow=True)
    assert "Susan Jones is linked." in answer.get_data(as_text=True)
    link_id = _link_id(app, world.susan, world.client_a2)
    assert link_id is not None
    again = client.post_form(url, {"person": "susanjones", "relationship": "payer"})
    assert again.status_code == 422 and "already linked" in again.get_data(as_text=True)
    nobody = client.post_form(url, {"person": "nobody@example.com", "relationship": "payer"})
    assert nobody.status_code == 422
    assert client.post_form(url, {"person": "alicebrown", "relationship": "payer"}).status_code == 422
    client.post_form(f"/admin/links/{link_id}/remove", {}, token_from=f"/admin/links/{link_id}")
    assert _link_id(app, world.susan, world.client_a2) is None


def test_edit_deactivate_and_sign_out_a_person(app, world):
    office, robert = app.test_client(), app.test_client()
    login(office, "admin")
    login(robert, "robertjones")
    url = f"/admin/people/{world.robert.id}"
    answer = office.post_form(
        f"{url}/details",
        {
            "first_name": "Robert",
            "last_name": "Jones",
            "organisation_name": "Sunrise Trust",
            "email": "",
            "phone": "",
        },
        token_from=url,
        follow=True,
    )
    assert "Details saved." in answer.get_data(as_text=True)
    assert get_one(app, User, id=world.robert.id).display_name == "Sunrise Trust"
    office.post_form(f"{url}/sessions", {}, token_from=url)
    assert robert.get("/dashboard").status_code == 302
    login(robert, "robertjones")
    office.post_form(f"{url}/active", {"active": "0"}, token_from=url)
    assert robert.get("/dashboard").status_code == 302
    login(robert, "robertjones")  # a deactivated account cannot sign in again
    assert robert.get("/dashboard").status_code == 302
    page = office.get(url).get_data(as_text=True)
    assert "Account deactivated" in page and "Every session ended by the office" in page
    assert "organisation" in page  # the history names the field


def test_people_list_searches_and_pages(app, client, world):
    login(client, "admin")
    with recorded_sql(app) as few:
        assert client.get("/admin/people").status_code == 200
    with in_app(app) as session:
        session.execute(
            insert(User),
            [
                {
                    "agency_id": world.a.id,
                    "username": f"bulk{n}",
                    "first_name": "Bulk",
                    "last_name": f"P{n:03d}",
                }
                for n in range(120)
            ],
        )
        session.commit()
    with recorded_sql(app) as many:
        answer = client.get("/admin/people?q=bulk&kind=portal&page=3")
    assert answer.status_code == 200 and len(few) <= 10 and len(many) <= 10, many
    assert "120 people" in answer.get_data(as_text=True)
    assert "Alice" not in client.get("/admin/people?q=alice").get_data(as_text=True)


def test_every_change_is_audited(app, client, world):
    login(client, "admin")
    client.post_form("/admin/clients/new", {**_client_data(), "send_credentials": "y"})
    rosa = get_one(app, Client, last_name="Delgado")
    url = f"/admin/clients/{rosa.id}"
    client.post_form(url, _client_data(phone="555-0199"))
    client.post_form(f"{url}/active", {"active": "0"}, token_from=url)
    with in_app(app) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.agency_id == world.a.id).order_by(AuditEvent.id)
        ).all()
    for action in ("client.created", "account.created", "link.created", "credentials.sent"):
        assert action in actions
    assert actions[-2:] == ["client.updated", "client.deactivated"]


def test_staff_of_another_agency_cannot_add_clients_here(app, world):
    other = app.test_client()
    login(other, "admin", host=HOST_B)
    answer = other.post_form("/admin/clients/new", _client_data(), host=HOST_B)
    assert answer.status_code in (302, 303, 200)
    assert get_one(app, Client, last_name="Delgado").agency_id == world.b.id


def test_nobody_becomes_the_client_through_the_grid_and_the_client_stays_the_client(app, client, world):
    login(client, "admin")
    roberts = f"/admin/links/{_link_id(app, world.robert, world.client_a)}"
    answer = client.post_form(roberts, {"relationship": "self", "sections": ["care_plan"]})
    assert answer.status_code == 422
    assert get_one(app, ClientLink, id=int(roberts.rsplit("/", 1)[1])).relationship_kind == "payer"
    margarets = f"/admin/links/{_link_id(app, world.margaret, world.client_a)}"
    answer = client.post_form(margarets, {"relationship": "payer", "sections": ["invoices"]})
    assert answer.status_code == 422
    assert get_one(app, ClientLink, id=int(margarets.rsplit("/", 1)[1])).relationship_kind == "self"
    # The client's own grid still narrows what she sees.
    client.post_form(margarets, {"relationship": "self", "sections": ["schedule", "messages"]})
    link = get_one(app, ClientLink, id=int(margarets.rsplit("/", 1)[1]))
    assert (link.relationship_kind, link.show_invoices, link.show_schedule) == ("self", False, True)


def test_a_shared_e_mail_address_links_nobody_until_the_login_name_is_given(app, client, world):
    set_columns(app, User, world.susan.id, email="family@example.com")
    set_columns(app, User, world.paul.id, email="family@example.com")
    login(client, "admin")
    url = f"/admin/clients/{world.client_a2.id}/links"
    answer = client.post_form(url, {"person": "family@example.com", "relationship": "emergency_contact"})
    assert answer.status_code == 422 and "enter the login name instead" in answer.get_data(as_text=True)
    assert _link_id(app, world.susan, world.client_a2) is None
    assert (
        client.post_form(url, {"person": "susanjones", "relationship": "emergency_contact"}).status_code
        == 303
    )
    assert _link_id(app, world.susan, world.client_a2) is not None


def test_a_new_e_mail_address_ends_the_links_mailed_to_the_old_one(app, client, world):
    from app.auth.tokens import make_token

    with in_app(app) as session:
        token = make_token(session.get(User, world.susan.id), "welcome")
    login(client, "admin")
    url = f"/admin/people/{world.susan.id}"
    details = {"first_name": "Susan", "last_name": "Jones", "organisation_name": "", "phone": ""}
    client.post_form(f"{url}/details", {**details, "email": "susan.right@example.com"}, token_from=url)
    assert app.test_client().get(f"/welcome/{token}").status_code == 404


def test_the_last_owner_cannot_be_deactivated_or_locked_from_the_people_page(app, client, world, make):
    olga = make.user(world.a, "owner2", role="staff", is_owner=True, name="Olga Owner")
    login(client, "owner2")
    sams = f"/admin/people/{world.staff_a.id}"
    assert client.post_form(f"{sams}/active", {"active": "0"}, token_from=sams).status_code == 303
    assert get_one(app, User, id=world.staff_a.id).is_active is False
    # Olga is the only active owner now: neither deactivating nor locking her may pass.
    with in_app(app) as session:
        agency, owner = session.get(Agency, world.a.id), session.get(User, olga.id)
        with pytest.raises(accounts.LastOwner):
            accounts.set_active(agency, None, owner, False)
        with pytest.raises(accounts.LastOwner):
            accounts.set_locked(agency, None, owner, True)
    set_columns(app, User, world.staff_a.id, is_active=True)
    sam_browser = app.test_client()
    login(sam_browser, "admin")
    olgas = f"/admin/people/{olga.id}"
    assert sam_browser.post_form(f"{olgas}/lock", {"locked": "1"}, token_from=olgas).status_code == 303
    # Sam may not now lock himself out through Olga's absence: he is the last unlocked owner.
    with in_app(app) as session:
        agency, sam = session.get(Agency, world.a.id), session.get(User, world.staff_a.id)
        with pytest.raises(accounts.LastOwner):
            accounts.set_active(agency, None, sam, False)


@pytest.mark.parametrize("value", ["", "yes", "2"])
def test_an_unclear_active_or_lock_value_changes_nothing(app, client, world, value):
    login(client, "admin")
    url = f"/admin/people/{world.robert.id}"
    assert client.post_form(f"{url}/active", {"active": value}, token_from=url).status_code == 422
    assert client.post_form(f"{url}/lock", {"locked": value}, token_from=url).status_code == 422
    robert = get_one(app, User, id=world.robert.id)
    assert (robert.is_active, robert.is_locked) == (True, False)


def test_the_clients_history_says_who_was_given_or_lost_access(app, client, world):
    login(client, "admin")
    url = f"/admin/clients/{world.client_a2.id}/links"
    client.post_form(url, {"person": "susanjones", "relationship": "emergency_contact"})
    link_id = _link_id(app, world.susan, world.client_a2)
    client.post_form(
        f"/admin/links/{link_id}", {"relationship": "emergency_contact", "sections": ["schedule"]}
    )
    client.post_form(f"/admin/links/{link_id}/remove", {}, token_from=f"/admin/links/{link_id}")
    page = (
        client.get(f"/admin/clients/{world.client_a2.id}")
        .get_data(as_text=True)
        .split("History of changes")[1]
    )
    for words in ("Portal access given", "What a person sees changed", "Portal access ended"):
        assert words in page
    assert "Portal access given" not in client.get(f"/admin/clients/{world.client_a.id}").get_data(
        as_text=True
    )
