"""Message views."""

from app.blueprints.messages import bp
from app.web.htmx import render_page


@bp.route("/messages")
def inbox():
    return render_page("coming_later.html", heading="Messages")
