"""Schedule views."""

from app.blueprints.schedule import bp
from app.web.htmx import render_page


@bp.route("/schedule")
def calendar():
    return render_page("coming_later.html", heading="My Schedule")
