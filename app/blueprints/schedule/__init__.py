"""My Schedule: calendar, print, PDF, calendar feed and schedule requests."""

from flask import Blueprint

from app.auth.policies import SCHEDULE
from app.web.portal import guard_section

bp = Blueprint("schedule", __name__)
bp.before_request(lambda: guard_section(SCHEDULE))  # the public feed (its URL is the credential) passes

from app.blueprints.schedule import feed, requests, views  # noqa: E402,F401
