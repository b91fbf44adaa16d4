"""The portal's messages: threads shared by the family (or kept between one person and the office),
the compose page behind the header's envelope, replies, notifications by mail without the text, and
the polled unread badge with its ETag."""

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, insert, select, update

from app.extensions import db
from app.models import Agency, Conversation, ConversationRead, Message, OutboxMail, User, utcnow
from app.services import messages as service
from tests.conftest import HOST_B, in_app, login, recorded_sql, set_columns
from tests.test_outbox import body as mail_body
from tests.test_outbox import run_outbox
from tests.test_outbox import smtp as smtp  # noqa: PLC0414 (the SMTP server fixture)

SECRET_WORDS = "the insulin dose changed on Tuesday"


def thread(app, world, starter, subject="Next week", text="Hello office", private=False, client=None):
    """A thread started through the service, as the portal would; returns its id."""
    with in_app(app) as session:
        agency = session.get(Agency, world.a.id)
        user = session.get(User, starter.id)
        about = session.get(type(world.client_a), (client or world.client_a).id)
        conversation = service.start_conversation(
            agency, about, user, subject=subject, body=text, private=private
        )
        session.commit()
        return conversation.id


def reply(app, world, conversation_id, sender, text):
    with in_app(app) as session:
        service.post_message(
            session.get(Agency, world.a.id),
            session.get(Conversation, conversation_id),
            session.get(User, sender.id),
            text,
        )
        session.commit()


def private_box(html: str) -> str:
    return re.search(r'<input[^>]*name="private"[^>]*>', html).group(0)


def mails(app) -> list[OutboxMail]:
    with in_app(app) as session:
        rows = session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        session.expunge_all()
        return rows


@pytest.fixture
def family(app, world):
    """Margaret, her daughter Susan and the payer Robert read messages by mail; the office has an
    address."""
    for person, address in ((world.margaret, "margaret@example.test"), (world.susan, "susan@example.test")):
        set_columns(app, User, person.id, email=address)
    set_columns(app, User, world.robert.id, email="robert@example.test")
    set_columns(
        app, Agency, world.a.id, contact_email="office@alpha.test", message_template="Dear office,\n\n"
    )
    return world


# --- reading -------------------------------------------------------------------------------------


def test_the_family_shares_one_conversation_newest_first(app, client, family):
    older = thread(app, family, family.susan, subject="Older thread")
    newer = thread(app, family, family.margaret, subject="Newer thread")
    login(client, "susanjones")
    html = client.get("/messages").get_data(as_text=True)
    assert html.index("Newer thread") < html.index("Older thread")
    assert f"/messages/{older}" in html and f"/messages/{newer}" in html
    # Margaret wrote the newer one: one unread message for Susan, marked in the list and the header.
    assert 'class="thread unread"' in html
    assert 'aria-label="1 unread"' in html


def test_opening_a_thread_marks_it_read_and_the_badge_drops(app, client, family):
    conversation = thread(app, family, family.margaret, text="Can Ana come at ten?")
    login(client, "susanjones")
    assert "1 unread" in client.get("/messages/unread-count").get_data(as_text=True)
    page = client.get(f"/messages/{conversation}").get_data(as_text=True)
    assert "Can Ana come at ten?" in page
    assert "Who can read this conversation: Margaret Jones, Susan Jones" in page
    assert "1 unread" not in client.get("/messages/unread-count").get_data(as_text=True)


def test_a_private_thread_is_only_its_starters_and_the_office(app, client, family):
    private = thread(app, family, family.margaret, subject="Just between us", private=True)
    login(client, "susanjones")
    assert "Just between us" not in client.get("/messages").get_data(as_text=True)
    assert client.get(f"/messages/{private}").status_code == 404
    assert client.post_form(f"/messages/{private}", {"body": "hi"}, token_from="/messages").status_code == 404
    client.post_form("/logout", {}, token_from="/dashboard")
    login(client, "margaretjones")
    page = client.get(f"/messages/{private}").get_data(as_text=True)
    assert "Only Margaret Jones and the office can read this conversation." in page


def test_threads_out_of_reach_answer_404(app, client, family, make):
    harolds = thread(app, family, family.harold, client=family.client_a2)
    with in_app(app) as session:
        agency_b = session.get(Agency, family.b.id)
        alice = session.get(User, family.alice.id)
        theirs = service.start_conversation(
            agency_b,
            session.get(type(family.client_b), family.client_b.id),
            alice,
            subject="B",
            body="b",
            private=False,
        )
        session.commit()
        theirs_id = theirs.id
    login(client, "susanjones")
    assert client.get(f"/messages/{harolds}").status_code == 404  # another client of the agency
    assert client.get(f"/messages/{theirs_id}").status_code == 404  # another agency's thread
    assert client.get("/messages/99999999").status_code == 404
    login(client, "alicebrown", host=HOST_B)
    assert client.get(f"/messages/{harolds}", host=HOST_B).status_code == 404


def test_staff_have_the_office_inbox_not_the_portals(client, family):
    login(client, "admin")
    assert client.get("/messages").status_code == 404
    assert client.get("/messages/unread-count").status_code == 404


def test_a_switched_off_messages_section_hides_the_envelope(app, client, family, make):
    login(client, "susanjones")
    assert 'href="/messages/new"' in client.get("/dashboard").get_data(as_text=True)
    with in_app(app) as session:
        from app.models import ClientLink

        link = session.scalar(select(ClientLink).where(ClientLink.user_id == family.susan.id))
        link.show_messages = False
        session.commit()
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'href="/messages/new"' not in html and 'id="message-badge"' not in html
    assert client.get("/messages/unread-count").status_code == 404


# --- writing -------------------------------------------------------------------------------------


def test_the_envelope_opens_compose_prefilled_from_the_agency_template(client, family):
    login(client, "margaretjones")
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'href="/messages/new"' in html and "E-mail the agency" in html
    page = client.get("/messages/new").get_data(as_text=True)
    assert "Dear office," in page
    assert "checked" not in private_box(page)


def test_a_payers_thread_starts_private(client, family):
    login(client, "robertjones")
    page = client.get(f"/messages/new?client={family.client_a.id}").get_data(as_text=True)
    assert "checked" in private_box(page)


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_writing_to_the_office_starts_a_thread(app, client, family, htmx):
    login(client, "susanjones")
    response = client.post_form(
        "/messages/new",
        {"client": family.client_a.id, "subject": "Tuesday", "body": "Could the visit start later?"},
        htmx=htmx,
    )
    with in_app(app) as session:
        conversation = session.scalar(select(Conversation))
        assert conversation.subject == "Tuesday" and conversation.started_by_id == family.susan.id
        assert not conversation.is_private
        assert [m.body for m in conversation.messages] == ["Could the visit start later?"]
        location = f"/messages/{conversation.id}"
    if htmx:
        assert response.status_code == 200 and response.headers["HX-Redirect"] == location
    else:
        assert response.status_code == 303 and response.headers["Location"].endswith(location)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"subject": "", "body": "x"}, "subject", "Give your message a subject"),
        ({"subject": "Hi", "body": "   "}, "body", "Write your message."),
        ({"subject": "Hi", "body": "x" * 5001}, "body", "Please keep your message under 5000 characters."),
        ({"subject": "x" * 151, "body": "x"}, "subject", "Please keep the subject under 150 characters."),
        ({"subject": "Eve\r\nBcc: all", "body": "x"}, "subject", "Keep this on one line"),
        (
            {"subject": "Hi", "body": "x", "client": "99999999999999999999"},
            "client",
            "Choose who this message is about.",
        ),
        ({"subject": "Hi", "body": "x", "client": "abc"}, "client", ""),
    ],
)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_bad_message_is_refused_beside_the_field(app, client, family, data, field, message, htmx):
    login(client, "robertjones")  # two clients: the "About" choice is shown
    data = {"client": family.client_a.id, **data}
    response = client.post_form("/messages/new", data, htmx=htmx)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html and message in html
    with in_app(app) as session:
        assert session.scalar(select(Conversation)) is None


def test_a_client_out_of_reach_cannot_be_written_about(app, client, family):
    login(client, "susanjones")  # Susan is linked to Margaret only
    response = client.post_form("/messages/new", {"client": family.client_a2.id, "subject": "x", "body": "y"})
    assert response.status_code == 422
    with in_app(app) as session:
        assert session.scalar(select(Conversation)) is None


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_reply_lands_in_the_thread(app, client, family, htmx):
    conversation = thread(app, family, family.margaret)
    login(client, "susanjones")
    response = client.post_form(f"/messages/{conversation}", {"body": "I can call them too."}, htmx=htmx)
    if htmx:
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert html.strip().startswith('<div id="thread">') and "I can call them too." in html
        assert "Your reply was sent." in html
    else:
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/messages/{conversation}#latest")
    empty = client.post_form(f"/messages/{conversation}", {"body": ""}, htmx=htmx)
    assert empty.status_code == 422 and "Write your message." in empty.get_data(as_text=True)


def test_hostile_text_comes_back_as_text_and_only_web_links_are_live(app, client, family):
    text = (
        "<script>alert(1)</script> <img src=x onerror=alert(2)> javascript:alert(3) "
        'see https://example.org/a?b=1&c=2. and "><b>bold</b>'
    )
    conversation = thread(app, family, family.margaret, subject="<i>subject</i>", text=text)
    login(client, "margaretjones")
    html = client.get(f"/messages/{conversation}").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "<b>bold" not in html
    assert "<i>subject</i>" not in html and "&lt;i&gt;subject&lt;/i&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript' not in html
    assert '<a href="https://example.org/a?b=1&amp;c=2" rel="noopener nofollow noreferrer">' in html


# --- notifications -------------------------------------------------------------------------------


def test_a_family_message_tells_the_office_once_until_it_is_read(app, family):
    conversation = thread(app, family, family.susan, text=SECRET_WORDS)
    reply(app, family, conversation, family.susan, "And one more thing.")
    office = [m for m in mails(app) if m.to_address == "office@alpha.test"]
    assert len(office) == 1
    assert office[0].subject == "New portal message from Susan Jones"
    assert SECRET_WORDS not in office[0].body_text and "one more thing" not in office[0].body_text
    assert f"http://alpha.localhost/admin/messages/{conversation}" in office[0].body_text
    # Once someone in the office has read it, the next family message is told again.
    with in_app(app) as session:
        service.mark_office_read(session.get(Conversation, conversation))
        session.commit()
    reply(app, family, conversation, family.susan, "Thank you.")
    assert len([m for m in mails(app) if m.to_address == "office@alpha.test"]) == 2


def test_the_office_recipient_chosen_in_settings_hears_of_messages(app, family, make):
    carol = make.user(family.a, "carolwhite", role="staff", name="Carol White", email="carol@alpha.test")
    set_columns(app, Agency, family.a.id, message_recipient_id=carol.id)
    thread(app, family, family.margaret)
    office = [m.to_address for m in mails(app) if "portal message" in m.subject]
    assert office == ["carol@alpha.test"]


def test_each_reader_is_told_once_per_thread_until_they_read_it(app, family):
    set_columns(app, User, family.susan.id, language="es")
    conversation = thread(app, family, family.margaret, text=SECRET_WORDS)
    staff = family.staff_a
    reply(app, family, conversation, staff, SECRET_WORDS)
    reply(app, family, conversation, staff, "A second reply before anyone read the first.")
    told = [m for m in mails(app) if m.to_address != "office@alpha.test"]
    # Margaret's circle whose messages are on reads a shared thread (not Robert, who only pays for
    # her): Susan heard of her message, Margaret of the office's reply; once each.
    assert sorted(m.to_address for m in told) == ["margaret@example.test", "susan@example.test"]
    for mail in told:
        assert SECRET_WORDS not in mail.body_text and "second reply" not in mail.body_text
        assert f"http://alpha.localhost/messages/{conversation}" in mail.body_text
    subjects = {m.to_address: m.subject for m in told}
    assert subjects["margaret@example.test"] == "You have a new message from Alpha Home Care"
    assert subjects["susan@example.test"] == "Tiene un mensaje nuevo de Alpha Home Care"
    # Margaret reads the thread; the office's next reply tells her again, and not the others.
    with in_app(app) as session:
        service.mark_read(session.get(Conversation, conversation), session.get(User, family.margaret.id))
        session.commit()
    before = len(mails(app))
    reply(app, family, conversation, staff, "Third.")
    assert [m.to_address for m in mails(app)[before:]] == ["margaret@example.test"]


def test_mail_follows_each_users_setting_and_a_private_thread(app, family):
    set_columns(app, User, family.susan.id, notify_messages=False)
    shared = thread(app, family, family.margaret)
    private = thread(app, family, family.margaret, private=True)
    reply(app, family, shared, family.staff_a, "x")
    reply(app, family, private, family.staff_a, "y")
    told = [m.to_address for m in mails(app) if m.to_address != "office@alpha.test"]
    assert told == ["margaret@example.test", "margaret@example.test"]  # Robert only pays for her


def test_a_payers_thread_stays_between_the_payer_and_the_office(app, client, family):
    login(client, "robertjones")
    client.post_form(
        "/messages/new",
        {"client": family.client_a.id, "subject": "Invoice", "body": "A question", "private": "y"},
    )
    with in_app(app) as session:
        conversation = session.scalar(select(Conversation))
        assert conversation.is_private
        readers = [u.username for u, _ in service.readers(conversation)]
    assert readers == ["robertjones"]


def test_an_emergency_contacts_message_reaches_the_office_and_the_answer_reaches_her(
    app, client, family, smtp
):
    login(client, "susanjones")
    client.post_form(
        "/messages/new", {"client": family.client_a.id, "subject": "Tuesday", "body": SECRET_WORDS}
    )
    with in_app(app) as session:
        conversation = session.scalar(select(Conversation))
    reply(app, family, conversation.id, family.staff_a, "We will move the visit to eleven.")
    run_outbox(app)
    received = {tuple(to): message for to, message in smtp.messages}
    assert set(received) == {
        ("office@alpha.test",),
        ("susan@example.test",),
        ("margaret@example.test",),
    }
    for message in received.values():
        assert SECRET_WORDS not in mail_body(message) and "eleven" not in mail_body(message)
    page = client.get(f"/messages/{conversation.id}").get_data(as_text=True)
    assert "We will move the visit to eleven." in page and "the office" in page


# --- the badge -----------------------------------------------------------------------------------


def test_the_badge_answers_304_to_its_etag_until_something_changes(app, client, family):
    conversation = thread(app, family, family.margaret)
    login(client, "susanjones")
    first = client.get("/messages/unread-count", htmx=True)
    assert first.status_code == 200 and first.headers["ETag"]
    assert "no-store" not in first.headers["Cache-Control"] and "no-cache" in first.headers["Cache-Control"]
    etag = first.headers["ETag"]
    again = client.get("/messages/unread-count", htmx=True, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    reply(app, family, conversation, family.staff_a, "An answer")
    changed = client.get("/messages/unread-count", htmx=True, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "2 unread" in changed.get_data(as_text=True)


def test_the_badge_costs_one_statement_besides_the_signed_in_user(app, client, family):
    thread(app, family, family.margaret)
    login(client, "susanjones")
    etag = client.get("/messages/unread-count").headers["ETag"]
    with recorded_sql(app) as statements:
        assert client.get("/messages/unread-count", headers={"If-None-Match": etag}).status_code == 304
    # The request's agency and the session's user (every request), then the badge's one statement.
    assert len(statements) == 3, statements
    assert "FROM agencies" in statements[0] and "FROM users" in statements[1]


# --- bounded work --------------------------------------------------------------------------------


def _add_threads(app, world, count):
    now = utcnow()
    with in_app(app) as session:
        for n in range(count):
            at = now - timedelta(hours=n)
            conversation = Conversation(
                agency_id=world.a.id,
                client_id=world.client_a.id,
                subject=f"Thread {n}",
                started_by_id=world.margaret.id,
                created_at=at,
                last_message_at=at,
                messages=[
                    Message(agency_id=world.a.id, sender_id=sender, body=f"message {n}.{i}", created_at=at)
                    for i, sender in enumerate((world.margaret.id, world.staff_a.id, world.susan.id))
                ],
            )
            session.add(conversation)
        session.commit()
        return session.scalar(select(Conversation.id).order_by(Conversation.id.desc()))


@pytest.mark.parametrize(
    "path", ["/messages", "/messages?page=2", "/messages/{id}", "/messages/new", "/dashboard"]
)
def test_message_pages_cost_at_most_ten_statements_whatever_the_data(app, client, family, path):
    newest = _add_threads(app, family, 25)
    login(client, "susanjones")
    url = path.format(id=newest)
    with recorded_sql(app) as few:
        assert client.get(url).status_code == 200
    _add_threads(app, family, 150)
    with recorded_sql(app) as many:
        assert client.get(url).status_code == 200
    assert len(few) == len(many) <= 10, many


def test_pages_past_the_last_answer_404(app, client, family):
    _add_threads(app, family, 3)
    login(client, "susanjones")
    assert client.get("/messages?page=2").status_code == 404
    assert client.get("/messages?page=abc").status_code == 200  # an unreadable page number is page 1


def test_read_marks_are_one_row_per_reader(app, client, family):
    conversation = thread(app, family, family.margaret)
    login(client, "susanjones")
    for _ in range(3):
        client.get(f"/messages/{conversation}")
    with in_app(app) as session:
        rows = session.scalars(
            select(ConversationRead).where(ConversationRead.user_id == family.susan.id)
        ).all()
        assert len(rows) == 1 and rows[0].last_read_at is not None


def test_a_done_thread_reopens_when_the_family_writes(app, family):
    conversation = thread(app, family, family.margaret)
    with in_app(app) as session:
        service.mark_done(session.get(Conversation, conversation), session.get(User, family.staff_a.id))
        session.commit()
    reply(app, family, conversation, family.susan, "One more question")
    with in_app(app) as session:
        assert session.get(Conversation, conversation).done_at is None
        db.session.rollback()


# --- review: who reads a thread ------------------------------------------------------------------


def link_of(app, user, client):
    from app.models import ClientLink

    with in_app(app) as session:
        link = session.scalar(
            select(ClientLink).where(ClientLink.user_id == user.id, ClientLink.client_id == client.id)
        )
        session.expunge(link)
        return link


def test_a_payer_does_not_read_the_familys_threads(app, client, family):
    """A payer (a relative, a community, an insurer) sees the minimum necessary: the threads they
    started, not the family's conversations about the client's care."""
    shared = thread(app, family, family.margaret, subject="Her new pills", text=SECRET_WORDS)
    reply(app, family, shared, family.staff_a, "Noted, thank you.")
    assert "robert@example.test" not in [m.to_address for m in mails(app)]
    with in_app(app) as session:
        assert "robertjones" not in [
            u.username for u, _ in service.readers(session.get(Conversation, shared))
        ]
    login(client, "robertjones")
    assert "Her new pills" not in client.get("/messages").get_data(as_text=True)
    assert client.get(f"/messages/{shared}").status_code == 404
    assert client.post_form(f"/messages/{shared}", {"body": "x"}, token_from="/messages").status_code == 404
    assert 'class="badge"' not in client.get("/messages/unread-count").get_data(as_text=True)
    assert "0 conversations" in client.get("/messages").get_data(as_text=True)


def test_a_payers_own_shared_thread_is_read_by_the_family_and_the_payer(app, client, family):
    theirs = thread(app, family, family.robert, subject="The bill", private=False)
    reply(app, family, theirs, family.staff_a, "Corrected.")
    login(client, "robertjones")
    assert "The bill" in client.get("/messages").get_data(as_text=True)
    assert 'aria-label="1 unread"' in client.get("/messages/unread-count").get_data(as_text=True)
    page = client.get(f"/messages/{theirs}").get_data(as_text=True)
    assert "Who can read this conversation: Margaret Jones, Robert Jones, Susan Jones and the office." in page


def test_the_conversation_rules_agree_in_python_and_sql(app, family, make):
    """conversation_visible (one thread) and conversation_criterion (lists, badge) say the same
    for every relationship, private or shared, own or someone else's."""
    from app.auth.policies import MESSAGES, conversation_criterion, conversation_visible, reachable_client_ids

    starters = (family.margaret, family.susan, family.robert)
    ids = {
        (starter.id, private): thread(
            app, family, starter, subject=f"{starter.username}{private}", private=private
        )
        for starter in starters
        for private in (False, True)
    }
    with in_app(app) as session:
        for user in (family.margaret, family.susan, family.robert):
            link = link_of(app, user, family.client_a)
            in_sql = set(
                session.scalars(
                    select(Conversation.id).where(
                        conversation_criterion(user.id, reachable_client_ids(user.id, MESSAGES))
                    )
                )
            )
            in_python = {
                cid for cid in ids.values() if conversation_visible(link, session.get(Conversation, cid))
            }
            assert in_sql == in_python, user.username
        robert = link_of(app, family.robert, family.client_a)
        assert {
            cid for cid in ids.values() if conversation_visible(robert, session.get(Conversation, cid))
        } == {
            ids[(family.robert.id, False)],
            ids[(family.robert.id, True)],
        }


def test_the_family_of_a_deactivated_client_is_not_told(app, family):
    conversation = thread(app, family, family.margaret)
    set_columns(app, type(family.client_a), family.client_a.id, is_active=False)
    before = len(mails(app))
    reply(app, family, conversation, family.staff_a, "We have closed the file.")
    assert mails(app)[before:] == []
    with in_app(app) as session:
        assert service.readers(session.get(Conversation, conversation)) == []


def test_a_locked_reader_or_one_of_another_agency_is_not_told(app, family, make):
    set_columns(app, User, family.susan.id, is_locked=True)  # locked by the office: cannot sign in
    set_columns(app, User, family.alice.id, email="alice@example.test")
    make.link(family.alice, family.client_a, "emergency_contact")  # a link that should never exist
    conversation = thread(app, family, family.margaret)
    reply(app, family, conversation, family.staff_a, "Noted.")
    assert [m.to_address for m in mails(app)] == ["office@alpha.test", "margaret@example.test"]
    with in_app(app) as session:
        readers = [u.username for u, _ in service.readers(session.get(Conversation, conversation))]
    assert readers == ["margaretjones"]


def test_who_can_read_is_listed_in_name_order(app, client, family, make):
    zoe = make.user(family.a, "zoeadams", name="Zoe Adams")
    make.link(zoe, family.client_a, "emergency_contact")
    conversation = thread(app, family, family.susan)
    login(client, "margaretjones")
    page = client.get(f"/messages/{conversation}").get_data(as_text=True)
    assert "Who can read this conversation: Zoe Adams, Margaret Jones, Susan Jones and the office." in page


# --- review: mail --------------------------------------------------------------------------------


def test_a_sender_name_with_a_line_break_stays_out_of_the_mail_headers(app, family, make, smtp):
    """Names come through one-line form fields; a name stored by other means (an import, the
    database) must still never put a break into a mail subject, which the mailer would refuse."""
    eve = make.user(family.a, "eve", name="Eve\rBcc: all@example.test", email="eve@example.test")
    make.link(eve, family.client_a, "emergency_contact")
    thread(app, family, eve)
    office = [m for m in mails(app) if m.to_address == "office@alpha.test"]
    assert len(office) == 1
    assert "\r" not in office[0].subject and "\n" not in office[0].subject
    assert office[0].subject == "New portal message from Eve Bcc: all@example.test"
    run_outbox(app)
    assert ("office@alpha.test",) in {tuple(to) for to, _message in smtp.messages}


# --- review: concurrent requests -----------------------------------------------------------------


@contextmanager
def meanwhile(app, before, change, after=None):
    """Another request's change lands once, on the same connection as if it had committed a moment
    earlier: just before the app's first statement matching `before`, or just after its first
    matching `after` (between a look and the write that acts on it)."""
    with app.app_context():
        bind = db.engines[None]
    fired = []

    def land(conn, statement, pattern):
        if pattern and not fired and re.match(pattern, statement.lstrip(), re.IGNORECASE):
            fired.append(statement)
            change(conn)

    def on_before(conn, _cursor, statement, *_args):
        land(conn, statement, before)

    def on_after(conn, _cursor, statement, *_args):
        land(conn, statement, after)

    event.listen(bind, "before_cursor_execute", on_before)
    event.listen(bind, "after_cursor_execute", on_after)
    try:
        yield fired
    finally:
        event.remove(bind, "before_cursor_execute", on_before)
        event.remove(bind, "after_cursor_execute", on_after)


def first_read_by(world, conversation_id, user):
    def change(conn):
        conn.execute(
            insert(ConversationRead.__table__).values(
                agency_id=world.a.id, conversation_id=conversation_id, user_id=user.id, last_read_at=utcnow()
            )
        )

    return change


@pytest.fixture
def zoe(app, family, make):
    """Margaret's niece, linked after the thread began: she has no read mark yet."""
    return make.user(family.a, "zoeadams", name="Zoe Adams", email="zoe@example.test")


def test_two_first_reads_at_once_are_no_conflict(app, client, family, make, zoe):
    conversation = thread(app, family, family.margaret)
    make.link(zoe, family.client_a, "emergency_contact")
    login(client, "zoeadams")
    with meanwhile(app, r"INSERT INTO conversation_reads", first_read_by(family, conversation, zoe)) as fired:
        response = client.get(f"/messages/{conversation}")
    assert fired and response.status_code == 200, response.status
    with in_app(app) as session:
        rows = session.scalars(select(ConversationRead).where(ConversationRead.user_id == zoe.id)).all()
        assert len(rows) == 1 and rows[0].last_read_at is not None
    assert 'class="badge"' not in client.get("/messages/unread-count").get_data(as_text=True)


def test_a_reply_while_a_reader_opens_the_thread_for_the_first_time_is_kept(app, client, family, make, zoe):
    conversation = thread(app, family, family.margaret)
    make.link(zoe, family.client_a, "emergency_contact")
    login(client, "admin")
    token = client.csrf_token(f"/admin/messages/{conversation}")
    with meanwhile(app, r"INSERT INTO conversation_reads", first_read_by(family, conversation, zoe)) as fired:
        response = client.post(
            f"/admin/messages/{conversation}", data={"body": "On our way.", "csrf_token": token}
        )
    assert fired and response.status_code == 303, response.status
    with in_app(app) as session:
        assert session.scalar(select(Message).where(Message.body == "On our way.")) is not None
    assert "zoe@example.test" in [m.to_address for m in mails(app)]  # she had read it: told of the reply


def test_two_family_messages_at_once_tell_the_office_once(app, client, family):
    conversation = thread(app, family, family.margaret)
    with in_app(app) as session:
        service.mark_office_read(session.get(Conversation, conversation))
        session.commit()
    before = len([m for m in mails(app) if m.to_address == "office@alpha.test"])

    def office_told_by_the_other_request(conn):
        conn.execute(
            update(Conversation.__table__)
            .where(Conversation.__table__.c.id == conversation)
            .values(office_notified_at=utcnow())
        )

    login(client, "susanjones")
    with meanwhile(app, r"UPDATE conversations", office_told_by_the_other_request) as fired:
        response = client.post_form(f"/messages/{conversation}", {"body": "Also: the gate code."})
    assert fired and response.status_code == 303
    assert len([m for m in mails(app) if m.to_address == "office@alpha.test"]) == before


def test_two_office_replies_at_once_tell_a_reader_once(app, client, family):
    conversation = thread(app, family, family.margaret)
    with in_app(app) as session:
        service.mark_read(session.get(Conversation, conversation), session.get(User, family.margaret.id))
        session.commit()

    def margaret_told_by_the_other_reply(conn):
        table = ConversationRead.__table__
        conn.execute(
            update(table)
            .where(table.c.conversation_id == conversation, table.c.user_id == family.margaret.id)
            .values(notified_at=utcnow())
        )

    login(client, "admin")
    with meanwhile(
        app,
        r"(INSERT INTO|UPDATE) conversation_reads",
        margaret_told_by_the_other_reply,
        after=r"SELECT .*FROM conversation_reads",
    ) as fired:
        client.post_form(f"/admin/messages/{conversation}", {"body": "Second answer."})
    assert fired
    assert "margaret@example.test" not in [m.to_address for m in mails(app)]


def test_a_read_mark_only_moves_forward(app, family):
    """Two reads finishing out of order (a slow tab): the older one does not move the mark back."""
    conversation = thread(app, family, family.margaret)
    later = utcnow()
    with in_app(app) as session:
        talk, susan = session.get(Conversation, conversation), session.get(User, family.susan.id)
        service._mark_read(talk, susan, later)
        service._mark_read(talk, susan, later - timedelta(minutes=5))
        session.commit()
    with in_app(app) as session:
        mark = session.scalar(select(ConversationRead).where(ConversationRead.user_id == family.susan.id))
        assert mark.last_read_at == later


# --- review: the badge ---------------------------------------------------------------------------


def test_the_badge_is_kept_by_the_browser_only_and_revalidated(app, client, family):
    thread(app, family, family.margaret)
    login(client, "susanjones")
    response = client.get("/messages/unread-count", htmx=True)
    directives = {d.strip() for d in response.headers["Cache-Control"].split(",")}
    assert {"private", "no-cache"} <= directives and "public" not in directives
    assert "Cookie" in response.headers["Vary"]
    assert "Set-Cookie" not in response.headers or "seen_at" not in response.headers["Set-Cookie"]


def test_the_badge_etag_changes_with_the_language(app, client, family):
    thread(app, family, family.margaret)
    login(client, "susanjones")
    english = client.get("/messages/unread-count", htmx=True)
    set_columns(app, User, family.susan.id, language="es")
    spanish = client.get(
        "/messages/unread-count", htmx=True, headers={"If-None-Match": english.headers["ETag"]}
    )
    assert spanish.status_code == 200 and spanish.headers["ETag"] != english.headers["ETag"]
    assert "Mensajes" in spanish.get_data(as_text=True)


def test_the_badge_goes_away_quietly_when_messages_are_switched_off(app, client, family):
    login(client, "susanjones")
    assert client.get("/messages/unread-count", htmx=True).status_code == 200
    link = link_of(app, family.susan, family.client_a)
    from app.models import ClientLink

    set_columns(app, ClientLink, link.id, show_messages=False)
    poll = client.get("/messages/unread-count", htmx=True)
    # htmx's "stop polling" answer with nothing to swap in: no error page in the header.
    assert poll.status_code == 286 and poll.get_data() == b""
    assert client.get("/messages/unread-count").status_code == 404  # the address itself is closed


# --- review: hostile input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/messages?page=2147483647",
        "/messages?page=2147483648",
        "/messages?page=" + "9" * 5000,
        "/messages?page=-1",
        "/messages?page=%ff",
        "/messages?client=2147483647",
        "/messages?client=" + "9" * 5000,
        "/messages?client=",
        "/messages?client=1&client=2",
        "/messages?client=%ef%bf%bd",
        "/messages/new?client=99999999999999999999",
        "/messages/new?client=%00",
        "/messages/2147483648",
        "/messages/" + "9" * 400,
        "/messages/%ff",
        "/messages/unread-count?page=%00",
    ],
)
def test_hostile_addresses_are_never_a_server_error(app, client, family, path):
    thread(app, family, family.margaret)
    login(client, "susanjones")
    response = client.get(path)
    assert response.status_code < 500, response.status
    assert client.get(path, htmx=True).status_code < 500


@pytest.mark.parametrize(
    "data",
    [
        {"client": "2147483648", "subject": "x", "body": "y"},
        {"client": "9" * 5000, "subject": "x", "body": "y"},
        {"client": "-1", "subject": "x", "body": "y"},
        {"client": "1e3", "subject": "x", "body": "y"},
        {"client": "\u0663", "subject": "x", "body": "y"},
        {"subject": "x", "body": "y"},
        {"client": "{client}", "subject": "x" * 100_000, "body": "y"},
        {"client": "{client}", "subject": "x", "body": "y" * 100_000},
        {"client": "{client}", "subject": "\U0001f642 \u202e \ufeff", "body": "\u0000"},
        {"client": "{client}", "subject": "ok", "body": "\x1b[31m"},
        {"client": "{client}", "subject": "ok", "body": "\ufffd\ufffe"},
        {"client": "{client}", "subject": "ok", "body": "x", "private": "\u0000"},
    ],
)
def test_hostile_forms_are_never_a_server_error(app, client, family, data):
    login(client, "robertjones")
    data = {k: v.format(client=family.client_a.id) for k, v in data.items()}
    response = client.post_form("/messages/new", data)
    assert response.status_code < 500, response.status


def test_invalid_utf8_in_a_message_is_stored_as_text(app, client, family):
    login(client, "susanjones")
    token = client.csrf_token("/messages/new")
    raw = (
        b"csrf_token="
        + token.encode()
        + b"&client=%d&subject=Bytes%%FF&body=caf%%C3%%A9+%%C3+%%ED%%A0%%80" % (family.client_a.id)
    )
    response = client.post(
        "/messages/new", data=raw, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 303, response.status
    with in_app(app) as session:
        conversation = session.scalar(select(Conversation))
        assert conversation.subject.startswith("Bytes") and conversation.messages[0].body.startswith("café")


# --- review: CSRF and methods --------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_every_message_post_needs_the_sessions_token(app, client, family, htmx):
    conversation = thread(app, family, family.margaret)
    other = app.test_client()
    login(other, "margaretjones")
    foreign = other.csrf_token("/messages/new")  # a real token, of another session
    login(client, "susanjones")
    headers = {"HX-Request": "true"} if htmx else {}
    posts = [
        ("/messages/new", {"client": family.client_a.id, "subject": "Forged", "body": "Forged"}),
        (f"/messages/{conversation}", {"body": "Forged"}),
    ]
    for path, data in posts:
        for token in (None, foreign, "garbage"):
            sent = dict(data, csrf_token=token) if token and not htmx else dict(data)
            extra = dict(headers, **({"X-CSRFToken": token} if token and htmx else {}))
            response = client.post(path, data=sent, headers=extra)
            assert response.status_code == 400, (path, token, response.status)
    with in_app(app) as session:
        assert session.scalar(select(Message).where(Message.body == "Forged")) is None
        assert session.scalar(select(Conversation).where(Conversation.subject == "Forged")) is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/messages"),
        ("POST", "/messages/unread-count"),
        ("PUT", "/messages/{id}"),
        ("DELETE", "/messages/{id}"),
        ("PATCH", "/messages/new"),
    ],
)
def test_message_addresses_answer_only_their_methods(app, client, family, method, path):
    conversation = thread(app, family, family.margaret)
    login(client, "susanjones")
    token = client.csrf_token("/messages/new")
    response = client.open(
        path.format(id=conversation),
        method=method,
        data={"csrf_token": token},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 405, response.status


# --- review: linkify -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("https://", "https://"),
        ("https://.", "https://."),
        ("see https://)", "see https://)"),
        ("http://...", "http://..."),
        ("https://:@x", "https://:@x"),
        ("HTTPS://EXAMPLE.ORG/A", '<a href="HTTPS://EXAMPLE.ORG/A" rel="noopener nofollow noreferrer">'),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("JaVaScRiPt:alert(1)//https", "JaVaScRiPt:alert(1)//https"),
        ("javascript:https://x.org", 'javascript:<a href="https://x.org" rel='),
        ("data:text/html,<script>alert(1)</script>", "data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("xhttps://x.org", "xhttps://x.org"),
        (
            'https://x.org/"onmouseover="alert(1)',
            '<a href="https://x.org/" rel="noopener nofollow noreferrer">https://x.org/</a>&#34;onmouseover=&#34;alert(1)',
        ),
        (
            'https://x.org/\\"><b>',
            '<a href="https://x.org/\\" rel="noopener nofollow noreferrer">https://x.org/\\</a>&#34;&gt;&lt;b&gt;',
        ),
        (
            "https://x.org/'x",
            '<a href="https://x.org/" rel="noopener nofollow noreferrer">https://x.org/</a>&#39;x',
        ),
        ("https://x.org/?a=1&amp;b=<2>", '<a href="https://x.org/?a=1&amp;amp;b=" rel='),
        ("https://例え.jp/パス", '<a href="https://例え.jp/パス" rel='),
        (
            "https://x.org/\u202egro.live",
            '<a href="https://x.org/" rel="noopener nofollow noreferrer">https://x.org/</a>\u202egro.live',
        ),
        (
            "(https://en.wikipedia.org/wiki/Mercury_(planet)).",
            '(<a href="https://en.wikipedia.org/wiki/Mercury_(planet)" rel="noopener nofollow noreferrer">https://en.wikipedia.org/wiki/Mercury_(planet)</a>).',
        ),
        (
            "(see https://x.org/a).",
            '(see <a href="https://x.org/a" rel="noopener nofollow noreferrer">https://x.org/a</a>).',
        ),
        ("http://[::1]:8080/", '<a href="http://[::1]:8080/" rel='),
    ],
)
def test_linkify_makes_only_web_addresses_live(text, html):
    from app.web.formatting import linkify

    out = str(linkify(text))
    assert html in out
    if html == text:  # no address here: nothing becomes a link
        assert "<a" not in out
    assert "<a " not in re.sub(r'<a href="https?://', "", out, flags=re.IGNORECASE)
    assert "<b>" not in out and "<script" not in out


def test_linkify_takes_a_very_long_address_in_linear_time():
    import time

    from app.web.formatting import linkify

    balanced = "https://x.org/" + "(" * 2500 + ")" * 2500
    for text in (
        balanced + " " + "https://" * 600,
        "https://x.org/" + ")" * 5000,
        "https://x.org/" + ".," * 2500,
    ):
        start = time.perf_counter()
        out = str(linkify(text))
        assert time.perf_counter() - start < 0.5
        assert out.startswith('<a href="https://x.org/')
    assert f'href="{balanced}"' in str(linkify(balanced + "."))


def test_a_reader_whose_messages_are_switched_off_is_not_told_nor_listed(app, client, family):
    from app.models import ClientLink

    set_columns(app, ClientLink, link_of(app, family.susan, family.client_a).id, show_messages=False)
    conversation = thread(app, family, family.margaret, subject="Her new pills", text=SECRET_WORDS)
    reply(app, family, conversation, family.staff_a, "Noted.")
    assert "susan@example.test" not in [m.to_address for m in mails(app)]
    for mail in mails(app):  # nor does any mail name the thread: its subject is the family's words
        assert "pills" not in mail.subject and "pills" not in mail.body_text
    login(client, "margaretjones")
    page = client.get(f"/messages/{conversation}").get_data(as_text=True)
    assert "Who can read this conversation: Margaret Jones and the office." in page


def test_hostile_names_and_subjects_come_back_as_text_in_the_portal(app, client, family, make):
    villain = make.user(family.a, "villain", name='<img src=x onerror=alert(1)> "Bob"')
    make.link(villain, family.client_a, "emergency_contact")
    conversation = thread(app, family, villain, subject='"><svg onload=alert(1)>', text="<b>hi</b>")
    login(client, "margaretjones")
    for path in ("/messages", f"/messages/{conversation}"):
        html = client.get(path).get_data(as_text=True)
        assert "<img src=x" not in html and "<svg onload" not in html and "<b>hi" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; &#34;Bob&#34;" in html  # the sender and the reader list


def test_a_long_thread_is_read_a_page_at_a_time_and_stays_small(app, client, family):
    import gzip
    import random

    conversation = thread(app, family, family.margaret, text="first message")
    words = "visit tuesday morning caregiver arrive later lunch walk garden pharmacy daughter call".split()
    rng = random.Random(7)
    with in_app(app) as session:
        now = utcnow()
        for n in range(1, 75):
            text = " ".join(rng.choice(words) for _ in range(40)) + f" #{n}"
            sender = family.staff_a.id if n % 2 else family.susan.id
            session.add(
                Message(
                    agency_id=family.a.id,
                    conversation_id=conversation,
                    sender_id=sender,
                    body=text,
                    created_at=now,
                )
            )
        session.commit()
    login(client, "susanjones")
    latest = client.get(f"/messages/{conversation}").get_data(as_text=True)
    assert "#74" in latest and "#45" in latest and "#44" not in latest
    assert len(gzip.compress(latest.encode())) <= 14 * 1024
    earlier = re.search(r'href="(/messages/\d+\?before=\d+)">Earlier messages', latest).group(1)
    page = client.get(earlier).get_data(as_text=True)
    assert "#44" in page and "#15" in page and "#45" not in page and "Latest messages" in page
    oldest = client.get(re.search(r'href="(/messages/\d+\?before=\d+)">Earlier', page).group(1))
    assert "first message" in oldest.get_data(as_text=True)
    assert "Earlier messages" not in oldest.get_data(as_text=True)
