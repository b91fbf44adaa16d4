"""The agency's own settings, changed by its owner.

Operations take the agency and the acting owner, audit what changed, and never commit.
"""

import io
import re

from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.i18n import _, _l
from app.models import Agency, StoredFile, User
from app.models.statuses import Role
from app.services import audit, gateway_keys, storage
from app.services.profile import PictureRefused, prepare_picture

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


# --- the portal's address ------------------------------------------------------------------------

# A bare host name: dot-separated labels of a-z, 0-9 and inner hyphens, at most 253 characters.
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def host_problem(host: str) -> str | None:
    """Why `host` (already lower case and stripped) is not a bare host name, or None."""
    if "://" in host or host.startswith("//"):
        return _("Enter the address without http:// or https://, like portal.example.com.")
    if "/" in host or "?" in host or "#" in host:
        return _("Enter the address without a path, like portal.example.com.")
    if ":" in host or "[" in host:
        return _("Enter the address without a port number, like portal.example.com.")
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_HOST_LABEL.match(label) for label in labels):
        return _("Enter an address like portal.example.com: letters, digits, hyphens and dots only.")
    return None


def host_taken(agency: Agency, host: str, reserved=()) -> bool:
    """Another agency answers at `host` already, or it is one of the deployment's own default
    addresses (`reserved`, TRUSTED_HOSTS) and this is not the default agency."""
    if host in reserved and not agency.is_default:
        return True
    return db.session.scalar(select(Agency.id).where(Agency.host == host, Agency.id != agency.id)) is not None


def set_host(agency: Agency, actor, host: str | None) -> bool:
    """The portal's address (validated by the caller with host_problem/host_taken); False when unchanged."""
    host = (host or "").strip().lower() or None
    if agency.host == host:
        return False
    agency.host = host
    db.session.flush()
    audit.record("office_settings.changed", actor=actor, target=agency, fields=["host"])
    return True


# --- the logo -----------------------------------------------------------------------------------

LOGO_TYPES = ("image/png", "image/jpeg")
HEADER_LOGO_HEIGHT = 48  # px in the page header, never enlarged
NOT_A_LOGO = _l("Choose a logo in PNG or JPEG format.")
_LOGO_SIZES: dict[str, tuple[int, int]] = {}  # a logo's sha256 → its (width, height) in pixels
_LOGO_SIZES_KEPT = 256


def set_logo(agency: Agency, actor, data: bytes) -> StoredFile:
    """Re-encode the upload as the profile picture is (at most 512×512, no metadata) and make it
    the agency's logo; PictureRefused, and nothing stored, when it is not a PNG or JPEG we keep."""
    if storage.image_type(data[:64]) not in LOGO_TYPES:
        raise PictureRefused(NOT_A_LOGO)
    stored = storage.put(agency, prepare_picture(data), "image/jpeg")
    previous = storage.get(agency, agency.logo_file_id)
    agency.logo_file_id = stored.id
    db.session.flush()
    if previous is not None and previous.id != stored.id:
        storage.delete(previous)
    audit.record("office_settings.changed", actor=actor, target=agency, fields=["logo"])
    return stored


def remove_logo(agency: Agency, actor) -> bool:
    if agency.logo_file_id is None:
        return False
    previous = storage.get(agency, agency.logo_file_id)
    agency.logo_file_id = None
    db.session.flush()
    if previous is not None:
        storage.delete(previous)
    audit.record("office_settings.changed", actor=actor, target=agency, fields=["logo"])
    return True


def header_logo(agency: Agency | None) -> tuple[int, int] | None:
    """The (width, height) the page header shows the logo at, at most 48 px high; None without a
    logo or when it cannot be read. One short statement per page; the bytes are read once per
    process and logo (remembered by their hash, which a reused file id cannot fool)."""
    if agency is None or agency.logo_file_id is None:
        return None
    stored = storage.get(agency, agency.logo_file_id)
    if stored is None:
        return None
    size = _LOGO_SIZES.get(stored.sha256)
    if size is None:
        try:
            with Image.open(io.BytesIO(storage.read(stored)), formats=["JPEG", "PNG"]) as image:
                size = image.size
        except Exception:  # noqa: BLE001 - missing or damaged: the header shows the name alone
            return None
        while len(_LOGO_SIZES) >= _LOGO_SIZES_KEPT:
            _LOGO_SIZES.pop(next(iter(_LOGO_SIZES)), None)
        _LOGO_SIZES[stored.sha256] = size
    width, height = size
    if height > HEADER_LOGO_HEIGHT:
        width, height = max(1, round(width * HEADER_LOGO_HEIGHT / height)), HEADER_LOGO_HEIGHT
    return width, height
