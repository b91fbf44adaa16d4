"""My Schedule: calendar, print, PDF, calendar feed and schedule requests."""

from flask import Blueprint, request

from app.auth.policies import SCHEDULE
from app.web.portal import guard_section

bp = Blueprint("schedule", __name__)
# The calendar feed is public (its secret URL is the credential); everything else is the section.
_PUBLIC = {"schedule.feed"}
bp.before_request(lambda: None if request.endpoint in _PUBLIC else guard_section(SCHEDULE))

from app.blueprints.schedule import feed, requests, views  # noqa: E402,F401
