"""Audit events: append-only and hash-chained, so a changed or deleted row breaks the chain.

The chain is keyed: each hash is an HMAC-SHA256 with AUDIT_KEY, which lives in the configuration
and not in the database, so someone who can write to the database cannot recompute the chain.

There is one chain per agency (and one for events of no agency), so agencies never wait on each
other. `record()` only queues the event on the session; a `before_commit` listener chains and
inserts the queued events as the transaction's last statements, so the chain's lock (a PostgreSQL
advisory lock keyed by agency; SQLite's single writer) is held for that insert and the commit,
not through the rest of the request. Every commit writes them, whoever commits (the request's
`after_request`, the CLI, the worker), and a rollback drops them with the rest of the transaction.
"""

import hashlib
import hmac
import json

from flask import current_app
from sqlalchemy import bindparam, event, select, text
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import AuditEvent, utcnow

GENESIS = "0" * 64
_CHAIN_LOCK = 7_471_001  # advisory-lock class for the audit chains; the agency id is the key
_QUEUE = "audit.queued"  # key in Session.info: [transaction, event] pairs this session will write
_ORIGIN = "audit.origin"  # key in Session.info: the address the request came from


# Built once, as every audited commit runs them: a chain's newest hash (by the (agency_id, id)
# index), and the chain locks.
_NEWEST_HASH = select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
_HEAD_OF_AGENCY = _NEWEST_HASH.where(AuditEvent.agency_id == bindparam("agency_id"))
_HEAD_OF_NO_AGENCY = _NEWEST_HASH.where(AuditEvent.agency_id.is_(None))
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:lock, :key)")
_SQLITE_LOCK = text("UPDATE audit_events SET id = id WHERE 0")


def canonical(event: AuditEvent) -> bytes:
    """The bytes the chain hash covers: the event's facts and the previous event's hash."""
    payload = {
        "prev": event.prev_hash,
        "agency": event.agency_id,
        "actor": event.actor_id,
        "action": event.action,
        "target": [event.target_type, event.target_id],
        "client": event.client_id,
        "ip": event.ip_address,
        "details": event.details,
        "at": event.created_at.isoformat(),
    }
    return json.dumps(payload, sort_keys=True, default=str).encode()


def _digest(event: AuditEvent) -> str:
    return hmac.new(current_app.config["AUDIT_KEY"].encode(), canonical(event), hashlib.sha256).hexdigest()


def note_origin(ip_address: str | None) -> None:
    """Name the address this session's events come from (the web layer calls it once a request)."""
    db.session.info[_ORIGIN] = ip_address


def record(action: str, *, actor, target=None, client_id=None, agency_id=None, **details) -> AuditEvent:
    """Queue one event (who, when, from where, what) to be written when the transaction commits.

    `actor` is always said, None for the system or someone not signed in; the agency is the actor's,
    else the target's, else `agency_id`. The returned event gets its id, `prev_hash` and `hash` at
    the commit."""
    if agency_id is None:
        owner = actor if actor is not None else target
        agency_id = getattr(owner, "agency_id", None)
    session = db.session()
    audit_event = AuditEvent(
        agency_id=agency_id,
        actor_id=actor.id if actor is not None else None,
        action=action,
        target_type=type(target).__name__ if target is not None else None,
        target_id=getattr(target, "id", None),
        client_id=client_id,
        ip_address=session.info.get(_ORIGIN),
        details=details,
        created_at=utcnow().replace(microsecond=0),
    )
    if not session.in_transaction():
        session.begin()  # the event belongs to a transaction, so a rollback drops it
    # Kept with the innermost transaction: rolling back a savepoint drops the events made in it.
    innermost = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_QUEUE, []).append([innermost, audit_event])
    return audit_event


@event.listens_for(Session, "before_commit")
def _write_queued_events(session: Session) -> None:
    if session.in_nested_transaction():
        # A savepoint's release: its events now stand or fall with the enclosing transaction.
        released = session.get_nested_transaction()
        for entry in session.info.get(_QUEUE, ()):
            if entry[0] is released:
                entry[0] = released.parent
        return
    queued = [audit_event for _transaction, audit_event in session.info.pop(_QUEUE, ())]
    if not queued:
        return
    session.flush()  # the transaction's own changes first: the chains are locked for the audit insert only
    _lock_chains(session, {e.agency_id for e in queued})
    heads: dict[int | None, str] = {}
    for audit_event in queued:
        chain = audit_event.agency_id
        if chain not in heads:
            head = _HEAD_OF_NO_AGENCY if chain is None else _HEAD_OF_AGENCY
            heads[chain] = session.scalar(head, {"agency_id": chain}) or GENESIS
        audit_event.prev_hash = heads[chain]
        audit_event.hash = heads[chain] = _digest(audit_event)
    session.add_all(queued)  # inserted in this order, so ids follow each chain
    session.flush()


@event.listens_for(Session, "after_transaction_end")
def _drop_unwritten_events(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_QUEUE, None)  # rolled back (a commit has written them already)
    elif queue := session.info.get(_QUEUE):
        # Events still kept with a savepoint that has ended were not released: it rolled back.
        queue[:] = [entry for entry in queue if entry[0] is not transaction]


def _lock_chains(session: Session, agency_ids: set[int | None]) -> None:
    """Hold the named chains until the commit, so two transactions never chain onto the same head."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # One order for every transaction, so two that write to several chains cannot deadlock.
        for key in sorted(agency_id or 0 for agency_id in agency_ids):
            session.execute(_PG_LOCK, {"lock": _CHAIN_LOCK, "key": key})
    elif dialect == "sqlite":
        # SQLite has one writer at a time; a write statement takes that lock before the heads are read.
        session.execute(_SQLITE_LOCK)


def chain_breaks(agency_id: int | None = None) -> dict[int | None, int]:
    """The first broken event of each chain (keyed by agency id, None for events of no agency);
    only that agency's chain when `agency_id` is given. Empty when every chain is intact."""
    query = select(AuditEvent).order_by(AuditEvent.id)
    if agency_id is not None:
        query = query.where(AuditEvent.agency_id == agency_id)
    heads: dict[int | None, str] = {}
    breaks: dict[int | None, int] = {}
    for audit_event in db.session.scalars(query).yield_per(1000):
        chain = audit_event.agency_id
        if chain in breaks:
            continue
        if audit_event.prev_hash != heads.get(chain, GENESIS) or _digest(audit_event) != audit_event.hash:
            breaks[chain] = audit_event.id
        else:
            heads[chain] = audit_event.hash
    return breaks


def verify_chain(agency_id: int | None = None) -> int | None:
    """The id of the first broken event (in that agency's chain, or in any chain), or None."""
    return min(chain_breaks(agency_id).values(), default=None)
