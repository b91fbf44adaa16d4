"""Care plan views."""

from app.blueprints.careplan import bp
from app.web.htmx import render_page
from app.web.i18n import _


@bp.route("/care-plan")
def show():
    return render_page("coming_later.html", heading=_("Care plan"))
