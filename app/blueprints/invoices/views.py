"""Invoice views."""

from app.blueprints.invoices import bp
from app.web.htmx import render_page


@bp.route("/invoices")
def index():
    return render_page("coming_later.html", heading="Invoices")


@bp.route("/invoices/<int:invoice_id>")
def detail(invoice_id):
    return render_page("coming_later.html", heading="Invoice")
