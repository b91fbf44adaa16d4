"""Invoice views."""

from app.auth.policies import INVOICES, invoice_visible
from app.blueprints.invoices import bp
from app.i18n import _
from app.models import Invoice
from app.web.htmx import render_page
from app.web.portal import get_portal_or_404, selected_client


@bp.route("/invoices")
def index():
    selected_client(INVOICES, allow_all=True)  # 404 for a client out of reach
    return render_page("coming_later.html", heading=_("Invoices"))


@bp.route("/invoices/<int:invoice_id>")
def detail(invoice_id):
    get_portal_or_404(Invoice, invoice_id, INVOICES, invoice_visible)
    return render_page("coming_later.html", heading=_("Invoice"))
