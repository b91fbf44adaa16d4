"""The signed-in portal user's own contact details, picture and settings, and the access the
family controls (`access`: who sees the client's record, invitations, who viewed it)."""

from flask import Blueprint

from app.web.portal import guard_portal

bp = Blueprint("profile", __name__)
bp.before_request(guard_portal)

from app.blueprints.profile import access, views  # noqa: E402,F401
