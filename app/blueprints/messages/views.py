"""The portal's messages: `/messages` (my threads, newest first, unread marked), `/messages/new`
(start one; the header's envelope opens it pre-filled from the agency's message template),
`/messages/<id>` (read and reply) and `/messages/unread-count` (the header's badge, polled).

Which threads a user reads is `policies.conversation_criterion` for lists and
`policies.conversation_visible` for one thread (through `get_portal_or_404`): a thread of a client
out of reach, or kept private by someone else, answers 404.
"""

from flask import abort, current_app, g, request, url_for
from flask_login import current_user

from app.auth.policies import (
    MESSAGES,
    conversation_criterion,
    conversation_visible,
    reachable_client_ids,
    starts_private,
)
from app.blueprints.messages import bp
from app.blueprints.messages.forms import NewMessageForm, ReplyForm
from app.i18n import _
from app.models import Conversation
from app.services import messages as service
from app.web.access import background
from app.web.htmx import done, is_partial_request, render_form, render_page
from app.web.input_guard import parse_id
from app.web.portal import get_portal_or_404, selected_client

PER_PAGE = 20


def _page() -> int:
    return parse_id(request.args.get("page", "1")) or 1


def _user():
    return current_user._get_current_object()


@bp.route("/messages")
def inbox():
    """Every thread the user reads, or with ?client= those about one client."""
    clients = g.access.clients(MESSAGES)
    shown = [selected_client(MESSAGES)] if "client" in request.args else clients
    page = _page()
    user = _user()
    total, threads = service.portal_threads(
        user, conversation_criterion(user.id, [c.id for c in shown]), page, PER_PAGE
    )
    if page > 1 and not threads:
        abort(404)
    return render_page(
        "messages/inbox.html",
        fragment="messages/_threads.html",
        threads=threads,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        clients=clients,
        client=shown[0] if len(shown) == 1 and len(clients) > 1 else None,
        several_clients=len(clients) > 1,
    )


@bp.route("/messages/new", methods=["GET", "POST"])
def new():
    client = selected_client(MESSAGES)
    clients = g.access.clients(MESSAGES)
    form = NewMessageForm()
    form.client.choices = [(c.id, c.display_name) for c in clients]
    if request.method == "GET":
        form.client.data = client.id
        form.body.data = g.agency.message_template or ""
        form.private.data = starts_private(g.access.link(client.id))
    if form.validate_on_submit():
        about = next(c for c in clients if c.id == form.client.data)
        conversation = service.start_conversation(
            g.agency,
            about,
            _user(),
            subject=form.subject.data,
            body=form.body.data,
            private=form.private.data,
        )
        return done(
            _("Your message was sent to the office. You will find the answer here."),
            url_for("messages.thread", conversation_id=conversation.id),
        )
    return render_form(
        "messages/new.html", fragment="messages/_new_form.html", form=form, several=len(clients) > 1
    )


@bp.route("/messages/<int:conversation_id>", methods=["GET", "POST"])
def thread(conversation_id):
    conversation = get_portal_or_404(Conversation, conversation_id, MESSAGES, conversation_visible)
    user = _user()
    form = ReplyForm()
    if form.validate_on_submit():
        service.post_message(g.agency, conversation, user, form.body.data)
        return done(
            _("Your reply was sent."),
            url_for("messages.thread", conversation_id=conversation.id, _anchor="latest"),
            fragment="messages/_thread.html",
            **_thread_context(conversation, ReplyForm(formdata=None)),
        )
    if request.method == "GET":
        service.mark_read(conversation, user)
    before = parse_id(request.args.get("before", "")) if request.method == "GET" else None
    return render_form(
        "messages/thread.html",
        fragment="messages/_thread.html",
        **_thread_context(conversation, form, before),
    )


def _thread_context(conversation: Conversation, form: ReplyForm, before: int | None = None) -> dict:
    messages, earlier = service.thread_messages(conversation, before)
    return {
        "conversation": conversation,
        "messages": messages,
        "earlier": earlier,
        "before": before,
        "readers": [user for user, _link in service.readers(conversation)],
        "form": form,
    }


@bp.route("/messages/unread-count")
@background
def unread_count():
    """The header badge: one statement (who may read which clients' threads, and how many of their
    messages are unread), and 304 when the answer is what the browser already has."""
    if current_user.is_staff:
        abort(404)
    allowed, count = service.unread_badge(current_user.id, reachable_client_ids(current_user.id, MESSAGES))
    if not allowed:
        if is_partial_request():
            # The office switched messages off (or the client left) while a page was open: the poll
            # takes the badge away and stops (htmx's 286), rather than swap an error page into the
            # header.
            return current_app.response_class("", status=286)
        abort(404)
    response = render_page("messages/_badge.html", unread=count)
    # The browser keeps it and asks again with If-None-Match; the answer is the same bytes or a 304.
    response.cache_control.private = True
    response.cache_control.no_cache = True
    response.add_etag()
    return response.make_conditional(request)
