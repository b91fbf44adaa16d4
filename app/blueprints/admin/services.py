"""Account operations for the office: create people, send credentials, reset, lock.

They change rows, audit and queue mail; the request commits once.
"""

import re
import unicodedata

from flask import g
from sqlalchemy import func, select

from app.auth.passwords import hash_secret
from app.auth.tokens import make_token, spend_tokens
from app.extensions import db
from app.models import ClientLink, User
from app.models.user import new_stamp
from app.services import audit
from app.services.links import agency_url
from app.services.mail import queue_mail
from app.services.password_resets import send_reset_link


def login_name_for(first_name: str, last_name: str) -> str:
    """First + last name, lower case, letters and digits only; a digit appended on a clash."""
    raw = unicodedata.normalize("NFKD", f"{first_name}{last_name}").encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]", "", raw.lower()) or "user"
    taken = set(
        db.session.scalars(
            select(func.lower(User.username)).where(
                User.agency_id == g.agency.id, func.lower(User.username).like(f"{base}%")
            )
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


def create_person(*, first_name, last_name, email, phone, role, temporary_password=None) -> User:
    user = User(
        agency_id=g.agency.id,
        username=login_name_for(first_name, last_name),
        role=role,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=(email or "").strip() or None,
        phone=(phone or "").strip() or None,
        must_change_password=True,
    )
    if temporary_password:
        user.password_hash = hash_secret(temporary_password)
    db.session.add(user)
    db.session.flush()
    audit.record("account.created", target=user, username=user.username, role=role)
    return user


def link_to_client(user: User, client, relationship: str, **flags) -> ClientLink:
    link = ClientLink(
        agency_id=g.agency.id, user_id=user.id, client_id=client.id, relationship_kind=relationship, **flags
    )
    db.session.add(link)
    db.session.flush()
    audit.record("link.created", target=link, client_id=client.id, relationship=relationship, **flags)
    return link


def send_credentials(user: User) -> None:
    """Mail the login name and a one-time, 24-hour link to "choose your password"."""
    spend_tokens(user, "welcome")  # an earlier welcome link stops working; reset links live on
    link = agency_url(g.agency, "auth.welcome", token=make_token(user, "welcome"))
    queue_mail(user.email, "welcome", agency=g.agency, locale=user.language, user=user, link=link)
    audit.record("credentials.sent", target=user)


def set_temporary_password(user: User, password: str) -> None:
    user.password_hash = hash_secret(password)
    user.must_change_password = True
    user.session_stamp = new_stamp()
    user.failed_logins = 0
    user.locked_until = None
    spend_tokens(user)
    audit.record("password.temporary_set", target=user)


def send_reset_email(user: User) -> None:
    send_reset_link(g.agency, user)
    audit.record("password.reset_sent_by_staff", target=user)


def set_locked(user: User, locked: bool) -> None:
    user.is_locked = locked
    if locked:
        user.session_stamp = new_stamp()  # ends every session of the user now
    else:
        user.failed_logins = 0
        user.locked_until = None
    audit.record("account.locked" if locked else "account.unlocked", target=user)
