"""The portal side of the request pipeline: who the signed-in portal user may see, and which client.

Portal blueprints call `guard_portal` in before_request, so every route they add is closed to
staff and loads the user's PortalAccess once. `selected_client(section)` is the one way a view
gets "the client this page is about": a client outside the user's reach, or whose section is
switched off for them, answers 404.
"""

from flask import abort, g, request, session
from flask_login import current_user

from app.auth.policies import MESSAGES, PortalAccess, conversation_criterion
from app.services.messages import unread_count
from app.web.access import is_public
from app.web.input_guard import parse_id
from app.web.tenancy import get_scoped_or_404


def guard_portal():
    if is_public(request.endpoint):
        return  # no user to guard (the calendar feed's secret URL is its own credential)
    if current_user.is_staff:
        abort(404)
    g.access = PortalAccess.for_user(current_user)


def guard_section(section: str):
    """before_request for a blueprint that is one section: no client allows it → 404."""
    if is_public(request.endpoint):
        return
    guard_portal()
    if not g.access.any_allows(section):
        abort(404)


def selected_client(section: str | None = None, *, allow_all: bool = False, rule=None):
    """The client chosen by ?client=, else the one chosen earlier, else the first allowed.

    With `rule(link)`, only the clients whose link the rule allows (e.g. `manages_access`).
    Returns None only when `allow_all` and the user asked for all clients (a payer's calendar).
    """
    access = g.access
    allowed = access.clients(section)
    if rule is not None:
        allowed = [client for client in allowed if rule(access.link(client.id))]
    if not allowed:
        abort(404)
    requested = request.args.get("client")
    if requested == "all" and allow_all:
        return None
    if requested is not None:
        client_id = parse_id(requested)
        if client_id is None or not any(c.id == client_id for c in allowed):
            abort(404)
        session["client_id"] = client_id
    else:
        client_id = session.get("client_id")
    for client in allowed:
        if client.id == client_id:
            return client
    return allowed[0]


def get_portal_or_404(model, object_id, section: str, rule=None, options=()):
    """One object of a client the user may see this section of (and, with `rule(link, obj)`, that
    the rule allows, e.g. `invoice_visible`), else 404 — whatever the reason."""
    client_ids = g.access.client_ids(section)
    obj = get_scoped_or_404(model, object_id, model.client_id.in_(client_ids), options=options)
    if rule is not None and not rule(g.access.link(obj.client_id), obj):
        abort(404)
    return obj


def unread_messages() -> int | None:
    """The signed-in portal user's unread messages, for the header badge and the dashboard: one
    statement, once per request. None when the user reads no messages (or is not a portal user)."""
    if "unread_messages" not in g:
        access = g.get("access")
        if access is None or not access.any_allows(MESSAGES):
            g.unread_messages = None
        else:
            criterion = conversation_criterion(current_user.id, access.client_ids(MESSAGES))
            g.unread_messages = unread_count(current_user.id, criterion)
    return g.unread_messages
