"""Document views."""

from app.auth.policies import DOCUMENTS
from app.blueprints.documents import bp
from app.i18n import _
from app.web.htmx import render_page
from app.web.portal import selected_client


@bp.route("/documents")
def index():
    selected_client(DOCUMENTS)  # 404 for a client out of reach, even before the page exists
    return render_page("coming_later.html", heading=_("Documents"))
