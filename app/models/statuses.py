"""The closed sets of values a row's status or role may take, as StrEnums.

A StrEnum member is its string ("completed" == VisitStatus.COMPLETED), so rows, templates and
query strings keep plain text, while code names the value once and a typo fails at import. Each
column carries a CHECK constraint built from the same enum (`allowed`), so the database refuses
anything else too.
"""

from enum import StrEnum

from sqlalchemy import CheckConstraint


class VisitStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    MISSED = "missed"


class TaskStatus(StrEnum):
    PLANNED = "planned"
    DONE = "done"
    REFUSED = "refused"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PAID = "paid"
    VOID = "void"


class RequestStatus(StrEnum):
    OPEN = "open"
    HANDLED = "handled"
    DECLINED = "declined"


class MailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class InvitationStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"  # the office reads it first (office settings)
    SENT = "sent"  # the one-time link is out
    ACCEPTED = "accepted"  # the invitee chose a login and password
    DECLINED = "declined"  # the office said no
    WITHDRAWN = "withdrawn"  # the client or representative took it back


class ConsentAction(StrEnum):
    INVITED = "invited"
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    GRANTED = "granted"  # an invitation accepted: the access exists
    REVOKED = "revoked"


class LinkPurpose(StrEnum):
    """What a queued "mail me a link" request asks for."""

    RESET = "reset"  # forgot password
    SIGN_IN = "sign_in"  # e-mail me a sign-in link


class Role(StrEnum):
    STAFF = "staff"
    PORTAL = "portal"


def allowed(column: str, enum: type[StrEnum]) -> CheckConstraint:
    """CHECK (<column> IN (...)), named ck_<table>_<column> by the naming convention."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=column)
