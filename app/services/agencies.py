"""The agency's own settings, changed by its owner.

Operations take the agency and the acting owner, audit what changed, and never commit.
"""

from sqlalchemy import select

from app.extensions import db
from app.models import Agency, User
from app.models.statuses import Role
from app.services import audit, gateway_keys

# The office settings an owner edits, in the order of the form.
OFFICE_SETTINGS = (
    "name",
    "contact_email",
    "contact_phone",
    "address",
    "time_zone",
    "schedule_request_recipient_id",
    "message_recipient_id",
    "schedule_request_horizon_days",
    "message_template",
    "session_idle_minutes",
    "security_questions_enabled",
    "staff_two_factor_required",
    "email_sign_in_enabled",
    "invitations_need_approval",
    "payment_gateway",
)
REQUIRED_TEXT = ("name", "time_zone", "payment_gateway")  # kept as typed; other empty text becomes NULL


# The agency's own gateway keys: the name in the form and the column holding it sealed.
GATEWAY_KEYS = {
    "stripe_secret_key": "stripe_secret_key_encrypted",
    "stripe_webhook_secret": "stripe_webhook_secret_encrypted",
}


def update_office_settings(agency, actor, values: dict, keys: dict | None = None) -> list[str]:
    """Apply the submitted settings; the names of those that changed (audited when any did).

    `keys` maps a GATEWAY_KEYS name to a new key (sealed here), to "" to remove the stored one, or
    to None to keep it. The audit names a key that changed, never its value."""
    changed = []
    for name, new_key in (keys or {}).items():
        column = GATEWAY_KEYS[name]
        stored = getattr(agency, column)
        if new_key is None or (new_key == "" and stored is None):
            continue  # kept, or nothing to remove
        if new_key and gateway_keys.unseal_or_none(stored) == new_key:
            continue  # the same key again
        setattr(agency, column, gateway_keys.seal(new_key) if new_key else None)
        changed.append(name)
    for name in OFFICE_SETTINGS:
        value = values[name]
        if name in ("schedule_request_recipient_id", "message_recipient_id"):
            value = value or None  # 0 in the form: the office e-mail address
        if isinstance(value, str):
            value = value.strip() or (value if name in REQUIRED_TEXT else None)
        if getattr(agency, name) != value:
            changed.append(name)
            setattr(agency, name, value)
    if changed:
        audit.record("office_settings.changed", actor=actor, target=agency, fields=sorted(changed))
    return changed


def office_recipient(agency: Agency, staff_id: int | None) -> tuple[str | None, str | None]:
    """Who in the office hears of something by mail: the staff member chosen in office settings
    (`staff_id`, when they are active staff of this agency with an address), else the office
    address. The address and its reader's language (None: not known)."""
    if staff_id:
        staff = db.session.scalar(
            select(User).where(
                User.id == staff_id,
                User.agency_id == agency.id,
                User.role == Role.STAFF,
                User.is_active.is_(True),
            )
        )
        if staff is not None and staff.email:
            return staff.email, staff.language
    return agency.contact_email, None
