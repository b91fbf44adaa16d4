"""Server-revocable sessions on top of Flask's signed cookie.

The cookie holds "<user id>:<session stamp>". Rotating the user's stamp (sign-out, password change,
lock) makes every cookie of that user stale at once. On each request we also enforce the agency
(a user of one agency is never signed in on another's host), the absolute lifetime (12 h), the
idle time-out (the agency's, 15 min by default; background polls do not count as activity) and
the forced password change.
"""

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_babel import refresh as refresh_locale
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from app.auth.policies import two_step_required
from app.extensions import db, login_manager
from app.models import User, utcnow
from app.web.htmx import redirect_page
from app.web.i18n import _

# Endpoints anyone may open. Everything else needs a signed-in user (protected by default).
PUBLIC_ENDPOINTS = {
    "static",
    "health.healthz",
    "auth.login",
    "auth.welcome",
    "auth.forgot",
    "auth.forgot_question",
    "auth.reset",
    "auth.two_step",
    "schedule.feed",
}
# Reachable while a temporary password still has to be changed.
PASSWORD_CHANGE_ENDPOINTS = {"auth.change_password", "auth.logout", "static", "health.healthz"}
# Reachable by staff whose agency requires two-step sign-in before they have set it up.
TWO_STEP_SETUP_ENDPOINTS = {
    "auth.two_step_setup",
    "auth.two_step_send_confirmation",
    "auth.two_step_confirm",
    "auth.logout",
    "static",
    "health.healthz",
}
TWO_STEP_WINDOW_SECONDS = 300  # time between the password and the code
# Requests that must not keep a session alive (htmx polls such as the unread badge).
BACKGROUND_ENDPOINTS = {"messages.unread_count"}


@login_manager.user_loader
def load_user(session_id: str):
    user_id, _, stamp = (session_id or "").partition(":")
    if not user_id.isdigit() or g.get("agency") is None:
        return None
    user = db.session.scalar(select(User).where(User.id == int(user_id), User.agency_id == g.agency.id))
    if user is None or user.session_stamp != stamp or not user.is_active or user.is_locked:
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    login_url = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if request.headers.get("HX-Request"):
        response = current_app.response_class("", status=401)
        response.headers["HX-Redirect"] = login_url
        return response
    return redirect(login_url)


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


def enforce_session():
    """before_request: apply the session rules, then require sign-in where the endpoint is not public."""
    endpoint = request.endpoint or ""
    if current_user.is_authenticated:
        now = utcnow().timestamp()
        idle_limit = g.agency.session_idle_minutes * 60
        if now - session.get("signed_in_at", 0) > current_app.config["PERMANENT_SESSION_LIFETIME"]:
            end_session(_("Your session ended after 12 hours. Please sign in again."))
        elif now - session.get("seen_at", 0) > idle_limit:
            end_session(_("You were signed out after a period of inactivity."))
        elif endpoint not in BACKGROUND_ENDPOINTS:
            session["seen_at"] = now
    if current_user.is_authenticated:
        if current_user.must_change_password and endpoint not in PASSWORD_CHANGE_ENDPOINTS:
            return redirect_page(url_for("auth.change_password"), 302)
        if (
            two_step_required(g.agency, current_user)
            and not current_user.totp_secret
            and endpoint not in TWO_STEP_SETUP_ENDPOINTS
        ):
            return redirect_page(url_for("auth.two_step_setup"), 302)
        return None
    if endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    return login_manager.unauthorized()
