"""Message views."""

from app.blueprints.messages import bp
from app.web.htmx import render_page
from app.web.i18n import _


@bp.route("/messages")
def inbox():
    return render_page("coming_later.html", heading=_("Messages"))
