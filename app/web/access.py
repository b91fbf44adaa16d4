"""Who may open an endpoint, decided once per request, and the session rules on the way in.

Views are closed by default: every endpoint needs a signed-in user unless its view is marked
`@public` (sign-in pages, one-time links, the calendar feed). A view marked `@background` (an
htmx poll) does not count as activity for the idle time-out. The marks are the single source:
the session check here, the portal guards (app/web/portal.py) and the route-inventory test all
read them. Place them directly under `@bp.route`.

On each request with a signed-in user the absolute lifetime (12 h) and the agency's idle time-out
are applied, and a user who must change a temporary password or (staff) set up a required
two-step sign-in is sent there first.
"""

from flask import current_app, g, redirect, request, session, url_for
from flask_login import current_user

from app.auth.policies import two_step_required
from app.auth.sessions import end_session
from app.extensions import login_manager
from app.i18n import _
from app.models import utcnow
from app.web.htmx import redirect_page

# Served without an agency or a session at all (app/__init__.py skips the pipeline for them).
AGENCY_FREE_ENDPOINTS = {"static", "health.healthz"}
# Reachable while a temporary password still has to be changed.
PASSWORD_CHANGE_ENDPOINTS = {"auth.change_password", "auth.logout"}
# Reachable by staff whose agency requires two-step sign-in before they have set it up.
TWO_STEP_SETUP_ENDPOINTS = {
    "auth.two_step_setup",
    "auth.two_step_send_confirmation",
    "auth.two_step_confirm",
    "auth.logout",
}


def public(view):
    """Anyone may open this view, signed in or not."""
    view.is_public = True
    return view


def background(view):
    """A background request (an htmx poll): it never keeps a session alive."""
    view.is_background = True
    return view


def _view(endpoint: str | None):
    return current_app.view_functions.get(endpoint) if endpoint else None


def is_public(endpoint: str | None) -> bool:
    return endpoint in AGENCY_FREE_ENDPOINTS or getattr(_view(endpoint), "is_public", False)


def is_background(endpoint: str | None) -> bool:
    return getattr(_view(endpoint), "is_background", False)


@login_manager.unauthorized_handler
def unauthorized():
    login_url = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if request.headers.get("HX-Request"):
        response = current_app.response_class("", status=401)
        response.headers["HX-Redirect"] = login_url
        return response
    return redirect(login_url)


def enforce_session():
    """before_request: apply the session rules, then require sign-in where the view is not public."""
    endpoint = request.endpoint
    if current_user.is_authenticated:
        now = utcnow().timestamp()
        idle_limit = g.agency.session_idle_minutes * 60
        if now - session.get("signed_in_at", 0) > current_app.config["PERMANENT_SESSION_LIFETIME"]:
            end_session(_("Your session ended after 12 hours. Please sign in again."))
        elif now - session.get("seen_at", 0) > idle_limit:
            end_session(_("You were signed out after a period of inactivity."))
        elif not is_background(endpoint):
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
    if endpoint is None or is_public(endpoint):
        return None
    return login_manager.unauthorized()
