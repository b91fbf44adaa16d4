"""Files the agency shares, by category."""

from flask import Blueprint

from app.auth.policies import DOCUMENTS
from app.web.portal import guard_section

bp = Blueprint("documents", __name__)
bp.before_request(lambda: guard_section(DOCUMENTS))

from app.blueprints.documents import views  # noqa: E402,F401
