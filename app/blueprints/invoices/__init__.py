"""Invoices: list, detail, PDF and payment."""

from flask import Blueprint

from app.auth.policies import INVOICES
from app.web.portal import guard_section

bp = Blueprint("invoices", __name__)
bp.before_request(lambda: guard_section(INVOICES))

from app.blueprints.invoices import views  # noqa: E402,F401
