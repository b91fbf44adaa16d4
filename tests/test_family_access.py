"""Access the family controls (/profile/access, /invitation/<token>, /admin/invitations): who has
access and what each may see, invitations within the relationship's ceiling, the office's approval,
the invitee's own login name and password, revoking at once, and the consent records."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from app.auth import policies
from app.auth.policies import SECTIONS, link_allows
from app.auth.tokens import invitation_for_token, make_invitation_token
from app.models import Agency, AuditEvent, ClientLink, ConsentRecord, Invitation, OutboxMail, User, utcnow
from app.services.record_views import INVOICE, record_view
from tests.conftest import HOST_B, get_one, in_app, login, recorded_sql

NEW_PASSWORD = "kettle orchard velvet lantern"
LINK_RE = re.compile(r"http://alpha\.localhost(?::\d+)?(/invitation/[^\s]+)")


# --- helpers -------------------------------------------------------------------------------------


def page(response) -> str:
    return response.get_data(as_text=True)


def invite(client, client_id=None, **fields):
    data = {
        "first_name": "Lucy",
        "last_name": "Jones",
        "email": "lucy@example.com",
        "relationship": "emergency_contact",
        "sections": ["schedule", "messages"],
    } | fields
    path = "/profile/access/invite" + (f"?client={client_id}" if client_id else "")
    return client.post_form(path, data, token_from="/profile/access")


def invitation_of(app, email="lucy@example.com") -> Invitation | None:
    return get_one(app, Invitation, email=email)


def mails_to(app, address) -> list[OutboxMail]:
    with in_app(app) as session:
        rows = session.scalars(
            select(OutboxMail).where(OutboxMail.to_address == address).order_by(OutboxMail.id)
        ).all()
        session.expunge_all()
        return rows


def link_in(mail: OutboxMail) -> str:
    match = LINK_RE.search(mail.body_text)
    assert match, mail.body_text
    return match.group(1)


def consents(app, client_id) -> list[str]:
    with in_app(app) as session:
        return list(
            session.scalars(
                select(ConsentRecord.action)
                .where(ConsentRecord.client_id == client_id)
                .order_by(ConsentRecord.id)
            )
        )


def set_agency(app, make, agency, **values):
    row = get_one(app, Agency, id=agency.id)
    for name, value in values.items():
        setattr(row, name, value)
    make.save(row)


def sign_out(client):
    client.post_form("/logout", token_from="/password/change")


def is_sign_in(response) -> bool:
    return response.status_code in (302, 303) and urlsplit(response.headers["Location"]).path == "/login"


# --- who has access ------------------------------------------------------------------------------


def test_the_client_sees_who_has_access_and_who_viewed_an_invoice(app, client, make, world):
    invoice = make.invoice(world.client_a, "SUN-1005")
    with in_app(app) as session:
        # What the invoice page will do when Susan opens it (issue 9).
        record_view(INVOICE, world.susan, world.client_a.id, invoice, label=invoice.number)
        session.commit()
    login(client, "margaretjones")
    response = client.get("/profile/access")
    assert response.status_code == 200
    html = page(response)
    assert "Who can see your record" in html
    assert "Susan Jones</strong> · emergency contact / family" in html
    assert "May see: Schedule, Schedule requests, Invoices, Visit signatures, Messages, Documents" in html
    assert "Robert Jones</strong> · payer" in html
    assert "May see: Schedule, Invoices, Paying invoices, Messages" in html
    assert "Margaret Jones</strong> (you) · the client" in html
    assert "Susan Jones viewed invoice SUN-1005 on " in html
    # Susan's and Robert's access can be ended; Margaret's own cannot.
    assert html.count("End access") == 2


def test_a_legal_representative_manages_the_client_they_represent(client, world):
    login(client, "paulsmith")
    response = client.get("/profile/access")
    assert response.status_code == 200
    html = page(response)
    assert "Who can see the record of Harold Smith" in html
    assert "Harold Smith</strong> · the client" in html
    assert "Paul Smith</strong> (you) · legal representative" in html
    assert "End Harold Smith" not in html and "End Paul Smith" not in html
    assert "End Robert Jones's access" in html
    assert client.get(f"/profile/access?client={world.client_a.id}").status_code == 404


@pytest.mark.parametrize("username", ["susanjones", "robertjones"])
def test_emergency_contact_or_payer_get_404(client, world, username):
    login(client, username)
    assert client.get("/profile/access").status_code == 404
    assert invite(client).status_code == 404
    assert client.get(f"/profile/access?client={world.client_a.id}").status_code == 404


def test_another_clients_or_agencys_page_is_404(client, world):
    login(client, "margaretjones")
    assert client.get(f"/profile/access?client={world.client_a2.id}").status_code == 404
    assert client.get(f"/profile/access?client={world.client_b.id}").status_code == 404
    assert client.get("/profile/access?client=99999999999").status_code == 404


def test_staff_get_404(client, world):
    login(client, "admin")
    assert client.get("/profile/access").status_code == 404


# --- invite, approve, accept ---------------------------------------------------------------------


def test_invite_approve_accept_then_sign_in_and_see_only_the_granted_sections(app, client, world):
    login(client, "margaretjones")
    response = invite(client)
    assert response.status_code == 303
    followed = client.get(response.headers["Location"])
    html = page(followed)
    assert "The office will read your invitation of Lucy Jones and send it." in html
    assert "Waiting for the office to approve it." in html
    invitation = invitation_of(app)
    assert invitation.status == "awaiting_approval"
    assert invitation.sections == ["schedule", "messages"]
    assert invitation.invited_by_id == world.margaret.id
    assert mails_to(app, "lucy@example.com") == []  # not before the office says yes
    assert consents(app, world.client_a.id) == ["invited"]

    office = app.test_client()
    login(office, "admin")
    queue = office.get("/admin/invitations")
    assert queue.status_code == 200
    assert "Lucy Jones" in page(queue) and "For Margaret Jones, invited by Margaret Jones" in page(queue)
    assert "Invitations waiting for approval" in page(office.get("/admin/"))
    decided = office.post_form(
        f"/admin/invitations/{invitation.id}", {"decision": "approve"}, token_from="/admin/invitations"
    )
    assert decided.status_code == 303
    assert get_one(app, Invitation, id=invitation.id).status == "sent"
    assert consents(app, world.client_a.id) == ["invited", "approved"]

    [mail] = mails_to(app, "lucy@example.com")
    assert mail.subject == "Margaret Jones invited you to the Alpha Home Care portal"
    assert "within 7 days" in mail.body_text
    for health in ("care plan", "Care plan", "schedule", "visit note", "diagnos", "medic"):
        assert health not in mail.body_text
    path = link_in(mail)

    invitee = app.test_client()
    form = invitee.get(path)
    assert form.status_code == 200
    assert 'value="lucyjones"' in page(form)  # the login name is suggested
    assert "Margaret Jones invited you to the Alpha Home Care portal for Margaret Jones" in page(form)
    done = invitee.post_form(
        path, {"username": "lucy.j", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    assert done.status_code == 303 and urlsplit(done.headers["Location"]).path == "/dashboard"
    assert invitee.get("/dashboard").status_code == 200  # signed in at once

    user = get_one(app, User, username="lucy.j")
    assert user.email == "lucy@example.com" and user.email_confirmed_at is not None
    assert not user.must_change_password
    link = get_one(app, ClientLink, user_id=user.id)
    assert link.client_id == world.client_a.id and link.relationship_kind == "emergency_contact"
    assert [s for s in SECTIONS if link_allows(link, s)] == ["schedule", "messages"]
    assert get_one(app, Invitation, id=invitation.id).status == "accepted"
    assert consents(app, world.client_a.id) == ["invited", "approved", "granted"]

    # The link works once.
    again = app.test_client().get(path)
    assert again.status_code == 404
    assert "This invitation link no longer works" in page(again)

    fresh = app.test_client()
    assert login(fresh, "lucy.j", NEW_PASSWORD).status_code == 303
    assert fresh.get("/schedule").status_code == 200
    assert fresh.get("/messages").status_code == 200
    for closed in (
        "/invoices",
        "/care-plan",
        "/signatures",
        "/documents",
        "/schedule/requests",
        "/profile/access",
    ):
        assert fresh.get(closed).status_code == 404, closed


def test_invitation_goes_straight_out_when_the_office_allows(app, client, make, world):
    set_agency(app, make, world.a, invitations_need_approval=False)
    login(client, "margaretjones")
    response = invite(client, sections=["schedule", "invoices"])
    assert response.status_code == 303
    assert "The invitation is on its way to Lucy Jones at lucy@example.com." in page(
        client.get(response.headers["Location"])
    )
    invitation = invitation_of(app)
    assert invitation.status == "sent"
    assert invitation.expires_at - invitation.sent_at == timedelta(days=7)
    [mail] = mails_to(app, "lucy@example.com")
    path = link_in(mail)
    assert app.test_client().get(path).status_code == 200
    assert consents(app, world.client_a.id) == ["invited"]


def test_a_legal_representative_invitation_always_waits_for_the_office(app, client, make, world):
    set_agency(app, make, world.a, invitations_need_approval=False)
    login(client, "margaretjones")
    response = invite(client, relationship="legal_representative", sections=["schedule", "care_plan"])
    assert response.status_code == 303
    assert invitation_of(app).status == "awaiting_approval"
    assert mails_to(app, "lucy@example.com") == []


def test_an_accepted_legal_representative_gets_the_care_plan_tick(app, client, world):
    login(client, "margaretjones")
    invite(
        client,
        relationship="legal_representative",
        sections=["schedule", "invoices", "payments", "care_plan"],
    )
    invitation = invitation_of(app)
    office = app.test_client()
    login(office, "admin")
    office.post_form(
        f"/admin/invitations/{invitation.id}", {"decision": "approve"}, token_from="/admin/invitations"
    )
    path = link_in(mails_to(app, "lucy@example.com")[0])
    invitee = app.test_client()
    invitee.post_form(
        path, {"username": "lucyj", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    link = get_one(app, ClientLink, user_id=get_one(app, User, username="lucyj").id)
    assert link.may_view_care_plan and link.relationship_kind == "legal_representative"
    assert [s for s in SECTIONS if link_allows(link, s)] == ["schedule", "invoices", "payments", "care_plan"]


def test_the_office_declines_and_the_inviter_sees_it(app, client, world):
    login(client, "margaretjones")
    invite(client)
    invitation = invitation_of(app)
    office = app.test_client()
    login(office, "admin")
    response = office.post_form(
        f"/admin/invitations/{invitation.id}",
        {"decision": "decline"},
        token_from="/admin/invitations",
        htmx=True,
    )
    assert response.status_code == 200
    assert "<html" not in page(response) and "declined" in page(response)
    assert get_one(app, Invitation, id=invitation.id).status == "declined"
    html = page(client.get("/profile/access"))
    assert "The office declined it on " in html
    assert "Sam from the office declined the invitation of Lucy Jones on " in html
    assert mails_to(app, "lucy@example.com") == []
    # Deciding twice is a conflict, not a second decision.
    again = office.post_form(
        f"/admin/invitations/{invitation.id}", {"decision": "approve"}, token_from="/admin/invitations"
    )
    assert again.status_code == 409
    assert mails_to(app, "lucy@example.com") == []


def test_office_staff_who_are_not_owners_approve_too(app, client, make, world):
    make.user(world.a, "carolwhite", role="staff", name="Carol White")
    login(client, "margaretjones")
    invite(client)
    office = app.test_client()
    login(office, "carolwhite")
    invitation = invitation_of(app)
    response = office.post_form(
        f"/admin/invitations/{invitation.id}", {"decision": "approve"}, token_from="/admin/invitations"
    )
    assert response.status_code == 303


def test_another_agencys_invitation_is_404_for_the_office(app, client, make, world):
    with in_app(app) as session:
        other = Invitation(
            agency_id=world.b.id,
            client_id=world.client_b.id,
            invited_by_id=world.alice.id,
            first_name="Eve",
            last_name="Brown",
            email="eve@example.com",
            relationship_kind="emergency_contact",
            sections=["schedule"],
        )
        session.add(other)
        session.commit()
        other_id = other.id
    login(client, "admin")
    response = client.post_form(
        f"/admin/invitations/{other_id}", {"decision": "approve"}, token_from="/admin/invitations"
    )
    assert response.status_code == 404
    assert "Eve" not in page(client.get("/admin/invitations"))


def test_invitation_by_htmx_answers_the_panel(app, client, world):
    login(client, "margaretjones")
    bad = client.post_form(
        "/profile/access/invite", {"first_name": "Lucy"}, htmx=True, token_from="/profile/access"
    )
    assert bad.status_code == 422
    assert "<html" not in page(bad) and 'id="access"' in page(bad)
    assert "Enter their last name." in page(bad)
    good = client.post_form(
        "/profile/access/invite",
        {
            "first_name": "Lucy",
            "last_name": "Jones",
            "email": "lucy@example.com",
            "relationship": "emergency_contact",
            "sections": ["schedule"],
        },
        htmx=True,
        token_from="/profile/access",
    )
    assert good.status_code == 200
    html = page(good)
    assert "<html" not in html and "The office will read your invitation of Lucy Jones" in html
    assert "Waiting for the office to approve it." in html


# --- what may be granted -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relationship", "sections", "message"),
    [
        (
            "emergency_contact",
            ["schedule", "care_plan"],
            "An emergency contact or family member may never see: Care plan.",
        ),
        (
            "emergency_contact",
            ["invoices", "payments"],
            "An emergency contact or family member may never see: Paying invoices.",
        ),
        ("payer", ["schedule"], "A payer is set up by the office, because invoices are billed to them."),
        ("self", ["schedule"], "Choose emergency contact or family member, or legal representative."),
        ("", ["schedule"], "Choose emergency contact or family member, or legal representative."),
        ("legal_representative", ["payments"], "Paying invoices comes with Invoices: tick that too."),
        (
            "legal_representative",
            ["schedule_requests"],
            "Schedule requests comes with Schedule: tick that too.",
        ),
        ("emergency_contact", [], "Tick at least one thing they may see."),
        ("emergency_contact", ["everything"], "Choose from the list."),
    ],
)
def test_what_may_not_be_granted_is_refused_beside_the_field(
    app, client, world, relationship, sections, message
):
    login(client, "margaretjones")
    response = invite(client, relationship=relationship, sections=sections)
    assert response.status_code == 422
    assert message in page(response)
    assert 'class="error"' in page(response)
    assert invitation_of(app) is None


def test_nobody_shares_more_than_they_see(app, client, make, world):
    # Paul sees Harold's care plan (ticked); untick it and he cannot give it away either.
    link = get_one(app, ClientLink, user_id=world.paul.id, client_id=world.client_a2.id)
    link.may_view_care_plan = False
    make.save(link)
    login(client, "paulsmith")
    assert 'value="care_plan"' not in page(client.get("/profile/access"))
    response = invite(client, relationship="legal_representative", sections=["schedule", "care_plan"])
    assert response.status_code == 422
    assert "You can only share what you can see yourself: Care plan." in page(response)


def test_the_same_address_twice_is_refused(app, client, world):
    login(client, "margaretjones")
    assert invite(client).status_code == 303
    again = invite(client, email="LUCY@example.com ")
    assert again.status_code == 422
    assert "already has access to Margaret or an invitation waiting" in page(again)
    already = invite(client, email="susanjones@example.com")
    assert already.status_code == 422


@pytest.mark.parametrize("email", ["not an address", "a@b", "x" * 300 + "@example.com", "lucy@exa mple.com"])
def test_a_bad_address_is_refused_beside_the_field(app, client, world, email):
    login(client, "margaretjones")
    response = invite(client, email=email)
    assert response.status_code == 422
    assert invitation_of(app, email) is None


# --- withdraw and revoke -------------------------------------------------------------------------


def test_withdrawing_an_invitation_kills_its_link(app, client, make, world):
    set_agency(app, make, world.a, invitations_need_approval=False)
    login(client, "margaretjones")
    invite(client)
    invitation = invitation_of(app)
    path = link_in(mails_to(app, "lucy@example.com")[0])
    response = client.post_form(
        f"/profile/access/invitations/{invitation.id}/withdraw", token_from="/profile/access", follow=True
    )
    assert response.status_code == 200
    assert "The invitation of Lucy Jones is withdrawn; its link no longer works." in page(response)
    assert "You withdrew the invitation of Lucy Jones on " in page(response)
    assert get_one(app, Invitation, id=invitation.id).status == "withdrawn"
    assert consents(app, world.client_a.id) == ["invited", "withdrawn"]
    assert app.test_client().get(path).status_code == 404
    # Twice: nothing left to withdraw.
    again = client.post_form(
        f"/profile/access/invitations/{invitation.id}/withdraw", token_from="/profile/access"
    )
    assert again.status_code == 409


def test_another_clients_invitation_cannot_be_withdrawn(app, client, world):
    login(client, "paulsmith")
    invite(client, relationship="emergency_contact", email="nora@example.com")
    invitation = invitation_of(app, "nora@example.com")
    margaret = app.test_client()
    login(margaret, "margaretjones")
    response = margaret.post_form(
        f"/profile/access/invitations/{invitation.id}/withdraw", token_from="/profile/access"
    )
    assert response.status_code == 404
    assert get_one(app, Invitation, id=invitation.id).status == "awaiting_approval"


def test_revoke_ends_the_revoked_users_session_at_once(app, client, world):
    susan = app.test_client()
    login(susan, "susanjones")
    assert susan.get("/dashboard").status_code == 200
    login(client, "margaretjones")
    link = get_one(app, ClientLink, user_id=world.susan.id, client_id=world.client_a.id)
    response = client.post_form(
        f"/profile/access/links/{link.id}/revoke", token_from="/profile/access", follow=True
    )
    assert response.status_code == 200
    html = page(response)
    assert "Susan Jones no longer has access. Their sessions have ended." in html
    assert "You ended the access of Susan Jones (emergency contact / family) on " in html
    assert "Invoices, Visit signatures" in html  # what she had
    assert get_one(app, ClientLink, id=link.id) is None
    assert is_sign_in(susan.get("/dashboard"))  # her very next request
    assert consents(app, world.client_a.id) == ["revoked"]
    with in_app(app) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "link.revoked"))
        assert event.actor_id == world.margaret.id and event.target_id == world.susan.id


def test_revoking_by_htmx_answers_the_panel(app, client, world):
    login(client, "margaretjones")
    link = get_one(app, ClientLink, user_id=world.robert.id, client_id=world.client_a.id)
    response = client.post_form(
        f"/profile/access/links/{link.id}/revoke", token_from="/profile/access", htmx=True
    )
    assert response.status_code == 200
    html = page(response)
    assert "<html" not in html and "Robert Jones no longer has access." in html
    # Robert keeps Harold: only this client's link went.
    assert get_one(app, ClientLink, user_id=world.robert.id, client_id=world.client_a2.id) is not None


def test_revoking_withdraws_the_revoked_persons_invitations(app, client, world):
    login(client, "paulsmith")
    invite(client, email="nora@example.com")
    harold = app.test_client()
    login(harold, "haroldsmith")
    link = get_one(app, ClientLink, user_id=world.paul.id, client_id=world.client_a2.id)
    assert (
        harold.post_form(f"/profile/access/links/{link.id}/revoke", token_from="/profile/access").status_code
        == 303
    )
    assert invitation_of(app, "nora@example.com").status == "withdrawn"
    assert consents(app, world.client_a2.id) == ["invited", "revoked", "withdrawn"] or consents(
        app, world.client_a2.id
    ) == ["invited", "withdrawn", "revoked"]


@pytest.mark.parametrize("whose", ["own", "self", "other_client", "other_agency"])
def test_what_may_not_be_revoked_is_404(app, client, world, whose):
    target = {
        "own": (world.paul, world.client_a2),
        "self": (world.harold, world.client_a2),
        "other_client": (world.margaret, world.client_a),
        "other_agency": (world.alice, world.client_b),
    }[whose]
    link = get_one(app, ClientLink, user_id=target[0].id, client_id=target[1].id)
    login(client, "paulsmith")
    response = client.post_form(f"/profile/access/links/{link.id}/revoke", token_from="/profile/access")
    assert response.status_code == 404
    assert get_one(app, ClientLink, id=link.id) is not None


# --- the invitee's link --------------------------------------------------------------------------


def _sent_invitation(
    app, make, world, agency=None, client=None, inviter=None, **kw
) -> tuple[Invitation, str]:
    agency, client, inviter = agency or world.a, client or world.client_a, inviter or world.margaret
    with in_app(app) as session:
        invitation = Invitation(
            agency_id=agency.id,
            client_id=client.id,
            invited_by_id=inviter.id,
            **{
                "first_name": "Lucy",
                "last_name": "Jones",
                "email": "lucy@example.com",
                "relationship_kind": "emergency_contact",
                "sections": ["schedule"],
                "status": "sent",
                "sent_at": utcnow(),
                "expires_at": utcnow() + timedelta(days=7),
            }
            | kw,
        )
        session.add(invitation)
        session.commit()
        token = make_invitation_token(invitation)
        session.expunge(invitation)
    return invitation, token


@pytest.mark.parametrize(
    "token", ["garbage", "a" * 5000, "eyJpIjoxfQ.ZZZ.ZZZ", "%ff%fe", "..", "<b>alert(1)<b>"]
)
def test_a_garbage_link_is_a_clear_404(client, world, token):
    response = client.get(f"/invitation/{token}")
    assert response.status_code == 404
    assert "This invitation link no longer works" in page(response)


def test_another_agencys_link_is_404(app, client, make, world):
    _invitation, token = _sent_invitation(
        app, make, world, agency=world.b, client=world.client_b, inviter=world.alice
    )
    assert client.get(f"/invitation/{token}").status_code == 404
    assert client.get(f"/invitation/{token}", host=HOST_B).status_code == 200


def test_an_expired_link_is_404(app, client, make, world, monkeypatch):
    invitation, _token = _sent_invitation(app, make, world)
    issued = int((utcnow() - timedelta(days=7, minutes=1)).timestamp())
    with in_app(app) as session:
        row = session.get(Invitation, invitation.id)
        with monkeypatch.context() as patch:
            patch.setattr(TimestampSigner, "get_timestamp", lambda self: issued)
            old = make_invitation_token(row)
    assert client.get(f"/invitation/{old}").status_code == 404
    # And the stored expiry is honoured on its own.
    row = get_one(app, Invitation, id=invitation.id)
    row.expires_at = utcnow() - timedelta(minutes=1)
    make.save(row)
    with in_app(app) as session:
        assert (
            invitation_for_token(make_invitation_token(session.get(Invitation, invitation.id)), world.a.id)
            is None
        )


def test_the_invitee_sees_their_mistakes_beside_the_fields(app, client, make, world):
    _invitation, token = _sent_invitation(app, make, world)
    path = f"/invitation/{token}"
    cases = [
        ({"username": "susanjones"}, "That login name is taken."),
        ({"username": "SusanJones"}, "That login name is taken."),
        ({"username": "a"}, "Use 3 to 40 characters."),
        ({"username": "lucy jones"}, "Use lower-case letters and digits"),
        ({"username": "<b>lucy</b>"}, "Use lower-case letters and digits"),
        ({"new_password": "short", "confirm_password": "short"}, "Use at least 15 characters."),
        ({"confirm_password": "something else entirely"}, "The two passwords differ."),
        (
            {"new_password": "lucyjones lucyjones", "confirm_password": "lucyjones lucyjones"},
            "Do not use your login name",
        ),
    ]
    for changes, message in cases:
        data = {
            "username": "lucyjones",
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        } | changes
        response = client.post_form(path, data)
        assert response.status_code == 422, changes
        assert message in page(response), (changes, message)
        assert "<b>lucy</b>" not in page(response)
    assert get_one(app, User, username="lucyjones") is None
    assert client.get(path).status_code == 200  # still usable


def test_a_signed_in_visitor_is_told_and_then_signed_in_as_the_new_account(app, client, make, world):
    _invitation, token = _sent_invitation(app, make, world)
    login(client, "susanjones")
    html = page(client.get(f"/invitation/{token}"))
    assert "You are signed in as susanjones." in html
    response = client.post_form(
        f"/invitation/{token}",
        {"username": "lucyj", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert response.status_code == 303
    with client.session_transaction(base_url="http://alpha.localhost") as session:
        assert session["_user_id"].startswith(f"{get_one(app, User, username='lucyj').id}:")


def test_the_invitee_page_by_htmx_is_a_fragment(app, client, make, world):
    _invitation, token = _sent_invitation(app, make, world)
    weak = client.post_form(
        f"/invitation/{token}",
        {"username": "lucyjones", "new_password": "x", "confirm_password": "x"},
        htmx=True,
        token_from=f"/invitation/{token}",
    )
    assert weak.status_code == 422
    assert "<html" not in page(weak) and 'id="invitation-form"' in page(weak)
    done = client.post_form(
        f"/invitation/{token}",
        {"username": "lucyjones", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        htmx=True,
        token_from=f"/invitation/{token}",
    )
    assert done.status_code == 200 and done.headers["HX-Redirect"] == "/dashboard"


def test_an_invitation_for_a_client_who_left_is_404(app, client, make, world):
    _invitation, token = _sent_invitation(app, make, world)
    row = get_one(app, type(world.client_a), id=world.client_a.id)
    row.is_active = False
    make.save(row)
    assert client.get(f"/invitation/{token}").status_code == 404


def test_approving_after_the_inviter_lost_access_is_refused(app, client, make, world):
    login(client, "paulsmith")
    invite(client, email="nora@example.com")
    invitation = invitation_of(app, "nora@example.com")
    with in_app(app) as session:
        session.delete(session.get(ClientLink, get_one(app, ClientLink, user_id=world.paul.id).id))
        session.commit()
    office = app.test_client()
    login(office, "admin")
    response = office.post_form(
        f"/admin/invitations/{invitation.id}", {"decision": "approve"}, token_from="/admin/invitations"
    )
    assert response.status_code == 409
    assert "Paul Smith no longer manages access for Harold Smith" in page(response)
    assert mails_to(app, "nora@example.com") == []


# --- consent records -----------------------------------------------------------------------------


def test_consent_records_are_listed_newest_first_in_pages(app, client, world):
    with in_app(app) as session:
        start = utcnow() - timedelta(days=3)
        for n in range(23):
            session.add(
                ConsentRecord(
                    agency_id=world.a.id,
                    client_id=world.client_a.id,
                    action="granted",
                    actor_id=world.susan.id,
                    subject_user_id=world.susan.id,
                    subject_name=f"Person {n:02d}",
                    relationship_kind="emergency_contact",
                    sections=["schedule", "messages"],
                    created_at=start + timedelta(minutes=n),
                )
            )
        session.commit()
    login(client, "margaretjones")
    html = page(client.get("/profile/access"))
    assert "Person 22 accepted the invitation on " in html
    assert "and has access as emergency contact / family: Schedule, Messages." in html
    assert html.index("Person 22") < html.index("Person 21")
    assert "Person 12" not in html and "Page 1 of 3" in html
    older = client.get("/profile/access?consents=3", htmx=True, headers={"HX-Target": "consent-log"})
    assert older.status_code == 200
    body = page(older)
    assert body.lstrip().startswith('<section class="card" id="consent-log">')
    assert "Person 02" in body and "Person 00" in body and "Person 03" not in body
    assert client.get("/profile/access?consents=4").status_code == 404


# --- hostile input -------------------------------------------------------------------------------

HOSTILE = [
    '<script>alert("x")</script>',
    '"><img src=x onerror=alert(1)>',
    "Robert'); DROP TABLE users;--",
    "Ｌｕｃｙ",
    "\u202egnp.exe",
    "x" * 5000,
    "9" * 400,
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_strings_never_5xx_nor_live_html(app, client, world, value):
    login(client, "margaretjones")
    for name in ("first_name", "last_name", "email", "relationship"):
        response = invite(client, **{name: value})
        assert response.status_code in (303, 422), (name, response.status)
        assert "<script>alert" not in page(response) and "<img src=x" not in page(response)
    response = invite(client, sections=[value, value])
    assert response.status_code == 422
    for query in (f"consents={value}", f"views={value}", f"client={value}"):
        assert client.get(f"/profile/access?{query}").status_code in (200, 404)
    html = page(client.get("/profile/access"))
    assert "<script>alert" not in html and "<img src=x" not in html
    office = app.test_client()
    login(office, "admin")
    assert "<script>alert" not in page(office.get("/admin/invitations"))
    bad = office.post_form(
        f"/admin/invitations/{2**31 - 1}", {"decision": value}, token_from="/admin/invitations"
    )
    assert bad.status_code == 404


def test_a_hostile_name_is_kept_as_text(app, client, world):
    login(client, "margaretjones")
    name = '<script>alert("x")</script>'
    assert invite(client, first_name=name).status_code == 303
    html = page(client.get("/profile/access"))
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    office = app.test_client()
    login(office, "admin")
    assert "&lt;script&gt;" in page(office.get("/admin/invitations"))


def test_a_huge_decision_value_or_missing_button_is_422(app, client, world):
    login(client, "margaretjones")
    invite(client)
    invitation = invitation_of(app)
    office = app.test_client()
    login(office, "admin")
    response = office.post_form(
        f"/admin/invitations/{invitation.id}", {"decision": "9" * 5000}, token_from="/admin/invitations"
    )
    assert response.status_code == 422
    assert "Choose Approve or Decline." in page(response)
    assert get_one(app, Invitation, id=invitation.id).status == "awaiting_approval"


# --- the page's cost -----------------------------------------------------------------------------


def _events(app, world, number):
    with in_app(app) as session:
        for n in range(number):
            record_view(INVOICE, world.susan if n % 2 else world.staff_a, world.client_a.id, label=f"SUN-{n}")
        session.commit()


def test_the_access_page_costs_at_most_ten_statements_whatever_the_data(app, client, world):
    login(client, "margaretjones")
    invite(client)
    counts = []
    for number in (3, 297):
        _events(app, world, number)
        with recorded_sql(app) as statements:
            response = client.get("/profile/access")
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 10, counts
    assert "Page 1 of 15" in page(response)


# --- the rules (app/auth/policies.py) ------------------------------------------------------------


def _link(kind, **flags):
    return ClientLink(id=1, user_id=1, client_id=1, relationship_kind=kind, **flags)


@pytest.mark.parametrize("kind", ["self", "legal_representative", "emergency_contact", "payer"])
def test_manages_access(kind):
    assert policies.manages_access(_link(kind)) == (kind in ("self", "legal_representative"))
    assert policies.manages_access(None) is False


def _section_sets():
    import itertools

    for relationship in policies.INVITABLE_RELATIONSHIPS:
        ceiling = [s for s in SECTIONS if s in policies.CEILINGS[relationship]]
        for size in range(len(ceiling) + 1):
            for chosen in itertools.combinations(ceiling, size):
                if not policies.needs_other_section(chosen):
                    yield relationship, chosen


@pytest.mark.parametrize(("relationship", "chosen"), list(_section_sets()))
def test_link_flags_open_exactly_the_chosen_sections(relationship, chosen):
    link = _link(relationship, **policies.link_flags(relationship, chosen))
    assert policies.allowed_sections(link) == list(chosen)


def test_above_ceiling():
    assert policies.above_ceiling("emergency_contact", ["care_plan", "schedule", "payments"]) == [
        "payments",
        "care_plan",
    ]
    assert policies.above_ceiling("legal_representative", SECTIONS) == []
    assert policies.above_ceiling("nobody", ["schedule"]) == ["schedule"]


def test_may_revoke():
    manager = ClientLink(id=1, user_id=1, client_id=1, relationship_kind="self")
    family = ClientLink(id=2, user_id=2, client_id=1, relationship_kind="emergency_contact")
    other_client = ClientLink(id=3, user_id=2, client_id=2, relationship_kind="emergency_contact")
    client_self = ClientLink(id=4, user_id=3, client_id=1, relationship_kind="self")
    rep = ClientLink(id=5, user_id=4, client_id=1, relationship_kind="legal_representative")
    assert policies.may_revoke(manager, family)
    assert policies.may_revoke(rep, family)
    assert not policies.may_revoke(manager, manager)  # never one's own
    assert not policies.may_revoke(rep, client_self)  # never the client's own
    assert not policies.may_revoke(manager, other_client)
    assert not policies.may_revoke(family, manager)  # family manage nothing
    assert not policies.may_revoke(None, family)


def test_invitation_needs_approval():
    class Office:
        invitations_need_approval = False

    assert not policies.invitation_needs_approval(Office, "emergency_contact")
    assert policies.invitation_needs_approval(Office, "legal_representative")
    Office.invitations_need_approval = True
    assert policies.invitation_needs_approval(Office, "emergency_contact")


def test_the_office_queue_costs_the_same_statements_for_few_or_many(app, client, world):
    def add(number, status):
        with in_app(app) as session:
            for n in range(number):
                session.add(
                    Invitation(
                        agency_id=world.a.id,
                        client_id=world.client_a.id,
                        invited_by_id=world.margaret.id,
                        first_name="Ivy",
                        last_name=f"Number{n}",
                        email=f"ivy{n}@example.com",
                        relationship_kind="emergency_contact",
                        sections=["schedule"],
                        status=status,
                        decided_by_id=world.staff_a.id if status != "awaiting_approval" else None,
                        decided_at=utcnow() if status != "awaiting_approval" else None,
                    )
                )
            session.commit()

    login(client, "admin")
    counts = []
    for number in (2, 40):
        add(number, "awaiting_approval")
        add(number, "declined")
        with recorded_sql(app) as statements:
            response = client.get("/admin/invitations")
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1] and counts[0] <= 10, counts
    assert "Decided by Sam Rivera on " in page(response)


def test_the_office_hears_that_an_invitation_waits(app, client, world):
    login(client, "margaretjones")
    assert invite(client).status_code == 303
    office = mails_to(app, "office@alpha.localhost")
    assert len(office) == 1 and office[0].subject == "An invitation to the portal waits for the office"
    assert "Margaret Jones asked to give someone access" in office[0].body_text
    assert "http://alpha.localhost/admin/invitations" in office[0].body_text
    assert "lucy" not in office[0].body_text.lower()  # the invitee's name and address stay in the portal


def test_an_invitee_with_an_account_adds_the_access_to_it(app, client, make, world):
    """Harold (own account, confirmed address haroldsmith@example.com) is invited for Margaret:
    signed in, he adds her to his account instead of making a second one."""
    invitation, token = _sent_invitation(app, make, world, email="haroldsmith@example.com")
    login(client, "haroldsmith")
    html = page(client.get(f"/invitation/{token}"))
    assert "Add Margaret Jones to my account (haroldsmith)" in html
    response = client.post_form(f"/invitation/{token}", {"join": "1"})
    assert response.status_code == 303
    with in_app(app) as session:
        link = session.scalar(
            select(ClientLink).where(
                ClientLink.user_id == world.harold.id, ClientLink.client_id == world.client_a.id
            )
        )
        assert link is not None and link.relationship_kind == "emergency_contact"
        assert session.get(Invitation, invitation.id).status == "accepted"
        assert session.scalar(select(func.count(User.id)).where(User.email == "haroldsmith@example.com")) == 1
    assert "Margaret Jones" in page(client.get(f"/dashboard?client={world.client_a.id}"))
    assert client.get(f"/invitation/{token}").status_code == 404  # spent


def test_only_the_address_the_invitation_went_to_may_join_an_account(app, client, make, world):
    invitation, token = _sent_invitation(app, make, world)  # to lucy@example.com
    login(client, "haroldsmith")
    assert "to my account" not in page(client.get(f"/invitation/{token}"))
    forged = client.post_form(f"/invitation/{token}", {"join": "1"})
    assert forged.status_code == 422  # the new-account form, with its fields missing
    assert get_one(app, Invitation, id=invitation.id).status == "sent"
