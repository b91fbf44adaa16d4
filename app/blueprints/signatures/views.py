"""Shift signature views."""

from app.auth.policies import SIGNATURES
from app.blueprints.signatures import bp
from app.i18n import _
from app.web.htmx import render_page
from app.web.portal import selected_client


@bp.route("/signatures")
def index():
    selected_client(SIGNATURES)  # 404 for a client out of reach, even before the page exists
    return render_page("coming_later.html", heading=_("Shift Signatures"))
