"""Threads with the office and the unread badge."""

from flask import Blueprint

from app.auth.policies import MESSAGES
from app.web.portal import guard_section

bp = Blueprint("messages", __name__)
bp.before_request(lambda: guard_section(MESSAGES))

from app.blueprints.messages import views  # noqa: E402,F401
