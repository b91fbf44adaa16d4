"""Messages: threads about one client between the family and the office.

A portal user starts a thread (`start_conversation`) or writes in one (`post_message`); staff write
in any thread of their agency. Every new message tells, by mail through the outbox, whoever else
reads the thread — the family members who may see it, or the office — by their settings, once per
thread until they have read it, and never with the message text (no health information in mail).
Nothing here commits.
"""

from flask import current_app
from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.policies import MESSAGES, conversation_criterion, conversation_visible, link_criterion
from app.extensions import db
from app.models import (
    Agency,
    Client,
    ClientLink,
    Conversation,
    ConversationRead,
    InvoiceLine,
    Message,
    User,
    utcnow,
)
from app.models.statuses import Role
from app.services import agencies, audit
from app.services.links import AgencyHasNoAddress, agency_url
from app.services.mail import queue_mail

SUBJECT_MAX = 150
BODY_MAX = 5000


def start_conversation(
    agency: Agency,
    client: Client,
    starter: User,
    *,
    subject: str,
    body: str,
    private: bool,
    invoice_line: InvoiceLine | None = None,
) -> Conversation:
    """A new thread about `client` with its first message; the office hears of it. With
    `invoice_line`, the thread questions that line of one of the client's invoices."""
    now = utcnow()
    conversation = Conversation(
        agency_id=agency.id,
        client_id=client.id,
        subject=subject.strip(),
        started_by_id=starter.id,
        is_private=private,
        invoice_line_id=invoice_line.id if invoice_line is not None else None,
        created_at=now,
        last_message_at=now,
    )
    db.session.add(conversation)
    db.session.flush()
    audit.record(
        "conversation.started", actor=starter, target=conversation, client_id=client.id, private=private
    )
    post_message(agency, conversation, starter, body, at=now)
    return conversation


def post_message(agency: Agency, conversation: Conversation, sender: User, body: str, *, at=None) -> Message:
    """Add `body` to the thread as `sender` (a portal user who may read it, or staff) and tell the
    other side. A family message reopens a thread the office had marked done."""
    now = at or utcnow()
    message = Message(
        agency_id=agency.id,
        conversation_id=conversation.id,
        sender_id=sender.id,
        body=body.strip(),
        created_at=now,
    )
    db.session.add(message)
    conversation.last_message_at = now
    if sender.is_staff:
        conversation.office_read_at = now
    else:
        conversation.done_at = conversation.done_by_id = None
    db.session.flush()
    if not sender.is_staff:
        _mark_read(conversation, sender, now)
    audit.record("message.sent", actor=sender, target=message, client_id=conversation.client_id)
    _notify_readers(agency, conversation, sender, now)
    if not sender.is_staff:
        _notify_office(agency, conversation, sender, now)
    return message


def mark_read(conversation: Conversation, reader: User) -> None:
    """The portal user has seen every message of the thread so far."""
    _mark_read(conversation, reader, utcnow())


def mark_office_read(conversation: Conversation) -> None:
    conversation.office_read_at = utcnow()
    db.session.flush()


def office_waiting(conversation: Conversation) -> bool:
    """Has the family written since anyone in the office last opened the thread?"""
    return conversation.office_read_at is None or conversation.office_read_at < conversation.last_message_at


def mark_done(conversation: Conversation, staff: User, done: bool = True) -> None:
    """The office has dealt with the thread (or takes it up again). Pressing the same button twice
    (a double click, a second tab) changes nothing the second time."""
    if (conversation.done_at is not None) == done:
        return
    conversation.done_at = utcnow() if done else None
    conversation.done_by_id = staff.id if done else None
    db.session.flush()
    audit.record(
        "conversation.done" if done else "conversation.reopened",
        actor=staff,
        target=conversation,
        client_id=conversation.client_id,
    )


# Read marks are written with one INSERT … ON CONFLICT statement (PostgreSQL and SQLite), never a
# look and then a write: two requests writing the first mark of one reader at once (two tabs, the
# office's reply as the reader opens the thread) would otherwise clash on the unique
# (conversation, user) pair and lose the second request's work to a 409.
_UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_READS = ConversationRead.__table__


def _upsert_reads(rows: list[dict]):
    return _UPSERTS[db.session.get_bind().dialect.name](_READS).values(rows)


def _mark_read(conversation: Conversation, user: User, when) -> None:
    """Read up to `when`; a mark only moves forward (an older request finishing last keeps it)."""
    insert = _upsert_reads(
        [
            {
                "agency_id": conversation.agency_id,
                "conversation_id": conversation.id,
                "user_id": user.id,
                "last_read_at": when,
            }
        ]
    )
    db.session.execute(
        insert.on_conflict_do_update(
            index_elements=[_READS.c.conversation_id, _READS.c.user_id],
            set_={"last_read_at": insert.excluded.last_read_at},
            where=or_(_READS.c.last_read_at.is_(None), _READS.c.last_read_at < insert.excluded.last_read_at),
        )
    )


def _told_since_read(notified_at, read_at) -> bool:
    return notified_at is not None and (read_at is None or read_at < notified_at)


def _one_line(text: str | None) -> str:
    """A name for a mail subject: every run of white space (line breaks included) one space.
    Forms keep names on one line; this holds for a name stored by any other means too."""
    return " ".join((text or "").split())


def readers(conversation: Conversation) -> list[tuple[User, ClientLink]]:
    """The portal users who may read this thread now, with their link to its client, by name: the
    thread's client is active, their account is active and not locked, their link opens messages
    and `conversation_visible` lets them in."""
    links = db.session.scalars(
        select(ClientLink)
        .join(User, User.id == ClientLink.user_id)
        .join(Client, Client.id == ClientLink.client_id)
        .where(
            ClientLink.client_id == conversation.client_id,
            Client.is_active.is_(True),
            User.agency_id == conversation.agency_id,
            User.is_active.is_(True),
            User.is_locked.is_(False),
            User.role == Role.PORTAL,
            link_criterion(MESSAGES),
        )
        .options(contains_eager(ClientLink.user))
        .order_by(func.coalesce(User.organisation_name, User.last_name), User.first_name, User.id)
    ).all()
    return [(link.user, link) for link in links if conversation_visible(link, conversation)]


def _notify_readers(agency: Agency, conversation: Conversation, sender: User, now) -> None:
    """Mail each other reader who wants it, unless they were told of this thread and have not read
    it since. The decision and the mark are one statement, so two messages at once tell them once."""
    others = [user for user, _link in readers(conversation) if user.id != sender.id]
    wanting = {user.id: user for user in others if user.notify_messages and user.email}
    if not wanting:
        return
    link = _link(agency, "messages.thread", conversation_id=conversation.id)
    if link is None:
        return
    insert = _upsert_reads(
        [
            {
                "agency_id": agency.id,
                "conversation_id": conversation.id,
                "user_id": user_id,
                "notified_at": now,
            }
            for user_id in wanting
        ]
    )
    told = set(
        db.session.scalars(
            insert.on_conflict_do_update(
                index_elements=[_READS.c.conversation_id, _READS.c.user_id],
                set_={"notified_at": insert.excluded.notified_at},
                # Not told yet, or read since they were told (the negation of _told_since_read).
                where=or_(
                    _READS.c.notified_at.is_(None),
                    and_(_READS.c.last_read_at.is_not(None), _READS.c.last_read_at >= _READS.c.notified_at),
                ),
            ).returning(_READS.c.user_id)
        )
    )
    for user_id, user in wanting.items():
        if user_id not in told:
            continue  # told already; told again once they have read the thread
        queue_mail(
            user.email,
            "new_message",
            agency=agency,
            locale=user.language,
            agency_name=_one_line(agency.name),
            link=link,
        )


def office_recipient(agency: Agency) -> tuple[str | None, str | None]:
    """Who in the office hears of new messages (and of invitations waiting)."""
    return agencies.office_recipient(agency, agency.message_recipient_id)


def _notify_office(agency: Agency, conversation: Conversation, sender: User, now) -> None:
    if _told_since_read(conversation.office_notified_at, conversation.office_read_at):
        return
    address, language = office_recipient(agency)
    if not address:
        current_app.logger.warning("agency %s has no address for portal messages", agency.slug)
        return
    link = _link(agency, "admin.message_thread", conversation_id=conversation.id)
    if link is None:
        return
    # Checked again in the UPDATE itself: a family message sent at the same moment may have told
    # the office since this request loaded the thread.
    told = db.session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation.id,
            Conversation.agency_id == agency.id,
            or_(
                Conversation.office_notified_at.is_(None),
                and_(
                    Conversation.office_read_at.is_not(None),
                    Conversation.office_read_at >= Conversation.office_notified_at,
                ),
            ),
        )
        .values(office_notified_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not told:
        return
    set_committed_value(conversation, "office_notified_at", now)
    queue_mail(
        address,
        "new_message_office",
        agency=agency,
        locale=language,
        sender_name=_one_line(sender.display_name),
        agency_name=_one_line(agency.name),
        link=link,
    )


def _link(agency: Agency, endpoint: str, **values) -> str | None:
    try:
        return agency_url(agency, endpoint, **values)
    except AgencyHasNoAddress:
        # The message is kept and shows in the portal; only the mail about it cannot name a link.
        current_app.logger.error("agency %s has no host: message mail not sent", agency.slug)
        return None


# --- queries -------------------------------------------------------------------------------------

# All the rows a query matches, counted before its LIMIT: the count and one page in one query.
_TOTAL = func.count().over().label("total")


def _last_read(user_id):
    """When `user_id` last read the thread of the message row at hand. Correlated to the message
    (not the thread), so it stays one row per message whatever the enclosing query."""
    return (
        select(ConversationRead.last_read_at)
        .where(
            ConversationRead.conversation_id == Message.conversation_id, ConversationRead.user_id == user_id
        )
        .scalar_subquery()
    )


def _unread_by(user_id):
    """Per thread: how many messages someone else wrote after `user_id` last read it."""
    read = _last_read(user_id)
    return (
        select(func.count(Message.id))
        .where(
            Message.conversation_id == Conversation.id,
            Message.sender_id != user_id,
            or_(read.is_(None), Message.created_at > read),
        )
        .scalar_subquery()
    )


def portal_threads(user: User, criterion, page: int, per_page: int = 20):
    """One page of the threads `criterion` allows, newest first: (total, [(thread, unread)])."""
    unread = _unread_by(user.id).label("unread")
    rows = db.session.execute(
        select(Conversation, unread, _TOTAL)
        .join(Client, Client.id == Conversation.client_id)
        .where(criterion)
        .options(contains_eager(Conversation.client))
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return (rows[0].total if rows else 0), [(row.Conversation, row.unread) for row in rows]


def unread_count(user_id, criterion) -> int:
    """How many messages in the threads `criterion` allows are unread by this user: one statement."""
    return db.session.scalar(_unread_count(user_id, criterion))


def unread_badge(user_id, reachable) -> tuple[bool, int]:
    """For the polled badge, in one statement: does the user read any client's messages (the ids in
    the `reachable` select), and how many of theirs are unread."""
    count = _unread_count(user_id, conversation_criterion(user_id, reachable)).scalar_subquery()
    allowed, unread = db.session.execute(select(reachable.exists(), count)).one()
    return bool(allowed), unread


def _unread_count(user_id, criterion):
    read = _last_read(user_id)
    return (
        select(func.count(Message.id))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(criterion, Message.sender_id != user_id, or_(read.is_(None), Message.created_at > read))
    )


THREAD_PAGE = 30


def thread_messages(conversation: Conversation, before: int | None = None, limit: int = THREAD_PAGE):
    """The thread's latest `limit` messages (or the `limit` written before message id `before`),
    oldest first, with their senders, and whether earlier ones exist: a long thread is read a page
    at a time, so the page stays small on a phone."""
    query = (
        select(Message)
        .join(User, User.id == Message.sender_id)
        .where(Message.conversation_id == conversation.id)
        .options(contains_eager(Message.sender))
        .order_by(Message.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(Message.id < before)
    newest = db.session.scalars(query).all()
    return newest[:limit][::-1], len(newest) > limit


def office_threads(
    agency: Agency, *, search: str = "", show: str = "open", page: int = 1, per_page: int = 25
):
    """The office inbox: threads waiting for the office first (a family message it has not read),
    then the rest, newest first; `show` is "open", "done" or "all"; `search` matches the client's
    name, the subject or a message. (total, [(thread, waiting)])."""
    waiting = case(
        (
            or_(
                Conversation.office_read_at.is_(None),
                Conversation.office_read_at < Conversation.last_message_at,
            ),
            1,
        ),
        else_=0,
    ).label("waiting")
    criteria = [Conversation.agency_id == agency.id]
    if show == "open":
        criteria.append(Conversation.done_at.is_(None))
    elif show == "done":
        criteria.append(Conversation.done_at.is_not(None))
    if search:
        pattern = f"%{_escape_like(search.lower())}%"
        in_messages = (
            select(Message.id)
            .where(
                Message.conversation_id == Conversation.id,
                func.lower(Message.body).like(pattern, escape="\\"),
            )
            .exists()
        )
        criteria.append(
            or_(
                func.lower(Client.first_name + " " + Client.last_name).like(pattern, escape="\\"),
                func.lower(Conversation.subject).like(pattern, escape="\\"),
                in_messages,
            )
        )
    rows = db.session.execute(
        select(Conversation, waiting, _TOTAL)
        .join(Client, Client.id == Conversation.client_id)
        .join(User, User.id == Conversation.started_by_id)
        .where(and_(*criteria))
        .options(contains_eager(Conversation.client), contains_eager(Conversation.started_by))
        .order_by(waiting.desc(), Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return (rows[0].total if rows else 0), [(row.Conversation, bool(row.waiting)) for row in rows]


def office_waiting_criterion(agency: Agency):
    """SQL: an open thread with a family message the office has not read (`office_waiting`'s twin)."""
    return and_(
        Conversation.agency_id == agency.id,
        Conversation.done_at.is_(None),
        or_(
            Conversation.office_read_at.is_(None),
            Conversation.office_read_at < Conversation.last_message_at,
        ),
    )


def office_waiting_count(agency: Agency) -> int:
    """Open threads with a family message the office has not read (the inbox's count)."""
    return db.session.scalar(select(func.count(Conversation.id)).where(office_waiting_criterion(agency)))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
