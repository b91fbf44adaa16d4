"""Documents built from a period of care, shared by the portal and the office: the shift
signatures report (page and PDF), and the PDF answer every such view gives."""

from datetime import timedelta

from flask import g, make_response, request
from flask_login import current_user

from app.services import signatures
from app.services.calendar import day_bounds
from app.services.invoice_listing import hours, pdf_filename
from app.services.pdf import render_pdf
from app.services.record_views import PAGE, PDF, SIGNED_VISIT, record_view
from app.web.forms import PeriodForm
from app.web.htmx import render_page


class ReportPeriod(PeriodForm):
    max_days = signatures.REPORT_MAX_DAYS


def pdf_response(data: bytes, name: str):
    """A PDF shown in the browser (saved under `name`.pdf)."""
    response = make_response(data)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{pdf_filename(name)}.pdf"'
    return response


def signature_report(client, *, as_pdf: bool, template: str, fees=None, **extra):
    """The shift signatures report of `client` for the period in the query (default: last month),
    as a page or a PDF; shared by the portal and the office. `fees` is the criterion of the
    invoices whose amounts the viewer may see (None: no fee column). Audited per view, as an
    viewing money too when it shows fees."""
    if "start" in request.args:
        form = ReportPeriod(request.args)
        form.validate()
    else:
        end = g.agency.today().replace(day=1) - timedelta(days=1)  # last month
        form = ReportPeriod(formdata=None, start=end.replace(day=1), end=end)
    context = {"client": client, "form": form, "report": None, "hours": hours, **extra}
    if form.errors:
        return render_page(template, status=422, **context)
    begins, ends = day_bounds(g.agency.zone, form.start.data, form.end.data)
    context["report"] = signatures.report(g.agency, client.id, begins, ends, fees=fees)
    context["show_fees"] = fees is not None
    viewer, period = (
        current_user._get_current_object(),
        f"{form.start.data.isoformat()}–{form.end.data.isoformat()}",
    )
    # One event says it all: the visit records, and the money when the fees were shown.
    record_view(
        SIGNED_VISIT, viewer, client.id, label=period, how=PDF if as_pdf else PAGE, fees=fees is not None
    )
    if as_pdf:
        name = f"signatures-{client.last_name}-{form.start.data.isoformat()}"
        return pdf_response(render_pdf("signatures/report_pdf.html", **context), name)
    return render_page(template, **context)
