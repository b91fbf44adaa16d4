"""Threads with the office and the unread badge."""

from flask import Blueprint, request

from app.auth.policies import MESSAGES
from app.web.portal import guard_section

bp = Blueprint("messages", __name__)


@bp.before_request
def _guard():
    # The badge is polled every minute from every page: it asks its one statement who may read what
    # (see views.unread_count) instead of loading the user's links first.
    if request.endpoint != "messages.unread_count":
        guard_section(MESSAGES)


from app.blueprints.messages import views  # noqa: E402,F401
