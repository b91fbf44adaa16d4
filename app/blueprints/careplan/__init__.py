"""The care / service plan (client, ticked legal representatives, staff)."""

from flask import Blueprint

from app.auth.policies import CARE_PLAN
from app.web.portal import guard_section

bp = Blueprint("careplan", __name__)
bp.before_request(lambda: guard_section(CARE_PLAN))

from app.blueprints.careplan import views  # noqa: E402,F401
