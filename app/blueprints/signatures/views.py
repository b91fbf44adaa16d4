"""Shift signature views."""

from app.blueprints.signatures import bp
from app.web.htmx import render_page


@bp.route("/signatures")
def index():
    return render_page("coming_later.html", heading="Shift Signatures")
