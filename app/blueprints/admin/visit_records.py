"""The office's view of visit records: the shift signatures report of a client for a period (page
and PDF), the same document the client's family reads in the portal."""

from flask import request
from sqlalchemy import true

from app.auth.policies import AREA_VISITS
from app.blueprints.admin import area, bp
from app.models import Client
from app.web.reports import signature_report
from app.web.tenancy import get_scoped_or_404


def _client() -> Client:
    return get_scoped_or_404(Client, request.args.get("client"))


@bp.route("/signatures/report")
@area(AREA_VISITS)
def signature_report_page():
    return signature_report(
        _client(),
        as_pdf=False,
        template="signatures/report.html",
        fees=true(),
        pdf="admin.signature_report_pdf",
    )


@bp.route("/signatures/report.pdf")
@area(AREA_VISITS)
def signature_report_pdf():
    return signature_report(_client(), as_pdf=True, template="signatures/report.html", fees=true())
