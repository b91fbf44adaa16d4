"""Care plan views."""

from app.blueprints.careplan import bp
from app.web.htmx import render_page


@bp.route("/care-plan")
def show():
    return render_page("coming_later.html", heading="Care plan")
