"""Message views."""

from app.auth.policies import MESSAGES
from app.blueprints.messages import bp
from app.i18n import _
from app.web.htmx import render_page
from app.web.portal import selected_client


@bp.route("/messages")
def inbox():
    selected_client(MESSAGES)  # 404 for a client out of reach, even before the page exists
    return render_page("coming_later.html", heading=_("Messages"))
