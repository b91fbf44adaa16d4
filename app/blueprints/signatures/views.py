"""Shift signature views."""

from app.blueprints.signatures import bp
from app.web.htmx import render_page
from app.web.i18n import _


@bp.route("/signatures")
def index():
    return render_page("coming_later.html", heading=_("Shift Signatures"))
