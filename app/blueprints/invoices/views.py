"""Invoices: `/invoices` (issued invoices newest first, the totals due, a ?client= filter for
someone linked to several clients), `/invoices/<id>` (the detail: a dialog with htmx, a page
without JavaScript), `/invoices/<id>.pdf`, "question this line" (a thread to the office),
`/invoices/<id>/pay` (the amount, then Stripe Checkout) and Stripe's webhook
(`/payments/stripe/webhook`, public and CSRF-exempt: Stripe's signature is its key).

Which invoices a user sees is `PortalAccess.invoices_criterion` for the list and `invoice_visible`
for one invoice (through `get_portal_or_404`); the blueprint's guard has already refused users
with no invoices section. Every view of an invoice or its PDF is recorded (`record_view`).
"""

from flask import abort, current_app, g, make_response, request, url_for
from flask_login import current_user

from app.auth.policies import (
    INVOICES,
    MESSAGES,
    can_pay,
    can_question_invoice,
    conversation_visible,
    invoice_visible,
    starts_private,
)
from app.blueprints.invoices import bp
from app.blueprints.invoices.forms import PayForm, QuestionForm
from app.extensions import csrf
from app.i18n import _
from app.models import Invoice, InvoiceLine
from app.services import invoice_listing as billing
from app.services import messages as messages_service
from app.services.links import agency_url
from app.services.payments import PaymentRefused, PaymentUnavailable, stripe_checkout
from app.services.pdf import render_pdf
from app.services.record_views import INVOICE, PAGE, PDF, record_view
from app.web.access import public
from app.web.htmx import done, record_view_of_refused, redirect_page, render_form, render_page
from app.web.input_guard import parse_id
from app.web.portal import get_portal_or_404, selected_client
from app.web.tenancy import get_child_or_404


def _user():
    return current_user._get_current_object()


@bp.route("/invoices")
def index():
    clients = g.access.clients(INVOICES)
    # Every client's invoices unless ?client= names one (404 for a client out of reach).
    client = selected_client(INVOICES) if "client" in request.args else None
    page = parse_id(request.args.get("page", "1")) or 1
    shown = billing.invoice_page(g.access.invoices_criterion(client.id if client else None), page)
    if page > 1 and not shown.invoices:
        abort(404)
    return render_page(
        "invoices/index.html",
        fragment="invoices/_list.html",
        listing=shown,
        client=client,
        clients=clients,
        clients_by_id={c.id: c for c in clients},
        several_clients=len(clients) > 1,
        state_of=billing.state_of,
        state_labels=billing.STATE_LABELS,
    )


def _invoice(invoice_id: int) -> Invoice:
    return get_portal_or_404(Invoice, invoice_id, INVOICES, invoice_visible)


def _detail_context(invoice: Invoice, form: QuestionForm | None = None, asking: int | None = None) -> dict:
    link = g.access.link(invoice.client_id)
    may_ask = can_question_invoice(link, invoice)
    may_pay = can_pay(link, invoice, g.agency.payment_gateway)
    reads_threads = g.access.allows(invoice.client_id, MESSAGES)
    lines = billing.invoice_lines(
        invoice, (lambda thread: conversation_visible(link, thread)) if reads_threads else None
    )
    return {
        "invoice": invoice,
        "client": link.client,
        "lines": lines,
        "payments": billing.invoice_payments(invoice),
        "state": billing.state_of(invoice),
        "state_labels": billing.STATE_LABELS,
        "may_ask": may_ask,
        "form": form or QuestionForm(formdata=None),
        "asking": asking,
        "hours": billing.hours,
        "may_pay": may_pay,
        "just_paid": request.args.get("paid") == "1",
        "pay_form": PayForm(formdata=None, balance_cents=invoice.balance_cents) if may_pay else None,
    }


@bp.route("/invoices/<int:invoice_id>")
def detail(invoice_id):
    invoice = _invoice(invoice_id)
    _record_view(invoice)
    return render_page("invoices/detail.html", fragment="invoices/_dialog.html", **_detail_context(invoice))


@bp.route("/invoices/<int:invoice_id>/lines/<int:line_id>/question", methods=["POST"])
def question(invoice_id, line_id):
    invoice = _invoice(invoice_id)
    link = g.access.link(invoice.client_id)
    if not can_question_invoice(link, invoice):
        abort(404)
    line = get_child_or_404(invoice, InvoiceLine, line_id)
    form = QuestionForm()
    if form.validate_on_submit():
        number = next(
            n for n, row in enumerate(billing.invoice_lines(invoice), start=1) if row.line.id == line.id
        )
        conversation = messages_service.start_conversation(
            g.agency,
            link.client,
            _user(),
            subject=_("Question about invoice %(number)s, line %(line)d", number=invoice.number, line=number),
            body=form.body.data,
            private=starts_private(link),
            invoice_line=line,
        )
        return done(
            _("Your question was sent to the office. You will find the answer in Messages."),
            url_for("messages.thread", conversation_id=conversation.id),
        )
    response = render_form(
        "invoices/detail.html", fragment="invoices/_dialog.html", **_detail_context(invoice, form, line.id)
    )
    record_view_of_refused(lambda: _record_view(invoice))  # the invoice is shown again
    return response


def _record_view(invoice: Invoice, how=PAGE) -> None:
    record_view(INVOICE, _user(), invoice.client_id, invoice, label=invoice.number, how=how)


@bp.route("/invoices/<int:invoice_id>.pdf")
def pdf(invoice_id):
    invoice = _invoice(invoice_id)
    context = _detail_context(invoice)
    data = render_pdf("invoices/pdf.html", **context)
    _record_view(invoice, how=PDF)
    response = make_response(data)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{billing.pdf_filename(invoice.number)}.pdf"'
    return response


@bp.route("/invoices/<int:invoice_id>/pay", methods=["GET", "POST"])
def pay(invoice_id):
    """The amount to pay (the balance, or less), then off to Stripe Checkout. Only where `can_pay`:
    the agency takes payments online and the invoice is outstanding; 404 for anyone else."""
    invoice = _invoice(invoice_id)
    if not can_pay(g.access.link(invoice.client_id), invoice, g.agency.payment_gateway):
        abort(404)
    form = PayForm(balance_cents=invoice.balance_cents)
    status = None
    if form.validate_on_submit():
        back = agency_url(g.agency, "invoices.detail", invoice_id=invoice.id)
        try:
            url = stripe_checkout.start_checkout(
                g.agency, invoice, _user(), form.cents, success_url=f"{back}?paid=1", cancel_url=back
            )
        except PaymentRefused:
            abort(404)  # no longer outstanding
        except PaymentUnavailable:
            form.amount.errors = [_("Online payment is not available right now. Please try again later.")]
            status = 503
        else:
            return redirect_page(url)
    context = {"invoice": invoice, "pay_form": form, "balance": invoice.balance_cents}
    if request.method == "GET":
        _record_view(invoice)
        return render_page("invoices/pay.html", fragment="invoices/_pay_form.html", **context)
    response = render_page(
        "invoices/pay.html", fragment="invoices/_pay_form.html", status=status or 422, **context
    )
    record_view_of_refused(lambda: _record_view(invoice))
    return response


@bp.route("/payments/stripe/webhook", methods=["POST"])
@public
@csrf.exempt
def stripe_webhook():
    """Stripe tells us a Checkout Session is paid. 400 when the signature is not Stripe's; 200 once
    the event is handled (recorded, already recorded, refused or of no interest), so Stripe stops
    sending it."""
    try:
        outcome = stripe_checkout.handle_webhook(
            g.agency, request.get_data(cache=False), request.headers.get("Stripe-Signature")
        )
    except stripe_checkout.BadWebhook as error:
        current_app.logger.warning("stripe webhook refused: %s", error)
        return {"error": "invalid signature"}, 400
    except stripe_checkout.RefundPending:
        return {"error": "refund pending, try again later"}, 503
    return {"received": True, "outcome": outcome}, 200
