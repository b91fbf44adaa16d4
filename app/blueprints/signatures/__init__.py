"""Shift signatures: completed visits awaiting the client's signature."""

from flask import Blueprint

from app.auth.policies import SIGNATURES
from app.web.portal import guard_section

bp = Blueprint("signatures", __name__)
bp.before_request(lambda: guard_section(SIGNATURES))

from app.blueprints.signatures import views  # noqa: E402,F401
