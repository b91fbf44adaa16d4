"""Care plan views."""

from app.auth.policies import CARE_PLAN
from app.blueprints.careplan import bp
from app.i18n import _
from app.web.htmx import render_page
from app.web.portal import selected_client


@bp.route("/care-plan")
def show():
    selected_client(CARE_PLAN)  # 404 for a client out of reach, even before the page exists
    return render_page("coming_later.html", heading=_("Care plan"))
