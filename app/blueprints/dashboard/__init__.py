"""The portal home page, "My <agency name>"."""

from flask import Blueprint, redirect, url_for
from flask_login import current_user

from app.web.portal import guard_portal

bp = Blueprint("dashboard", __name__)


@bp.before_request
def _staff_go_to_admin():
    if current_user.is_authenticated and current_user.is_staff:
        return redirect(url_for("admin.index"))
    guard_portal()
    return None


from app.blueprints.dashboard import views  # noqa: E402,F401
