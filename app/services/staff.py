"""Staff accounts: change a staff member's role (owner or office staff) and remove one.

Adding a staff member is `accounts.create_person(..., role="staff")`. An agency always keeps at
least one active owner: demoting or removing the last one raises `LastOwner`, and the owners are
read FOR UPDATE so two owners demoting each other at once cannot both pass the check. Each
operation audits and flushes and never commits; who may act is `can_manage(actor, AREA_STAFF)`,
asked by the view.
"""

from app.extensions import db
from app.models import User
from app.models.statuses import Role
from app.services import audit
from app.services.accounts import LastOwner, end_all_sessions, keep_an_owner

__all__ = ["LastOwner", "remove_staff", "set_owner"]


def _check_staff(agency, user: User) -> None:
    if user.agency_id != agency.id or user.role != Role.STAFF:
        raise ValueError("not a staff member of this agency")


def set_owner(agency, actor, user: User, owner: bool) -> bool:
    """Make a staff member an owner or office staff; False when they were that already."""
    _check_staff(agency, user)
    if user.is_owner == owner:
        return False
    if not owner:
        keep_an_owner(agency, user)
    user.is_owner = owner  # every request asks can_manage afresh: no session needs to end
    db.session.flush()
    audit.record("staff.role_changed", actor=actor, target=user, role="owner" if owner else "office_staff")
    return True


def remove_staff(agency, actor, user: User) -> bool:
    """Deactivate a staff member's account and end every session; False when already removed."""
    _check_staff(agency, user)
    if not user.is_active:
        return False
    keep_an_owner(agency, user)
    user.is_active = False
    end_all_sessions(user)
    db.session.flush()
    audit.record("staff.removed", actor=actor, target=user)
    return True
