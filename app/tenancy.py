"""The tenancy net: every SELECT that touches a tenant-owned table is scoped to one agency.

A `do_orm_execute` listener adds `agency_id = <agency in scope>` to every SELECT that touches a
TenantScoped model, and refuses to run one when no agency is in scope (fail closed). The request
pipeline (app/web/tenancy.py) puts the host's agency in scope; code that really works across
agencies (CLI, the outbox worker, the demo) says so with `all_agencies()`. It sits below the
services and the web layer, which both use it.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache

from sqlalchemy import event
from sqlalchemy.orm import Session, with_loader_criteria
from sqlalchemy.sql.util import find_tables

from app.extensions import db
from app.models import TenantScoped

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


def enter_agency(agency_id: int):
    """Put one agency in scope until `leave_agency(token)`; for a request's whole life."""
    return _scope.set(agency_id)


def leave_agency(token) -> None:
    _scope.reset(token)
