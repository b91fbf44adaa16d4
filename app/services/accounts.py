"""Accounts: create a person, link them to a client, send credentials, set a temporary password,
send a reset mail, lock and unlock, end every session.

Each operation takes the agency and the acting person explicitly, changes rows, audits and queues
mail; none commits (the request commits once) and none reads the request. Who may do which to
whom is the access policy's (`can_act_on`), asked by the view before calling.
"""

import re
import unicodedata

from sqlalchemy import func, or_, select

from app.auth.passwords import hash_secret
from app.auth.tokens import make_token, spend_tokens
from app.extensions import db
from app.models import ClientLink, User, utcnow
from app.models.statuses import Role
from app.models.user import new_stamp
from app.services import audit
from app.services.links import agency_url
from app.services.mail import queue_mail
from app.services.password_resets import send_reset_link


class LastOwner(Exception):
    """The change would leave the agency without an active owner."""


def active_owner_ids(agency) -> list[int]:
    """The agency's active owners, locked until the transaction ends (PostgreSQL), so two owners
    removing each other at once cannot both pass `keep_an_owner`."""
    return list(
        db.session.scalars(
            select(User.id)
            .where(
                User.agency_id == agency.id,
                User.role == Role.STAFF,
                User.is_owner.is_(True),
                User.is_active.is_(True),
                User.is_locked.is_(False),
            )
            .order_by(User.id)
            .with_for_update()
        )
    )


def keep_an_owner(agency, user: User) -> None:
    """Refuse (LastOwner) to demote, remove, deactivate or lock the agency's last active owner."""
    if user.role == Role.STAFF and user.is_owner and user.is_active and not user.is_locked:
        if active_owner_ids(agency) == [user.id]:
            raise LastOwner()


def search_criterion(query: str):
    """People whose name (either order), organisation, login name or e-mail contains `query`."""
    pattern = f"%{query}%"
    return or_(
        User.first_name.ilike(pattern),
        User.last_name.ilike(pattern),
        (User.first_name + " " + User.last_name).ilike(pattern),
        User.organisation_name.ilike(pattern),
        User.username.ilike(pattern),
        User.email.ilike(pattern),
    )


def login_name_for(agency, first_name: str, last_name: str) -> str:
    """First + last name, lower case, letters and digits only; a digit appended on a clash."""
    raw = unicodedata.normalize("NFKD", f"{first_name}{last_name}").encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]", "", raw.lower()) or "user"
    taken = set(
        db.session.scalars(
            select(func.lower(User.username)).where(
                User.agency_id == agency.id, func.lower(User.username).like(f"{base}%")
            )
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


def create_person(
    agency,
    actor,
    *,
    first_name,
    last_name,
    email,
    phone,
    role,
    temporary_password=None,
    username=None,
    organisation_name=None,
) -> User:
    """A new account; an address the office enters counts as confirmed (the office knows it), as
    does one an invitation link reached. `username`: a login name the person chose themselves
    (checked free by the caller), else one made from the name."""
    email = (email or "").strip() or None
    user = User(
        agency_id=agency.id,
        username=(username or "").strip().lower() or login_name_for(agency, first_name, last_name),
        role=role,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email,
        email_confirmed_at=utcnow() if email else None,
        phone=(phone or "").strip() or None,
        organisation_name=(organisation_name or "").strip() or None,
        must_change_password=True,
    )
    if temporary_password:
        user.password_hash = hash_secret(temporary_password)
    db.session.add(user)
    db.session.flush()
    audit.record("account.created", actor=actor, target=user, username=user.username, role=role)
    return user


def link_to_client(agency, actor, user: User, client, relationship: str, **flags) -> ClientLink:
    link = ClientLink(
        agency_id=agency.id, user_id=user.id, client_id=client.id, relationship_kind=relationship, **flags
    )
    db.session.add(link)
    db.session.flush()
    audit.record(
        "link.created", actor=actor, target=link, client_id=client.id, relationship=relationship, **flags
    )
    return link


def send_credentials(agency, actor, user: User) -> None:
    """Mail the login name and a one-time, 24-hour link to "choose your password"."""
    spend_tokens(user, "welcome")  # an earlier welcome link stops working; reset links live on
    link = agency_url(agency, "auth.welcome", token=make_token(user, "welcome"))
    queue_mail(user.email, "welcome", agency=agency, locale=user.language, user=user, link=link)
    audit.record("credentials.sent", actor=actor, target=user)


def set_temporary_password(agency, actor, user: User, password: str) -> None:
    user.password_hash = hash_secret(password)
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    end_all_sessions(user)
    spend_tokens(user)
    audit.record("password.temporary_set", actor=actor, target=user)


def send_reset_email(agency, actor, user: User) -> None:
    send_reset_link(agency, user)
    audit.record("password.reset_sent_by_staff", actor=actor, target=user)


def set_locked(agency, actor, user: User, locked: bool) -> None:
    if locked:
        keep_an_owner(agency, user)
    user.is_locked = locked
    if locked:
        end_all_sessions(user)
    else:
        user.failed_logins = 0
        user.locked_until = None
    audit.record("account.locked" if locked else "account.unlocked", actor=actor, target=user)


def end_all_sessions(user: User) -> None:
    """Every signed-in browser of this user is signed out at its next request (the stamp rotates)."""
    user.session_stamp = new_stamp()


PERSON_DETAILS = ("first_name", "last_name", "organisation_name", "email", "phone")


def update_person(agency, actor, user: User, **values) -> list[str]:
    """Set a person's details (PERSON_DETAILS); an address the office enters counts as confirmed.
    Audits the names of the changed fields, never their values. Returns them."""
    if user.agency_id != agency.id:
        raise ValueError("a person of another agency")
    changed = []
    for name, value in values.items():
        if name not in PERSON_DETAILS:
            raise TypeError(f"not a person detail: {name}")
        value = (value or "").strip() or None
        if name in ("first_name", "last_name") and value is None:
            raise ValueError(f"{name} is required")
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    if "email" in changed:
        user.email_confirmed_at = utcnow() if user.email else None
        user.pending_email = None
        spend_tokens(user)  # links mailed to the old (perhaps mistyped) address stop working
    if changed:
        db.session.flush()
        audit.record("account.updated", actor=actor, target=user, changed=changed)
    return changed


def set_active(agency, actor, user: User, active: bool) -> None:
    """Deactivate (every session ends, no sign-in, no link works) or reactivate an account."""
    if user.agency_id != agency.id or user.is_active == active:
        return
    if not active:
        keep_an_owner(agency, user)
    user.is_active = active
    if not active:
        end_all_sessions(user)
        spend_tokens(user)
    audit.record("account.reactivated" if active else "account.deactivated", actor=actor, target=user)


def end_sessions(agency, actor, user: User) -> None:
    """The office signs a person out of every browser (a lost phone, a shared computer)."""
    end_all_sessions(user)
    audit.record("account.sessions_ended", actor=actor, target=user)
