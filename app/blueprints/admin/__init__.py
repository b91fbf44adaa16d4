"""The agency staff area. Every route here is for staff of the host's agency only."""

from flask import Blueprint, abort
from flask_login import current_user

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _staff_only():
    if not current_user.is_staff:
        abort(404)


from app.blueprints.admin import people, schedule_requests, settings, views  # noqa: E402,F401
