"""Audit events: append-only and hash-chained, so a changed or deleted row breaks the chain.

The chain is keyed: each hash is an HMAC-SHA256 with AUDIT_KEY, which lives in the configuration
and not in the database, so someone who can write to the database cannot recompute the chain.

`record()` adds the event to the current transaction; it never commits. On PostgreSQL an
advisory lock serialises writers so two requests cannot chain onto the same previous event
(the unique `hash` and `prev_hash` columns catch it anywhere else).
"""

import hashlib
import hmac
import json

from flask import current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditEvent, utcnow

GENESIS = "0" * 64
_CHAIN_LOCK = 7_471_001  # arbitrary advisory-lock key for the audit chain


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


def record(action: str, *, target=None, client_id=None, actor=None, agency_id=None, **details) -> AuditEvent:
    """Append one event: who, when, from where, what."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    if agency_id is None:
        agency_id = actor.agency_id if actor is not None else getattr(g.get("agency"), "id", None)
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    prev = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        agency_id=agency_id,
        actor_id=actor.id if actor is not None else None,
        action=action,
        target_type=type(target).__name__ if target is not None else None,
        target_id=getattr(target, "id", None),
        client_id=client_id,
        ip_address=request.remote_addr if has_request_context() else None,
        details=details,
        created_at=utcnow().replace(microsecond=0),
        prev_hash=prev or GENESIS,
    )
    event.hash = _digest(event)
    db.session.add(event)
    db.session.flush()
    return event


def verify_chain() -> int | None:
    """The id of the first event whose chain is broken, or None when the chain is intact."""
    prev = GENESIS
    for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        if event.prev_hash != prev or _digest(event) != event.hash:
            return event.id
        prev = event.hash
    return None
