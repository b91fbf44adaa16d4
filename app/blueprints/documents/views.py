"""Document views."""

from app.blueprints.documents import bp
from app.web.htmx import render_page
from app.web.i18n import _


@bp.route("/documents")
def index():
    return render_page("coming_later.html", heading=_("Documents"))
