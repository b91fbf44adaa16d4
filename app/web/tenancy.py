"""Tenancy: the agency comes from the request host, and every tenant-owned SELECT is scoped to it.

Two locks. Views look objects up with `get_scoped_or_404`, which filters on id *and* agency.
Underneath, a `do_orm_execute` listener adds `agency_id = <current agency>` to every SELECT that
touches a TenantScoped model, and refuses to run one when no agency is in scope (fail closed).
Code that really works across agencies (CLI, the outbox worker) says so with `all_agencies()`.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache

from flask import abort, current_app, g, request
from sqlalchemy import event, select
from sqlalchemy.orm import Session, with_loader_criteria
from sqlalchemy.sql.util import find_tables
from werkzeug.exceptions import BadRequest

from app.extensions import db
from app.models import Agency, TenantScoped
from app.web.i18n import _l
from app.web.input_guard import parse_id

ALL_AGENCIES = object()
_scope: ContextVar = ContextVar("tenant_scope", default=None)


class TenantScopeMissing(RuntimeError):
    """A tenant-owned table was queried with no agency in scope."""


@contextmanager
def agency_scope(agency_or_all):
    """Run the block scoped to one agency (or ALL_AGENCIES)."""
    value = agency_or_all if agency_or_all is ALL_AGENCIES else agency_or_all.id
    token = _scope.set(value)
    try:
        yield
    finally:
        _scope.reset(token)


def all_agencies():
    return agency_scope(ALL_AGENCIES)


def current_scope():
    return _scope.get()


@cache
def _tenant_tables() -> frozenset:
    return frozenset(
        mapper.local_table for mapper in db.Model.registry.mappers if issubclass(mapper.class_, TenantScoped)
    )


def _touches_tenant_table(state) -> bool:
    # The selected entities, and every table in the statement: a join to a tenant table or a
    # `select(func.count()).select_from(Client)` selects no tenant entity at all.
    if any(issubclass(mapper.class_, TenantScoped) for mapper in state.all_mappers):
        return True
    tables = find_tables(state.statement, include_joins=True, include_aliases=True)
    return not _tenant_tables().isdisjoint(tables)


@event.listens_for(Session, "do_orm_execute")
def _scope_tenant_selects(state):
    if not state.is_select or state.execution_options.get("skip_tenant_scope"):
        return
    if not _touches_tenant_table(state):
        return
    scope = _scope.get()
    if scope is ALL_AGENCIES:
        return
    if scope is None:
        raise TenantScopeMissing("query on a tenant-owned table with no agency in scope")
    state.statement = state.statement.options(
        with_loader_criteria(TenantScoped, lambda cls: cls.agency_id == scope, include_aliases=True)
    )


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
    g.tenant_token = _scope.set(g.agency.id)


def leave_request_scope(_exc=None) -> None:
    token = g.pop("tenant_token", None)
    if token is not None:
        _scope.reset(token)


def get_scoped_or_404(model, object_id, *criteria):
    """Load one tenant-owned object by id *and* agency (and any extra criteria), else 404."""
    object_id = parse_id(object_id)  # an id the database cannot hold is no object: no query
    if object_id is None:
        abort(404)
    obj = db.session.scalar(
        select(model).where(model.id == object_id, model.agency_id == g.agency.id, *criteria)
    )
    if obj is None:
        abort(404)
    return obj
