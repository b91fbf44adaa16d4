"""The office inbox: staff read the families' threads, answer them and mark them done.

Threads are built straight from the models; family messages go through the messages service in a
short application context, as the portal's view would send them. Each flow runs as a plain form
post (following the redirect, as without JavaScript) and as an htmx request (a fragment). What is
asserted is what staff see, what is stored and what is mailed — never the message text.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from app.models import (
    Agency,
    AuditEvent,
    Conversation,
    ConversationRead,
    Message,
    OutboxMail,
    User,
    utcnow,
)
from app.services import messages as service
from tests.conftest import HOST_B, get_one, in_app, login, recorded_sql

INBOX = "/admin/messages"
CAROL = "carol@alpha.example.org"
VERSION_RE = re.compile(r'name="version" type="hidden" value="(\d+)"|name="version" value="(\d+)"')


def body(response) -> str:
    return response.get_data(as_text=True)


def assert_fragment(response) -> str:
    text = body(response)
    assert "<html" not in text and "<body" not in text, text[:200]
    return text


def thread_url(conversation_id: int) -> str:
    return f"{INBOX}/{conversation_id}"


def make_thread(
    make,
    client,
    starter,
    subject="Next week's visits",
    text="Could Ana come on Tuesday instead?",
    *,
    ago=timedelta(hours=1),
    private=False,
    read=False,
    done_by=None,
    replies=(),
):
    """A thread about `client`, started `ago` by `starter` with `text`; `replies` are (sender,
    text) pairs a minute apart after it. `read`: the office has read it all; `done_by`: marked done."""
    start = utcnow() - ago
    last = start + timedelta(minutes=len(replies))
    conversation = make.save(
        Conversation(
            agency_id=client.agency_id,
            client_id=client.id,
            subject=subject,
            started_by_id=starter.id,
            is_private=private,
            created_at=start,
            last_message_at=last,
            office_read_at=last if read else None,
            done_at=last if done_by else None,
            done_by_id=done_by.id if done_by else None,
        )
    )
    rows = [(starter, text)] + list(replies)
    make.save(
        *[
            Message(
                agency_id=client.agency_id,
                conversation_id=conversation.id,
                sender_id=sender.id,
                body=words,
                created_at=start + timedelta(minutes=n),
            )
            for n, (sender, words) in enumerate(rows)
        ]
    )
    return conversation


def family_writes(app, conversation, sender, text="Thank you, see you then."):
    """A portal user writes in the thread, as the portal would (the service, then one commit)."""
    with in_app(app) as session:
        agency = session.get(Agency, conversation.agency_id)
        service.post_message(
            agency, session.get(Conversation, conversation.id), session.get(User, sender.id), text
        )
        session.commit()


def mails(app, to=None) -> list[OutboxMail]:
    with in_app(app) as session:
        query = select(OutboxMail).order_by(OutboxMail.id)
        if to is not None:
            query = query.where(OutboxMail.to_address == to)
        rows = session.scalars(query).all()
        session.expunge_all()
        return rows


def count(app, model) -> int:
    with in_app(app) as session:
        return session.scalar(select(func.count()).select_from(model))


def set_user(app, user, **values):
    with in_app(app) as session:
        row = session.get(User, user.id)
        for name, value in values.items():
            setattr(row, name, value)
        session.commit()


@pytest.fixture
def carol(make, world):
    """An office staff member (not the owner), with her own address."""
    return make.user(world.a, "carolwhite", role="staff", name="Carol White", email=CAROL)


# --- the list -----------------------------------------------------------------------------------


def test_the_inbox_lists_waiting_threads_first(client, make, world):
    answered_old = make_thread(
        make, world.client_a, world.margaret, "Old answered", ago=timedelta(days=3), read=True
    )
    answered_new = make_thread(
        make, world.client_a2, world.harold, "New answered", ago=timedelta(hours=2), read=True
    )
    waiting = make_thread(make, world.client_a, world.susan, "Waiting one", ago=timedelta(days=5))
    private = make_thread(
        make, world.client_a, world.robert, "About the bill", ago=timedelta(days=4), private=True, read=True
    )
    login(client, "admin")
    page = body(client.get(INBOX))
    assert "<html" in page
    order = [page.index(s) for s in ("Waiting one", "New answered", "Old answered", "About the bill")]
    assert order == sorted(order)
    assert page.count(">Waiting</span>") == 1
    assert page.count(">Private</span>") == 1
    assert "Margaret Jones · Waiting one" in page and "Harold Smith · New answered" in page
    assert "Started by Susan Jones" in page and "Started by Robert Jones" in page
    assert "4 conversations" in page
    for conversation in (answered_old, answered_new, waiting, private):
        assert f'href="{thread_url(conversation.id)}"' in page


def test_the_time_shown_is_the_agencys(client, make, world, app):
    conversation = make_thread(make, world.client_a, world.margaret)
    with in_app(app) as session:
        session.get(Conversation, conversation.id).last_message_at = datetime(2026, 11, 26, 15, 5, tzinfo=UTC)
        session.commit()
    login(client, "admin")
    assert "Nov 26, 2026 9:05 AM" in body(client.get(INBOX))  # 15:05 UTC in Chicago


def test_done_threads_leave_the_open_list(client, make, world):
    make_thread(make, world.client_a, world.margaret, "Still open")
    make_thread(make, world.client_a, world.margaret, "All sorted", read=True, done_by=world.staff_a)
    login(client, "admin")
    page = body(client.get(INBOX))
    assert "Still open" in page and "All sorted" not in page
    page = body(client.get(f"{INBOX}?show=done"))
    assert "All sorted" in page and "Still open" not in page and ">Done</span>" in page
    page = body(client.get(f"{INBOX}?show=all"))
    assert "All sorted" in page and "Still open" in page


@pytest.mark.parametrize("show", ["", "bogus", "DONE", "open ", "x" * 500])
def test_an_unknown_filter_shows_the_open_threads(client, make, world, show):
    make_thread(make, world.client_a, world.margaret, "Still open")
    make_thread(make, world.client_a, world.margaret, "All sorted", read=True, done_by=world.staff_a)
    login(client, "admin")
    response = client.get(INBOX, query_string={"show": show})
    assert response.status_code == 200
    assert "Still open" in body(response) and "All sorted" not in body(response)


def test_pages_keep_the_search_and_the_filter(client, make, world, app):
    for n in range(30):
        make_thread(
            make, world.client_a, world.margaret, f"Visit question {n:02d}", ago=timedelta(hours=n + 1)
        )
    make_thread(make, world.client_a, world.margaret, "Something else")
    login(client, "admin")
    first = body(client.get(f"{INBOX}?q=visit&show=all"))
    assert "30 conversations" in first and "Page 1 of 2" in first
    assert "Visit question 00" in first and "Visit question 24" in first and "Visit question 25" not in first
    assert 'href="/admin/messages?q=visit&amp;show=all&amp;page=2"' in first
    assert "Previous page" not in first
    second = body(client.get(f"{INBOX}?q=visit&show=all&page=2"))
    assert (
        "Visit question 25" in second and "Visit question 29" in second and "Visit question 24" not in second
    )
    assert 'href="/admin/messages?q=visit&amp;show=all"' in second  # back to page 1
    assert "Next page" not in second
    # Switching the filter keeps the search and starts again at page 1.
    assert 'href="/admin/messages?q=visit&amp;show=done"' in second


@pytest.mark.parametrize("page", ["abc", "-1", "0", "1.5", "٢", str(2**31), "9" * 5000])
def test_a_page_that_does_not_parse_is_page_one(client, make, world, page):
    make_thread(make, world.client_a, world.margaret, "Only thread")
    login(client, "admin")
    response = client.get(INBOX, query_string={"page": page})
    assert response.status_code == 200 and "Only thread" in body(response)


def test_a_page_past_the_end_says_so(client, make, world):
    make_thread(make, world.client_a, world.margaret, "Only thread")
    login(client, "admin")
    page = body(client.get(f"{INBOX}?page={2**31 - 1}"))
    assert "There is nothing on this page." in page and 'href="/admin/messages"' in page


def test_the_htmx_list_is_a_fragment(client, make, world):
    make_thread(make, world.client_a, world.margaret, "Only thread")
    login(client, "admin")
    fragment = assert_fragment(client.get(f"{INBOX}?q=only", htmx=True))
    assert fragment.lstrip().startswith('<section id="message-threads"')
    assert "Only thread" in fragment and 'hx-get="/admin/messages"' in fragment


# --- search -------------------------------------------------------------------------------------


@pytest.fixture
def searchable(make, world):
    t = type("Threads", (), {})()
    t.harold = make_thread(make, world.client_a2, world.harold, "Lunch", "Soup please")
    t.subject = make_thread(make, world.client_a, world.margaret, "Pharmacy pick-up", "Tuesday is fine")
    t.text = make_thread(make, world.client_a, world.susan, "Question", "Is the 100% cotton_towel ok?")
    t.reply = make_thread(
        make,
        world.client_a,
        world.margaret,
        "Keys",
        "Where are they?",
        replies=[(world.staff_a, "Under the MAT")],
    )
    return t


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("harold", {"harold"}),
        ("Harold Smith", {"harold"}),
        ("  HAROLD  ", {"harold"}),
        ("pharmacy", {"subject"}),
        ("cotton", {"text"}),
        ("under the mat", {"reply"}),
        ("%", {"text"}),
        ("_", {"text"}),
        ("100%", {"text"}),
        ("n_t", {"text"}),
        ("h_r", set()),  # as a wildcard it would match "Harold"
        ("\\", set()),
        ("'; drop table conversations; --", set()),
        ("🙂", set()),
        ("Ω≈ç√", set()),
    ],
)
def test_search_by_client_subject_or_message(client, world, searchable, search, found):
    login(client, "admin")
    response = client.get(INBOX, query_string={"q": search, "show": "all"})
    assert response.status_code == 200
    page = body(response)
    subjects = {"harold": "Lunch", "subject": "Pharmacy pick-up", "text": "Question", "reply": "Keys"}
    shown = {name for name, subject in subjects.items() if f"· {subject}</a>" in page}
    assert shown == found
    if not found:
        assert "No conversation matches" in page


def test_the_search_is_shown_back_escaped(client, world, searchable):
    login(client, "admin")
    page = body(client.get(INBOX, query_string={"q": '<script>alert("x")</script>'}))
    assert "<script>alert" not in page and "&lt;script&gt;" in page


@pytest.mark.parametrize("raw", ["%ff%fe", "%c3", "%00", "%1b", "a%0Ab"])
def test_hostile_bytes_in_the_search_are_no_error(client, world, searchable, raw):
    login(client, "admin")
    response = client.get(f"{INBOX}?q={raw}")
    assert response.status_code < 500
    if raw in ("%00", "%1b"):
        assert response.status_code == 400
    if raw == "a%0Ab":
        assert response.status_code == 422
        assert "Keep this on one line" in body(response)


def test_a_search_too_long_is_refused_beside_the_box(client, world, searchable):
    login(client, "admin")
    response = client.get(INBOX, query_string={"q": "x" * 101})
    assert response.status_code == 422
    page = body(response)
    assert "Please search for at most 100 characters." in page and 'aria-invalid="true"' in page
    assert "Lunch" not in page
    fragment = client.get(INBOX, query_string={"q": "x" * 101}, htmx=True)
    assert fragment.status_code == 422
    assert "Please search for at most 100 characters." in assert_fragment(fragment)
    assert client.get(INBOX, query_string={"q": "x" * 100}).status_code == 200


# --- who may see a thread -----------------------------------------------------------------------


def test_another_agencys_thread_is_404(client, make, world, app):
    theirs = make_thread(make, world.client_b, world.alice, "Beta thread")
    login(client, "admin")
    assert "Beta thread" not in body(client.get(f"{INBOX}?show=all"))
    assert client.get(thread_url(theirs.id)).status_code == 404
    response = client.post_form(thread_url(theirs.id), {"body": "Hello"}, token_from=INBOX)
    assert response.status_code == 404
    response = client.post_form(f"{thread_url(theirs.id)}/done", {"done": "1"}, token_from=INBOX)
    assert response.status_code == 404
    assert count(app, Message) == 1 and get_one(app, Conversation, id=theirs.id).done_at is None

    other = app.test_client()
    login(other, "admin", host=HOST_B)
    assert "Beta thread" in body(other.get(INBOX, host=HOST_B))
    assert other.get(thread_url(theirs.id), host=HOST_B).status_code == 200


@pytest.mark.parametrize("username", ["margaretjones", "robertjones"])
def test_portal_users_get_404(client, make, world, username):
    conversation = make_thread(make, world.client_a, world.margaret)
    login(client, username)
    assert client.get(INBOX).status_code == 404
    assert client.get(thread_url(conversation.id)).status_code == 404
    response = client.post_form(thread_url(conversation.id), {"body": "x"}, token_from="/dashboard")
    assert response.status_code == 404


def test_office_staff_use_the_inbox_too(client, make, world, carol):
    conversation = make_thread(make, world.client_a, world.margaret, "For Carol")
    login(client, "carolwhite")
    assert "For Carol" in body(client.get(INBOX))
    assert client.get(thread_url(conversation.id)).status_code == 200


# --- a thread -----------------------------------------------------------------------------------


def test_the_thread_shows_every_message_and_marks_it_read(client, make, world, app):
    conversation = make_thread(
        make,
        world.client_a,
        world.margaret,
        "Keys",
        "See https://example.org/map. <b>Side door</b>",
        replies=[(world.staff_a, "Under the mat.\nThe blue one."), (world.susan, "Thanks!")],
    )
    login(client, "admin")
    page = body(client.get(thread_url(conversation.id)))
    assert "<h1>Keys</h1>" in page and "About Margaret Jones, started by Margaret Jones." in page
    assert page.index("See ") < page.index("Under the mat.") < page.index("Thanks!")
    assert 'Sam Rivera</strong> <span class="status">Office</span>' in page
    assert "Susan Jones</strong> ·" in page
    assert '<a href="https://example.org/map" rel="' in page  # the linkify filter; the "." stays text
    assert "&lt;b&gt;Side door&lt;/b&gt;" in page and "<b>Side door" not in page
    assert "Under the mat.\nThe blue one." in page  # kept as typed; the page shows the lines
    assert "Mark done" in page and 'name="body"' in page
    stored = get_one(app, Conversation, id=conversation.id)
    assert stored.office_read_at is not None and stored.office_read_at >= stored.last_message_at
    assert ">Waiting</span>" not in body(client.get(INBOX))


def test_a_private_thread_says_who_reads_it(client, make, world):
    conversation = make_thread(make, world.client_a, world.robert, "The bill", private=True)
    login(client, "admin")
    page = body(client.get(thread_url(conversation.id)))
    assert "Only Robert Jones and the office can read this conversation." in page


def test_reply_by_page(client, make, world, app):
    conversation = make_thread(make, world.client_a, world.margaret)
    login(client, "admin")
    response = client.post_form(
        thread_url(conversation.id), {"body": "  Yes, Ana will come on Tuesday.  "}, token_from=INBOX
    )
    assert response.status_code == 303
    assert response.headers["Location"] == thread_url(conversation.id)
    reply = get_one(app, Message, body="Yes, Ana will come on Tuesday.")
    assert reply.sender_id == world.staff_a.id and reply.conversation_id == conversation.id
    stored = get_one(app, Conversation, id=conversation.id)
    assert stored.last_message_at == reply.created_at and stored.office_read_at == reply.created_at
    assert get_one(app, AuditEvent, action="message.sent").target_id == reply.id
    page = body(client.get(response.headers["Location"]))
    assert "Reply sent." in page and "Yes, Ana will come on Tuesday." in page


def test_reply_by_htmx_swaps_the_thread(client, make, world, app):
    conversation = make_thread(make, world.client_a, world.margaret)
    login(client, "admin")
    response = client.post_form(thread_url(conversation.id), {"body": "On our way."}, htmx=True)
    assert response.status_code == 200
    fragment = assert_fragment(response)
    assert fragment.lstrip().startswith('<div id="message-thread">')
    assert "Reply sent." in fragment and "On our way." in fragment
    assert "Could Ana come on Tuesday instead?" in fragment
    assert "<textarea" in fragment and "On our way.</textarea>" not in fragment  # an empty form again
    assert count(app, Message) == 2


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "Write your reply."),
        (" \r\n\t ", "Write your reply."),
        ("x" * (service.BODY_MAX + 1), "Please keep your message under 5000 characters."),
    ],
    ids=["empty", "blank", "too-long"],
)
def test_a_bad_reply_is_refused_beside_the_field(client, make, world, app, htmx, text, error):
    conversation = make_thread(make, world.client_a, world.margaret)
    login(client, "admin")
    response = client.post_form(thread_url(conversation.id), {"body": text}, htmx=htmx, token_from=INBOX)
    assert response.status_code == 422
    page = assert_fragment(response) if htmx else body(response)
    assert f'<p id="body-error" class="error">{error}</p>' in page
    assert 'aria-invalid="true"' in page
    if htmx:
        assert page.lstrip().startswith('<div id="message-thread">')
    else:
        assert "<html" in page
    assert count(app, Message) == 1 and mails(app) == []
    assert get_one(app, Conversation, id=conversation.id).office_read_at is None  # rolled back


def test_the_longest_reply_is_accepted(client, make, world, app):
    conversation = make_thread(make, world.client_a, world.margaret)
    login(client, "admin")
    response = client.post_form(thread_url(conversation.id), {"body": "x" * service.BODY_MAX})
    assert response.status_code == 303 and count(app, Message) == 2


# --- mail to the family -------------------------------------------------------------------------


def reply(client, conversation, text):
    response = client.post_form(thread_url(conversation.id), {"body": text})
    assert response.status_code == 303, response.status


def test_a_reply_mails_the_readers_who_want_it_without_the_text(client, make, world, app):
    conversation = make_thread(make, world.client_a, world.margaret)
    set_user(app, world.susan, notify_messages=False)
    set_user(app, world.robert, email=None)
    login(client, "admin")
    reply(client, conversation, "Ana has the Tuesday shift; the gate code is 4411.")
    sent = mails(app)
    assert [m.to_address for m in sent] == ["margaretjones@example.com"]
    mail = sent[0]
    assert f"http://alpha.localhost/messages/{conversation.id}" in mail.body_text
    for detail in ("Ana", "Tuesday", "4411", "gate"):
        assert detail not in mail.body_text and detail not in mail.subject
    notified = get_one(app, ConversationRead, conversation_id=conversation.id, user_id=world.margaret.id)
    assert notified.notified_at is not None


def test_readers_hear_once_per_thread_until_they_have_read_it(client, make, world, app):
    conversation = make_thread(make, world.client_a, world.margaret)
    set_user(app, world.susan, notify_messages=False)
    set_user(app, world.robert, notify_messages=False)
    login(client, "admin")
    reply(client, conversation, "First answer")
    reply(client, conversation, "Second answer")
    assert len(mails(app, "margaretjones@example.com")) == 1
    with in_app(app) as session:  # Margaret reads the thread in the portal
        service.mark_read(session.get(Conversation, conversation.id), session.get(User, world.margaret.id))
        session.commit()
    reply(client, conversation, "Third answer")
    assert len(mails(app, "margaretjones@example.com")) == 2
    # Another thread is another mail, read or not.
    other = make_thread(make, world.client_a, world.margaret, "Another question")
    reply(client, other, "Another answer")
    assert len(mails(app, "margaretjones@example.com")) == 3


def test_a_reply_in_a_private_thread_mails_only_its_starter(client, make, world, app):
    conversation = make_thread(make, world.client_a, world.robert, "The bill", private=True)
    login(client, "admin")
    reply(client, conversation, "The invoice is corrected.")
    assert [m.to_address for m in mails(app)] == ["robertjones@example.com"]


def test_a_reply_in_a_shared_thread_mails_every_reader(client, make, world, app):
    conversation = make_thread(make, world.client_a, world.margaret)
    login(client, "admin")
    reply(client, conversation, "Noted.")
    # Margaret's circle; not Robert, who only pays for her (a payer reads the threads they started).
    assert sorted(m.to_address for m in mails(app)) == ["margaretjones@example.com", "susanjones@example.com"]


# --- done and reopened --------------------------------------------------------------------------


def test_mark_done_and_reopen_by_page(client, make, world, app):
    conversation = make_thread(make, world.client_a, world.margaret, "Keys")
    login(client, "admin")
    url = f"{thread_url(conversation.id)}/done"
    response = client.post_form(url, {"done": "1"}, token_from=thread_url(conversation.id))
    assert response.status_code == 303 and response.headers["Location"] == thread_url(conversation.id)
    page = body(client.get(response.headers["Location"]))
    assert "Conversation marked done." in page and "Marked done by Sam Rivera on" in page and "Reopen" in page
    stored = get_one(app, Conversation, id=conversation.id)
    assert stored.done_at is not None and stored.done_by_id == world.staff_a.id
    assert get_one(app, AuditEvent, action="conversation.done").target_id == conversation.id
    assert "Keys" not in body(client.get(INBOX))

    response = client.post_form(url, {"done": "0"}, token_from=thread_url(conversation.id))
    assert response.status_code == 303
    assert "Conversation reopened." in body(client.get(thread_url(conversation.id)))
    stored = get_one(app, Conversation, id=conversation.id)
    assert stored.done_at is None and stored.done_by_id is None
    assert get_one(app, AuditEvent, action="conversation.reopened").target_id == conversation.id
    assert "Keys" in body(client.get(INBOX))


def test_mark_done_by_htmx_swaps_the_thread(client, make, world, app):
    conversation = make_thread(make, world.client_a, world.margaret)
    login(client, "admin")
    response = client.post_form(
        f"{thread_url(conversation.id)}/done",
        {"done": "1"},
        token_from=thread_url(conversation.id),
        htmx=True,
    )
    assert response.status_code == 200
    fragment = assert_fragment(response)
    assert fragment.lstrip().startswith('<div id="message-thread">')
    assert "Conversation marked done." in fragment and 'value="0">Reopen' in fragment


@pytest.mark.parametrize("value", ["", "2", "yes", "1 "])
def test_a_bad_done_value_is_refused(client, make, world, app, value):
    conversation = make_thread(make, world.client_a, world.margaret)
    login(client, "admin")
    response = client.post_form(
        f"{thread_url(conversation.id)}/done", {"done": value}, token_from=thread_url(conversation.id)
    )
    assert response.status_code == 422
    assert "Choose Mark done or Reopen." in body(response)
    assert get_one(app, Conversation, id=conversation.id).done_at is None


# --- mail to the office -------------------------------------------------------------------------


def settings_version(client) -> str:
    page = body(client.get("/admin/settings"))
    assert "Who hears of new portal messages" in page
    match = VERSION_RE.search(page)
    assert match, "no version field on the settings page"
    return match.group(1) or match.group(2)


def choose_message_recipient(client, staff_id) -> int:
    data = {
        "version": settings_version(client),
        "name": "Alpha Home Care",
        "contact_email": "office@alpha.example.org",
        "time_zone": "America/Chicago",
        "schedule_request_recipient_id": "0",
        "message_recipient_id": str(staff_id),
        "schedule_request_horizon_days": "90",
        "session_idle_minutes": "15",
        "payment_gateway": "none",
    }
    return client.post_form("/admin/settings", data).status_code


def test_a_family_message_reopens_the_thread_and_mails_the_chosen_recipient_once(
    client, make, world, app, carol
):
    conversation = make_thread(make, world.client_a, world.margaret, read=True, done_by=world.staff_a)
    login(client, "admin")
    assert choose_message_recipient(client, carol.id) == 303

    family_writes(app, conversation, world.margaret, "The new pills are on the shelf.")
    stored = get_one(app, Conversation, id=conversation.id)
    assert stored.done_at is None and stored.done_by_id is None
    sent = mails(app, CAROL)
    assert len(sent) == 1
    assert f"http://alpha.localhost/admin/messages/{conversation.id}" in sent[0].body_text
    assert "pills" not in sent[0].body_text and "pills" not in sent[0].subject
    assert "Margaret Jones" in sent[0].subject
    page = body(client.get(INBOX))
    assert ">Waiting</span>" in page

    family_writes(app, conversation, world.susan, "And the old ones are in the bin.")
    assert len(mails(app, CAROL)) == 1  # not again until someone in the office has opened it

    assert client.get(thread_url(conversation.id)).status_code == 200
    family_writes(app, conversation, world.margaret, "One more thing.")
    assert len(mails(app, CAROL)) == 2
    assert mails(app, "office@alpha.localhost") == []


def test_without_a_chosen_recipient_the_office_address_hears(client, make, world, app):
    conversation = make_thread(make, world.client_a, world.margaret, read=True)
    family_writes(app, conversation, world.margaret)
    assert len(mails(app, "office@alpha.localhost")) == 1


def test_a_staff_reply_does_not_mail_the_office(client, make, world, app, carol):
    conversation = make_thread(make, world.client_a, world.margaret)
    with in_app(app) as session:
        session.get(Agency, world.a.id).message_recipient_id = carol.id
        session.commit()
    login(client, "admin")
    reply(client, conversation, "Noted.")
    assert mails(app, CAROL) == [] and mails(app, "office@alpha.localhost") == []
    assert mails(app)  # the family heard


# --- office settings ----------------------------------------------------------------------------


def test_the_message_recipient_round_trips(client, world, app, carol):
    login(client, "admin")
    page = body(client.get("/admin/settings"))
    assert '<option selected value="0">The office e-mail address</option>' in page
    assert f'<option value="{carol.id}">Carol White</option>' in page
    assert choose_message_recipient(client, carol.id) == 303
    assert get_one(app, Agency, id=world.a.id).message_recipient_id == carol.id
    page = body(client.get("/admin/settings"))
    assert f'<option selected value="{carol.id}">Carol White</option>' in page
    audit = get_one(app, AuditEvent, action="office_settings.changed")
    assert "message_recipient_id" in audit.details["fields"]


def test_the_message_recipient_back_to_the_office_address(client, world, app, carol):
    with in_app(app) as session:
        session.get(Agency, world.a.id).message_recipient_id = carol.id
        session.commit()
    login(client, "admin")
    assert choose_message_recipient(client, 0) == 303
    assert get_one(app, Agency, id=world.a.id).message_recipient_id is None


@pytest.mark.parametrize("whom", ["other_agency", "portal_user", "inactive_staff", "huge", "text"])
def test_the_message_recipient_must_be_active_staff_of_this_agency(client, make, world, app, whom):
    retired = make.user(world.a, "oldstaff", role="staff", name="Old Staff", is_active=False)
    staff_id = {
        "other_agency": world.staff_b.id,
        "portal_user": world.margaret.id,
        "inactive_staff": retired.id,
        "huge": 2**63,
        "text": "carol",
    }[whom]
    login(client, "admin")
    assert choose_message_recipient(client, staff_id) == 422
    assert get_one(app, Agency, id=world.a.id).message_recipient_id is None


def test_a_settings_form_without_the_message_recipient_keeps_it(client, world, app, carol):
    with in_app(app) as session:
        session.get(Agency, world.a.id).message_recipient_id = carol.id
        session.commit()
    login(client, "admin")
    data = {
        "version": settings_version(client),
        "name": "Alpha Care",
        "contact_email": "office@alpha.example.org",
        "time_zone": "America/Chicago",
        "schedule_request_recipient_id": "0",
        "schedule_request_horizon_days": "90",
        "session_idle_minutes": "15",
        "payment_gateway": "none",
    }
    assert client.post_form("/admin/settings", data).status_code == 303
    agency = get_one(app, Agency, id=world.a.id)
    assert (agency.name, agency.message_recipient_id) == ("Alpha Care", carol.id)


# --- the admin home -----------------------------------------------------------------------------


def test_the_home_page_counts_the_waiting_threads(client, make, world, app):
    make_thread(make, world.client_a, world.margaret, "Waiting one")
    make_thread(make, world.client_a2, world.harold, "Waiting two")
    make_thread(make, world.client_a, world.margaret, "Read", read=True)
    make_thread(make, world.client_a, world.margaret, "Done", read=True, done_by=world.staff_a)
    make_thread(make, world.client_b, world.alice, "Other agency")
    login(client, "admin")
    with recorded_sql(app) as statements:
        page = body(client.get("/admin/"))
    assert '<a href="/admin/messages">Family messages not read</a> <span class="badge">2</span>' in page
    assert len([s for s in statements if "conversations" in s]) == 1  # the count is one statement


# --- bounded queries ----------------------------------------------------------------------------


def bulk_threads(app, world, number):
    """`number` threads about Margaret, each with one message, inserted in bulk."""
    now = utcnow()
    with in_app(app) as session:
        before = session.scalar(select(func.coalesce(func.max(Conversation.id), 0)))
        session.execute(
            insert(Conversation),
            [
                {
                    "agency_id": world.a.id,
                    "client_id": (world.client_a if n % 2 else world.client_a2).id,
                    "subject": f"Bulk {n}",
                    "started_by_id": (world.margaret if n % 2 else world.harold).id,
                    "is_private": n % 5 == 0,
                    "created_at": now - timedelta(minutes=n),
                    "last_message_at": now - timedelta(minutes=n),
                    "office_read_at": now if n % 3 else None,
                }
                for n in range(number)
            ],
        )
        ids = session.scalars(select(Conversation.id).where(Conversation.id > before)).all()
        session.execute(
            insert(Message),
            [
                {
                    "agency_id": world.a.id,
                    "conversation_id": cid,
                    "sender_id": world.margaret.id,
                    "body": "Hello",
                    "created_at": now,
                }
                for cid in ids
            ],
        )
        session.commit()


def bulk_messages(app, world, conversation, number):
    now = utcnow()
    senders = [world.margaret.id, world.staff_a.id, world.susan.id, world.robert.id]
    with in_app(app) as session:
        session.execute(
            insert(Message),
            [
                {
                    "agency_id": world.a.id,
                    "conversation_id": conversation.id,
                    "sender_id": senders[n % len(senders)],
                    "body": f"Message {n} https://example.org/{n}",
                    "created_at": now - timedelta(minutes=number - n),
                }
                for n in range(number)
            ],
        )
        session.commit()


def statements_for(app, client, path) -> int:
    with recorded_sql(app) as statements:
        response = client.get(path)
    assert response.status_code == 200
    return len(statements)


@pytest.mark.parametrize("number", [3, 60])
def test_the_inbox_costs_at_most_ten_queries(client, world, app, number):
    bulk_threads(app, world, number)
    login(client, "admin")
    assert statements_for(app, client, f"{INBOX}?show=all") <= 10
    assert statements_for(app, client, f"{INBOX}?q=bulk&page=2") <= 10


@pytest.mark.parametrize("number", [3, 60])
def test_a_thread_costs_at_most_ten_queries(client, make, world, app, number):
    conversation = make_thread(make, world.client_a, world.margaret, done_by=world.staff_a)
    bulk_messages(app, world, conversation, number)
    login(client, "admin")
    assert statements_for(app, client, thread_url(conversation.id)) <= 10


def test_the_inbox_and_a_thread_cost_the_same_for_3_or_60(client, make, world, app):
    small = make_thread(make, world.client_a, world.margaret, "Small")
    bulk_messages(app, world, small, 3)
    bulk_threads(app, world, 3)
    login(client, "admin")
    counts = (statements_for(app, client, INBOX), statements_for(app, client, thread_url(small.id)))
    big = make_thread(make, world.client_a, world.margaret, "Big")
    bulk_messages(app, world, big, 60)
    bulk_threads(app, world, 60)
    assert (statements_for(app, client, INBOX), statements_for(app, client, thread_url(big.id))) == counts


# --- review --------------------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_mark_done_does_not_bury_a_message_that_came_in_meanwhile(client, make, world, app, htmx):
    conversation = make_thread(make, world.client_a, world.margaret, "Keys")
    login(client, "admin")
    page = thread_url(conversation.id)
    token = client.csrf_token(page)  # the office has the thread open, everything read
    family_writes(app, conversation, world.susan, "Actually, the spare key is lost.")
    headers = {"HX-Request": "true", "X-CSRFToken": token} if htmx else {}
    data = {"done": "1"} if htmx else {"done": "1", "csrf_token": token}
    response = client.post(f"{page}/done", data=data, headers=headers)
    assert response.status_code == 409
    text = assert_fragment(response) if htmx else body(response)
    assert "A new message came in while this page was open." in text
    assert "the spare key is lost" in text
    stored = get_one(app, Conversation, id=conversation.id)
    assert stored.done_at is None and stored.office_read_at >= stored.last_message_at  # seen now
    # Read now: pressing the button again closes it.
    again = client.post(f"{page}/done", data=data, headers=headers)
    assert again.status_code in (200, 303)
    assert get_one(app, Conversation, id=conversation.id).done_at is not None


def test_pressing_mark_done_twice_changes_nothing_the_second_time(client, make, world, app, carol):
    conversation = make_thread(make, world.client_a, world.margaret, read=True)
    login(client, "admin")
    url = f"{thread_url(conversation.id)}/done"
    assert client.post_form(url, {"done": "1"}, token_from=thread_url(conversation.id)).status_code == 303
    other = app.test_client()
    login(other, "carolwhite")
    assert other.post_form(url, {"done": "1"}, token_from=INBOX).status_code == 303
    stored = get_one(app, Conversation, id=conversation.id)
    assert stored.done_by_id == world.staff_a.id
    with in_app(app) as session:
        done_events = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "conversation.done")
        )
    assert done_events == 1


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_every_inbox_post_needs_the_sessions_token(client, make, world, app, htmx):
    conversation = make_thread(make, world.client_a, world.margaret)
    other = app.test_client()
    login(other, "margaretjones")
    foreign = other.csrf_token("/messages/new")
    login(client, "admin")
    for path, data in (
        (thread_url(conversation.id), {"body": "Forged"}),
        (f"{thread_url(conversation.id)}/done", {"done": "1"}),
    ):
        for token in (None, foreign, "garbage"):
            sent = dict(data, csrf_token=token) if token and not htmx else dict(data)
            headers = {"HX-Request": "true"} if htmx else {}
            if token and htmx:
                headers["X-CSRFToken"] = token
            response = client.post(path, data=sent, headers=headers)
            assert response.status_code == 400, (path, token, response.status)
    assert count(app, Message) == 1
    assert get_one(app, Conversation, id=conversation.id).done_at is None


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/done"), ("PUT", ""), ("DELETE", ""), ("POST", "/../../messages"), ("PATCH", "/done")],
)
def test_inbox_addresses_answer_only_their_methods(client, make, world, method, path):
    conversation = make_thread(make, world.client_a, world.margaret)
    login(client, "admin")
    token = client.csrf_token(INBOX)
    url = INBOX if path.startswith("/..") else thread_url(conversation.id) + path
    response = client.open(url, method=method, data={"csrf_token": token}, headers={"X-CSRFToken": token})
    assert response.status_code == 405, response.status


@pytest.mark.parametrize("whom", ["other_agency", "portal_user", "inactive_staff", "no_address"])
def test_a_stored_recipient_who_cannot_hear_falls_back_to_the_office_address(client, make, world, app, whom):
    """The settings form refuses these; a recipient who changed since (left, moved agency, lost the
    address) or a row set by other means still never gets the office's mail."""
    recipient = {
        "other_agency": lambda: world.staff_b,
        "portal_user": lambda: world.susan,
        "inactive_staff": lambda: make.user(world.a, "oldstaff", role="staff", is_active=False),
        "no_address": lambda: make.user(world.a, "noaddress", role="staff", email=None),
    }[whom]()
    with in_app(app) as session:
        session.get(Agency, world.a.id).message_recipient_id = recipient.id
        session.commit()
    conversation = make_thread(make, world.client_a, world.margaret, read=True)
    family_writes(app, conversation, world.margaret)
    office = [m.to_address for m in mails(app) if "portal message" in m.subject]
    assert office == ["office@alpha.localhost"]


@pytest.mark.parametrize(
    "q",
    ["%" * 100, "\\" * 100, "_%\\'\"", "\u0130" * 100, "\ufffd", "a" * 100, "\U0001f642" * 50, "' OR 1=1 --"],
)
@pytest.mark.parametrize("show", ["open", "all"])
def test_any_search_within_the_limit_is_no_error(client, world, searchable, q, show):
    login(client, "admin")
    response = client.get(INBOX, query_string={"q": q, "show": show, "page": "2147483647"})
    assert response.status_code == 200
    assert client.get(INBOX, query_string={"q": q, "show": show}, htmx=True).status_code == 200


def test_the_search_echo_and_names_are_escaped(client, make, world, app):
    villain = make.user(world.a, "villain", name='<img src=x onerror=alert(1)> "Bob"')
    make.link(villain, world.client_a, "emergency_contact")
    make_thread(make, world.client_a, villain, '<script>alert("s")</script>', '<b>hi</b> https://x.org/"a')
    login(client, "admin")
    page = body(client.get(INBOX, query_string={"q": '"><svg onload=alert(1)>'}))
    assert "<svg" not in page and "&#34;&gt;&lt;svg onload=alert(1)&gt;" in page
    page = body(client.get(INBOX))
    assert "<img src=x" not in page and "<script>alert" not in page and "&lt;img src=x" in page
    thread_page = body(client.get(thread_url(get_one(app, Conversation).id)))
    assert (
        "<script>alert" not in thread_page
        and "<b>hi</b>" not in thread_page
        and "<img src=x" not in thread_page
    )
    assert (
        '<a href="https://x.org/" rel="noopener nofollow noreferrer">https://x.org/</a>&#34;a' in thread_page
    )
