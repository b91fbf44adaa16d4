"""Document views."""

from app.blueprints.documents import bp
from app.web.htmx import render_page


@bp.route("/documents")
def index():
    return render_page("coming_later.html", heading="Documents")
