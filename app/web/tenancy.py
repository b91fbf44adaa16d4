"""Tenancy in a request: the agency comes from the request host, and lookups are by id *and* agency.

Two locks. Views look objects up with `get_scoped_or_404`, which filters on id *and* agency.
Underneath, the tenancy net (app/tenancy.py) adds `agency_id = <current agency>` to every SELECT
that touches a tenant-owned table and fails closed when no agency is in scope.
"""

from flask import abort, current_app, g, request
from sqlalchemy import select
from werkzeug.exceptions import BadRequest

from app.extensions import db
from app.i18n import _l
from app.models import Agency
from app.tenancy import enter_agency, leave_agency
from app.web.input_guard import parse_id


def host_name() -> str:
    return (request.host or "").rsplit(":", 1)[0].lower().strip("[]")


class UnknownHost(BadRequest):
    user_message = _l("This address does not belong to any agency served here. Check the link.")


def resolve_agency() -> Agency | None:
    """The agency whose host this is; for the hosts the configuration names (DEFAULT_AGENCY_HOSTS,
    from TRUSTED_HOSTS), the default agency. Any other Host header is refused: nothing the sender
    of a request chooses may pick an agency for them."""
    host = host_name()
    agency = db.session.scalar(select(Agency).where(Agency.host == host))
    if agency is None and host in current_app.config["DEFAULT_AGENCY_HOSTS"]:
        agency = db.session.scalar(select(Agency).where(Agency.is_default.is_(True)))
    return agency


def enter_request_scope() -> None:
    g.agency = resolve_agency()
    if g.agency is None:
        raise UnknownHost()
    g.tenant_token = enter_agency(g.agency.id)


def leave_request_scope(_exc=None) -> None:
    token = g.pop("tenant_token", None)
    if token is not None:
        leave_agency(token)


def get_scoped_or_404(model, object_id, *criteria, options=()):
    """Load one tenant-owned object by id *and* agency (and any extra criteria), else 404; `options`
    load what the page needs with it."""
    object_id = parse_id(object_id)  # an id the database cannot hold is no object: no query
    if object_id is None:
        abort(404)
    obj = db.session.scalar(
        select(model)
        .where(model.id == object_id, model.agency_id == g.agency.id, *criteria)
        .options(*options)
    )
    if obj is None:
        abort(404)
    return obj


def get_child_or_404(parent, model, object_id, *criteria):
    """A row that belongs to `parent` (a line of an invoice, a message of a thread), by id, else 404.

    The parent was looked up through the user's reach (get_scoped_or_404 or get_portal_or_404);
    the child is found only through it, by the one foreign key from `model` to the parent's table.
    """
    keys = [fk.parent for fk in model.__table__.foreign_keys if fk.column.table is parent.__table__]
    if len(keys) != 1:
        raise TypeError(f"{model.__name__} has {len(keys)} foreign keys to {type(parent).__name__}")
    return get_scoped_or_404(model, object_id, keys[0] == parent.id, *criteria)
