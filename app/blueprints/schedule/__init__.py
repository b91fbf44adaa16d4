"""My Schedule: calendar, print, PDF, calendar feed and schedule requests."""

from flask import Blueprint

from app.auth.policies import SCHEDULE
from app.web.portal import guard_section

bp = Blueprint("schedule", __name__)
bp.before_request(lambda: guard_section(SCHEDULE))

from app.blueprints.schedule import views  # noqa: E402,F401
