"""The office inbox: `/admin/messages`, the families' threads waiting for the office first; staff
read a thread (which marks it read for the whole office), answer it, and mark it done.

By-id lookups go through `get_scoped_or_404`, so another agency's thread id answers 404. Opening a
thread marks it read on purpose: that is what "the office has seen it" means, and it is what lets
the next family message mail the office again.
"""

from flask import g, request, url_for
from flask_login import current_user

from app.auth.policies import AREA_MESSAGES
from app.blueprints.admin import area, bp
from app.blueprints.admin.forms import InboxSearchForm, StaffReplyForm, ThreadDoneForm
from app.i18n import _
from app.models import Conversation
from app.services import messages as service
from app.web.htmx import done, render_form, render_page
from app.web.input_guard import parse_id
from app.web.tenancy import get_scoped_or_404

SHOWS = ("open", "done", "all")
PER_PAGE = 25


@bp.route("/messages")
@area(AREA_MESSAGES)
def messages():
    form = InboxSearchForm(formdata=request.args)
    show = request.args.get("show")
    show = show if show in SHOWS else "open"
    page = parse_id(request.args.get("page")) or 1
    valid = form.validate()
    q = (form.q.data or "").strip()
    if valid:
        total, threads = service.office_threads(g.agency, search=q, show=show, page=page, per_page=PER_PAGE)
    else:  # a search the box refuses (too long, a line break): say so beside it, search nothing
        total, threads = 0, []
    return render_page(
        "admin/messages.html",
        fragment="admin/_message_threads.html",
        status=200 if valid else 422,
        form=form,
        q=q,
        show=show,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        total=total,
        threads=threads,
        zone=g.agency.zone,
    )


def _thread_context(conversation: Conversation, form=None, done_form=None) -> dict:
    before = parse_id(request.args.get("before", "")) if request.method == "GET" else None
    thread, earlier = service.thread_messages(conversation, before)
    return {
        "conversation": conversation,
        "thread": thread,
        "earlier": earlier,
        "before": before,
        "form": form or StaffReplyForm(formdata=None),
        "done_form": done_form or ThreadDoneForm(formdata=None),
        "zone": g.agency.zone,
    }


@bp.route("/messages/<int:conversation_id>", methods=["GET", "POST"])
@area(AREA_MESSAGES)
def message_thread(conversation_id):
    conversation = get_scoped_or_404(Conversation, conversation_id)
    form = StaffReplyForm()
    if form.validate_on_submit():
        service.post_message(g.agency, conversation, current_user._get_current_object(), form.body.data)
        return done(
            _("Reply sent."),
            url_for("admin.message_thread", conversation_id=conversation.id),
            fragment="admin/_message_thread.html",
            **_thread_context(conversation),
        )
    if request.method == "GET":
        service.mark_office_read(conversation)
    return render_form(
        "admin/message_thread.html",
        fragment="admin/_message_thread.html",
        **_thread_context(conversation, form),
    )


@bp.route("/messages/<int:conversation_id>/done", methods=["POST"])
@area(AREA_MESSAGES)
def message_done(conversation_id):
    conversation = get_scoped_or_404(Conversation, conversation_id)
    form = ThreadDoneForm()
    if form.validate_on_submit():
        finished = form.done.data == "1"
        if finished and service.office_waiting(conversation):
            return _new_message_meanwhile(conversation, form)
        service.mark_done(conversation, current_user._get_current_object(), finished)
        return done(
            _("Conversation marked done.") if finished else _("Conversation reopened."),
            url_for("admin.message_thread", conversation_id=conversation.id),
            fragment="admin/_message_thread.html",
            **_thread_context(conversation),
        )
    return render_form(
        "admin/message_thread.html",
        fragment="admin/_message_thread.html",
        **_thread_context(conversation, done_form=form),
    )


def _new_message_meanwhile(conversation: Conversation, form: ThreadDoneForm):
    """The family wrote after this page was opened: marking it done now would file a message nobody
    in the office has seen under Done. Show the thread with it instead (409, the answer to a
    change made meanwhile); it is read now, so pressing Mark done again closes it."""
    service.mark_office_read(conversation)
    g.keep_changes = True
    form.done.errors.append(
        _("A new message came in while this page was open. Read it below, then mark the conversation done.")
    )
    return render_page(
        "admin/message_thread.html",
        fragment="admin/_message_thread.html",
        status=409,
        **_thread_context(conversation, done_form=form),
    )
