"""Shift signatures: `/signatures` (a client's completed visits awaiting a signature, and those
signed), `/signatures/<visit_id>` (the visit's facts and its signature; the signing form for
someone who may sign), `/signatures/<visit_id>.pdf` (the signed visit record) and
`/signatures/report` (+ `.pdf`: a period's visits, hours, fees, tasks and signatures).

Who sees them is the SIGNATURES section (the blueprint's guard and `selected_client` /
`get_portal_or_404`); who may sign is `may_sign_visits`. Every view of a visit record is audited.
"""

import base64

from flask import abort, g, request, url_for
from flask_login import current_user

from app.auth.policies import INVOICES, SIGNATURES, may_sign_visits
from app.blueprints.signatures import bp
from app.blueprints.signatures.forms import SignForm
from app.i18n import _
from app.models import Visit
from app.models.statuses import VisitStatus
from app.services import signatures
from app.services.invoice_listing import hours
from app.services.pdf import render_pdf
from app.services.record_views import PAGE, PDF, SIGNED_VISIT, record_view
from app.web.htmx import done, record_view_of_refused, render_form, render_page
from app.web.input_guard import parse_id
from app.web.portal import get_portal_or_404, selected_client
from app.web.reports import pdf_response, signature_report

PENDING_SHOWN = 50
SIGNED_PER_PAGE = 20


def _user():
    return current_user._get_current_object()


@bp.route("/signatures")
def index():
    client = selected_client(SIGNATURES)
    page = parse_id(request.args.get("page", "1")) or 1
    pending = signatures.visits_for_signing(client.id, signed=False, limit=PENDING_SHOWN) if page == 1 else []
    signed = signatures.visits_for_signing(
        client.id, signed=True, limit=SIGNED_PER_PAGE + 1, offset=(page - 1) * SIGNED_PER_PAGE
    )
    if page > 1 and not signed:
        abort(404)
    return render_page(
        "signatures/index.html",
        client=client,
        clients=g.access.clients(SIGNATURES),
        pending=pending,
        signed=signed[:SIGNED_PER_PAGE],
        more=len(signed) > SIGNED_PER_PAGE,
        page=page,
        may_sign=may_sign_visits(g.access.link(client.id)),
        current_signature=signatures.current_signature,
    )


def _visit(visit_id: int) -> Visit:
    return get_portal_or_404(
        Visit,
        visit_id,
        SIGNATURES,
        lambda _link, v: v.status == VisitStatus.COMPLETED,
        options=signatures.load_visit_options(),
    )


def _context(visit: Visit, form: SignForm | None = None) -> dict:
    link = g.access.link(visit.client_id)
    current = signatures.current_signature(visit)
    pending = current is None or not current.valid
    may_sign = pending and may_sign_visits(link)
    history = [
        signatures.status_of(s, visit) for s in sorted(visit.signatures, key=lambda s: (s.signed_at, s.id))
    ]
    return {
        "visit": visit,
        "client": link.client,
        "current": current,
        "history": history,
        "pending": pending,
        "may_sign": may_sign,
        "form": form
        or (SignForm(formdata=None, reviewed=signatures.facts_hash(visit)) if may_sign else None),
        "hours": hours,
        "change_labels": signatures.CHANGE_LABELS,
    }


@bp.route("/signatures/<int:visit_id>", methods=["GET", "POST"])
def visit(visit_id):
    """The visit's facts and its signature; a POST signs it (typed name, and the drawing when the
    signature pad was used)."""
    visit = _visit(visit_id)
    if request.method == "GET":
        _record_view(visit)
        return render_page("signatures/visit.html", **_context(visit))
    link = g.access.link(visit.client_id)
    if not may_sign_visits(link):
        abort(404)
    form = SignForm()
    if form.validate_on_submit():
        try:
            signatures.sign(
                g.agency,
                _user(),
                link,
                visit,
                typed_name=form.typed_name.data,
                drawing=form.drawing_bytes(),
                ip_address=request.remote_addr,
                user_agent=request.user_agent.string,
                reviewed_hash=form.reviewed.data or None,
            )
        except (signatures.SignatureRefused, ValueError) as error:
            form.typed_name.errors = [str(error)]
        else:
            return done(
                _("Thank you. The visit of %(day)s is signed.", day=_day(visit).strftime("%Y-%m-%d")),
                url_for("signatures.visit", visit_id=visit.id),
            )
    response = render_form("signatures/visit.html", **_context(visit, form))
    record_view_of_refused(lambda: _record_view(visit))  # the visit's facts are shown again
    return response


def _record_view(visit: Visit, how=PAGE) -> None:
    record_view(SIGNED_VISIT, _user(), visit.client_id, visit, label=_day(visit).isoformat(), how=how)


def _day(visit: Visit):
    return visit.starts_at.astimezone(g.agency.zone).date()


def _drawing_uri(visit: Visit, current) -> str | None:
    if current is None or current.signature.drawing_file_id is None:
        return None
    data = signatures.drawing_of(g.agency, current.signature)
    return f"data:image/png;base64,{base64.b64encode(data).decode('ascii')}" if data else None


@bp.route("/signatures/<int:visit_id>.pdf")
def visit_pdf(visit_id):
    visit = _visit(visit_id)
    context = _context(visit)
    context["drawing"] = _drawing_uri(visit, context["current"])
    data = render_pdf("signatures/visit_pdf.html", **context)
    _record_view(visit, how=PDF)
    return pdf_response(data, f"visit-{_day(visit).isoformat()}")


def _fees(client):
    """The invoices whose amounts this viewer may see in the report (None: no fees shown)."""
    return g.access.invoices_criterion(client.id) if g.access.allows(client.id, INVOICES) else None


@bp.route("/signatures/report")
def report():
    client = selected_client(SIGNATURES)
    return signature_report(
        client,
        as_pdf=False,
        template="signatures/report.html",
        fees=_fees(client),
        pdf="signatures.report_pdf",
    )


@bp.route("/signatures/report.pdf")
def report_pdf():
    client = selected_client(SIGNATURES)
    return signature_report(client, as_pdf=True, template="signatures/report.html", fees=_fees(client))
