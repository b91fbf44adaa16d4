"""Invoice views."""

from app.blueprints.invoices import bp
from app.web.htmx import render_page
from app.web.i18n import _


@bp.route("/invoices")
def index():
    return render_page("coming_later.html", heading=_("Invoices"))


@bp.route("/invoices/<int:invoice_id>")
def detail(invoice_id):
    return render_page("coming_later.html", heading=_("Invoice"))
