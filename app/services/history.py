"""The history of changes of one record (a client, a person, a caregiver), read from the audit log.

Every admin change is audited with the record as its target, so the history is those events,
newest first, said in plain words: when, who, what, and which fields changed (names only: the
log never keeps the values of contact details).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.i18n import _l
from app.models import AuditEvent, Client, User

HISTORY_LIMIT = 50

ACTION_LABELS = {
    "client.created": _l("Client added"),
    "client.updated": _l("Details changed"),
    "client.deactivated": _l("Client deactivated"),
    "client.reactivated": _l("Client reactivated"),
    "account.created": _l("Account created"),
    "account.updated": _l("Details changed"),
    "account.deactivated": _l("Account deactivated"),
    "account.reactivated": _l("Account reactivated"),
    "account.locked": _l("Account locked"),
    "account.unlocked": _l("Account unlocked"),
    "account.sessions_ended": _l("Every session ended by the office"),
    "credentials.sent": _l("Portal credentials sent"),
    "password.temporary_set": _l("Temporary password set"),
    "password.reset_sent_by_staff": _l("Password reset e-mail sent"),
    "caregiver.created": _l("Caregiver added"),
    "caregiver.updated": _l("Details changed"),
    "caregiver.deactivated": _l("Caregiver deactivated"),
    "caregiver.reactivated": _l("Caregiver reactivated"),
    "caregiver.photo_changed": _l("Photo changed"),
}

# The events about a client's links, shown in the client's history.
ACCESS_ACTIONS = ("link.created", "link.access_changed", "link.revoked", "client_link.document_categories")
ACTION_LABELS.update(
    {
        "link.created": _l("Portal access given"),
        "link.access_changed": _l("What a person sees changed"),
        "link.revoked": _l("Portal access ended"),
        "client_link.document_categories": _l("Document categories shown changed"),
    }
)

FIELD_LABELS = {
    "first_name": _l("first name"),
    "last_name": _l("last name"),
    "organisation_name": _l("organisation"),
    "email": _l("e-mail"),
    "phone": _l("phone"),
    "address": _l("address"),
    "external_id": _l("id in the other software"),
    "bio": _l("short bio"),
    "languages": _l("languages"),
}


@dataclass
class HistoryRow:
    at: datetime
    who: str | None  # None: the system (an import, the demo)
    what: str
    fields: list[str]


def audit_history(agency, target, limit: int = HISTORY_LIMIT) -> list[HistoryRow]:
    """The newest `limit` audited changes of `target`, in one statement (the actor joined in)."""
    actor = aliased(User)
    about = and_(AuditEvent.target_type == type(target).__name__, AuditEvent.target_id == target.id)
    if isinstance(target, Client):  # who was given or lost access is the client's history too
        about = or_(about, and_(AuditEvent.client_id == target.id, AuditEvent.action.in_(ACCESS_ACTIONS)))
    rows = db.session.execute(
        select(AuditEvent, actor)
        .outerjoin(actor, actor.id == AuditEvent.actor_id)
        .where(AuditEvent.agency_id == agency.id, about)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    ).all()
    history = []
    for event, who in rows:
        label = ACTION_LABELS.get(event.action)
        changed = (event.details or {}).get("changed") or []
        history.append(
            HistoryRow(
                at=event.created_at,
                who=who.display_name if who is not None else None,
                what=str(label) if label else event.action,
                fields=[str(FIELD_LABELS.get(name, name)) for name in changed if isinstance(name, str)],
            )
        )
    return history
