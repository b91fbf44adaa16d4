"""Server-revocable sessions on top of Flask's signed cookie.

The cookie holds "<user id>:<session stamp>". Rotating the user's stamp (sign-out, password change,
lock) makes every cookie of that user stale at once. A user is loaded only on their own agency's
host (a user of one agency is never signed in on another's). The rules applied on each request —
lifetime, idle time-out, forced password change — are in app/web/access.py.
"""

from flask import flash, g, session
from flask_babel import refresh as refresh_locale
from flask_login import login_user, logout_user
from sqlalchemy import select

from app.extensions import db, login_manager
from app.models import User, utcnow

TWO_STEP_WINDOW_SECONDS = 300  # time between the password and the code


@login_manager.user_loader
def load_user(session_id: str):
    user_id, _, stamp = (session_id or "").partition(":")
    if not user_id.isdigit() or g.get("agency") is None:
        return None
    user = db.session.scalar(select(User).where(User.id == int(user_id), User.agency_id == g.agency.id))
    if user is None or user.session_stamp != stamp or not user.is_active or user.is_locked:
        return None
    return user


def start_session(user: User) -> None:
    """Sign in afresh: a new session, so nothing from before the sign-in carries over."""
    session.clear()
    session.permanent = True
    login_user(user)
    now = utcnow().timestamp()
    session["signed_in_at"] = now
    session["seen_at"] = now
    refresh_locale()  # from here on the page speaks the user's language, not the browser's


def begin_two_step(user: User, next_url: str | None) -> None:
    """The password was right; remember who is signing in until the code is given."""
    session.clear()
    session["two_step"] = {"user": user.get_id(), "at": utcnow().timestamp(), "next": next_url}


def pending_two_step_user() -> tuple[User | None, str | None]:
    pending = session.get("two_step")
    if not pending or utcnow().timestamp() - pending.get("at", 0) > TWO_STEP_WINDOW_SECONDS:
        return None, None
    return load_user(pending.get("user", "")), pending.get("next")


def end_session(reason: str | None = None) -> None:
    logout_user()
    session.clear()
    if reason:
        flash(reason, "info")
