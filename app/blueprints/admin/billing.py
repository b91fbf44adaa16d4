"""Office billing: `/admin/invoices` (every invoice, filtered by state and searched by client or
number), building a draft from a client's completed, unbilled visits, editing and issuing it,
voiding, manual payments, refunds, the invoice PDF and a statement (page and PDF) for a client or
a payer over a period.

The rules are app/services/invoices.py's and app/services/payments/'s; these views read forms,
check the version the page was opened at (`check_version`: 409 when someone else changed the
invoice meanwhile) and answer. By-id lookups go through `get_scoped_or_404`; every view of an
invoice, its PDF or a statement is recorded like the portal's.
"""

from datetime import datetime, time, timedelta

from flask import abort, g, make_response, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.auth.policies import AREA_BILLING
from app.blueprints.admin import area, bp
from app.blueprints.admin.forms import (
    BillingSettingsForm,
    ClientRateForm,
    DraftForm,
    IssueForm,
    ManualPaymentForm,
    NewInvoiceForm,
    RefundForm,
    StatementForm,
    VersionForm,
    VoidForm,
)
from app.extensions import db
from app.i18n import _
from app.models import Client, ClientLink, Invoice, Payment, Task, User
from app.models.client import REL_PAYER
from app.models.statuses import InvoiceStatus
from app.services import invoice_listing as listing
from app.services import invoices, office
from app.services.payments import PaymentRefused, stripe_checkout
from app.services.payments.manual import record_manual_payment
from app.services.pdf import render_pdf
from app.services.record_views import INVOICE, PAGE, PDF, record_view
from app.web.conflicts import EditConflict, check_version
from app.web.formatting import money
from app.web.forms import cents_text
from app.web.htmx import done, record_view_of_refused, redirect_page, render_form, render_page
from app.web.input_guard import parse_id
from app.web.tenancy import get_scoped_or_404

FILTERS = {
    "all": None,
    "draft": Invoice.status == InvoiceStatus.DRAFT,
    "outstanding": Invoice.is_outstanding,
    "paid": Invoice.status == InvoiceStatus.PAID,
    "void": Invoice.status == InvoiceStatus.VOID,
}
CLIENTS_FOUND = 20


def _staff() -> User:
    return current_user._get_current_object()


def _search(text: str):
    """A client name or an invoice number containing `text` (case-insensitive)."""
    pattern = f"%{text.lower()}%"
    named = select(Client.id).where(
        Client.agency_id == g.agency.id,
        or_(
            Client.first_name.ilike(pattern),
            Client.last_name.ilike(pattern),
            (Client.first_name + " " + Client.last_name).ilike(pattern),
        ),
    )
    return or_(Invoice.client_id.in_(named), Invoice.number.ilike(pattern))


@bp.route("/invoices")
@area(AREA_BILLING)
def invoices_list():
    shown = request.args.get("state", "all")
    filters = {**FILTERS, "overdue": office.overdue(g.agency.today())}
    if shown not in filters:
        shown = "all"
    query = (request.args.get("q") or "").strip()[:100]
    client = get_scoped_or_404(Client, request.args["client"]) if "client" in request.args else None
    criterion = [Invoice.agency_id == g.agency.id]
    if filters[shown] is not None:
        criterion.append(filters[shown])
    if query:
        criterion.append(_search(query))
    if client is not None:
        criterion.append(Invoice.client_id == client.id)
    page = parse_id(request.args.get("page", "1")) or 1
    found = listing.invoice_page(
        db.and_(*criterion),
        page,
        options=(selectinload(Invoice.client), selectinload(Invoice.billed_to)),
    )
    if page > 1 and not found.invoices:
        abort(404)
    return render_page(
        "admin/invoices.html",
        fragment="admin/_invoice_list.html",
        listing=found,
        shown=shown,
        query=query,
        client=client,
        filters=list(filters),
        state_of=listing.state_of,
        state_labels=listing.STATE_LABELS,
    )


def _payers(client: Client) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(ClientLink, ClientLink.user_id == User.id)
            .where(
                ClientLink.agency_id == g.agency.id,
                ClientLink.client_id == client.id,
                ClientLink.relationship_kind == REL_PAYER,
            )
            .order_by(User.last_name, User.first_name)
        )
    )


def _bill_to_choices(client: Client, payers: list[User]) -> list[tuple[str, str]]:
    return [("", _("%(client)s (the client)", client=client.display_name))] + [
        (str(payer.id), _("%(payer)s (payer)", payer=payer.display_name)) for payer in payers
    ]


def _chosen_payer(choice: str, payers: list[User]) -> User | None:
    return next((payer for payer in payers if str(payer.id) == choice), None)


def _last_month(today):
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


@bp.route("/invoices/new", methods=["GET", "POST"])
@area(AREA_BILLING)
def new_invoice():
    """Choose a client (a search, so the page stays small with a thousand clients), then the period
    and who is billed; building the draft takes the completed, unbilled visits of the period."""
    if "client" not in request.values:
        query = (request.args.get("q") or "").strip()[:100]
        found = []
        if query:
            pattern = f"%{query}%"
            found = db.session.scalars(
                select(Client)
                .where(
                    Client.agency_id == g.agency.id,
                    Client.is_active.is_(True),
                    or_(
                        Client.first_name.ilike(pattern),
                        Client.last_name.ilike(pattern),
                        (Client.first_name + " " + Client.last_name).ilike(pattern),
                    ),
                )
                .order_by(Client.last_name, Client.first_name)
                .limit(CLIENTS_FOUND)
            ).all()
        return render_page("admin/invoice_new.html", client=None, query=query, found=found)
    client = get_scoped_or_404(Client, request.values["client"])
    payers = _payers(client)
    start, end = _last_month(g.agency.today())
    form = NewInvoiceForm(period_start=start, period_end=end)
    form.billed_to.choices = _bill_to_choices(client, payers)
    if form.validate_on_submit():
        try:
            invoice = invoices.build_draft(
                g.agency,
                _staff(),
                client,
                form.period_start.data,
                form.period_end.data,
                billed_to=_chosen_payer(form.billed_to.data, payers),
            )
        except invoices.BillingRefused as error:
            form.period_end.errors = [str(error)]
        else:
            return done(
                _("Draft made with %(count)d lines. Check it, then issue it.", count=len(invoice.lines)),
                url_for("admin.invoice", invoice_id=invoice.id),
            )
    return render_form(
        "admin/invoice_new.html", client=client, form=form, rate_form=_client_rate_form(client)
    )


def _client_rate_form(client: Client, formdata=None) -> ClientRateForm:
    rate = client.hourly_rate_cents
    return ClientRateForm(formdata=formdata, hourly_rate=cents_text(rate) if rate is not None else "")


@bp.route("/invoices/rates/clients/<int:client_id>", methods=["POST"])
@area(AREA_BILLING)
def client_rate(client_id):
    client = get_scoped_or_404(Client, client_id)
    form = _client_rate_form(client, formdata=request.form)
    here = url_for("admin.new_invoice", client=client.id)
    if form.validate_on_submit():
        invoices.set_client_rate(client, _staff(), form.hourly_rate.cents)
        return done(_("Hourly rate of %(client)s saved.", client=client.display_name), here)
    start, end = _last_month(g.agency.today())
    invoice_form = NewInvoiceForm(formdata=None, period_start=start, period_end=end)
    invoice_form.billed_to.choices = _bill_to_choices(client, _payers(client))
    return render_page("admin/invoice_new.html", status=422, client=client, form=invoice_form, rate_form=form)


def _active_tasks() -> list[Task]:
    return list(
        db.session.scalars(
            select(Task).where(Task.agency_id == g.agency.id, Task.is_active.is_(True)).order_by(Task.name)
        )
    )


@bp.route("/invoices/settings", methods=["GET", "POST"])
@area(AREA_BILLING)
def billing_settings():
    """Invoice numbering, payment terms and hourly rates: the agency's and each task's own."""
    agency = g.agency
    tasks = _active_tasks()
    data = {
        "version": agency.version,
        "invoice_prefix": agency.invoice_prefix,
        "payment_terms_days": str(agency.payment_terms_days),
        "default_hourly_rate": cents_text(agency.default_hourly_rate_cents),
        "task_rates": [
            {
                "task_id": task.id,
                "rate": "" if task.hourly_rate_cents is None else cents_text(task.hourly_rate_cents),
            }
            for task in tasks
        ],
    }
    if request.method == "POST":
        check_version(agency, request.form.get("version"))
    form = BillingSettingsForm(formdata=request.form if request.method == "POST" else None, data=data)
    if form.validate_on_submit():
        posted = {parse_id(entry.form.task_id.data): entry.form.rate.cents for entry in form.task_rates}
        try:
            invoices.update_billing_settings(
                agency,
                _staff(),
                invoices.BillingSettings(
                    invoice_prefix=form.invoice_prefix.data,
                    payment_terms_days=form.payment_terms_days.number,
                    default_hourly_rate_cents=form.default_hourly_rate.cents,
                    task_rates=posted,
                ),
            )
        except invoices.BillingRefused as error:
            form.invoice_prefix.errors = [str(error)]
        else:
            return done(_("Billing settings saved."), url_for("admin.billing_settings"))
    names = {task.id: task.name for task in tasks}
    return render_form("admin/billing_settings.html", form=form, task_names=names)


def _draft_form(invoice: Invoice, lines, choices, formdata=None) -> DraftForm:
    data = {
        "version": invoice.version,
        "billed_to": str(invoice.billed_to_id or ""),
        "due_on": invoice.due_on,
        "notes": invoice.notes,
        "lines": [
            {
                "line_id": row.line.id,
                "description": row.line.description,
                "minutes": "" if row.line.billed_minutes is None else str(row.line.billed_minutes),
                "rate": cents_text(row.line.rate_cents),
            }
            for row in lines
        ],
    }
    form = (
        DraftForm(formdata=formdata, data=data)
        if formdata is not None
        else DraftForm(formdata=None, data=data)
    )
    form.billed_to.choices = choices
    units = {row.line.id for row in lines if row.line.billed_minutes is None}
    for entry in form.lines:
        entry.form.minutes.unit = parse_id(entry.form.line_id.data) in units
    return form


def _detail(invoice: Invoice, status: int = 200, refunding=None, **forms):
    """The office's page of one invoice with every form it offers; `forms` replace the empty ones
    (the one just submitted, with its errors), `refunding` is (payment id, refund form) after a
    refused refund."""
    client = invoice.client
    lines = listing.invoice_lines(invoice)
    payments = listing.invoice_payments(invoice)
    payers = _payers(client) if invoice.status == InvoiceStatus.DRAFT else []
    today = g.agency.today()
    version = {"version": invoice.version}
    context = {
        "invoice": invoice,
        "client": client,
        "lines": lines,
        "payments": payments,
        "refundable": invoices.refundable_amounts(payments),
        "state": listing.state_of(invoice),
        "state_labels": listing.STATE_LABELS,
        "hours": listing.hours,
        "draft_form": None,
        "issue_form": IssueForm(formdata=None, data=version),
        "discard_form": VersionForm(formdata=None, data=version),
        "void_form": VoidForm(formdata=None, data=version),
        "payment_form": ManualPaymentForm(
            formdata=None,
            data={
                **version,
                "received_on": today,
                "amount": cents_text(max(invoice.balance_cents, 0)),
                "notify": True,
            },
            today=today,
            balance_cents=invoice.balance_cents,
        ),
        "refund_forms": {},
        "refunding": None,
    }
    if invoice.status == InvoiceStatus.DRAFT:
        context["draft_form"] = _draft_form(invoice, lines, _bill_to_choices(client, payers))
    for payment in payments:
        if context["refundable"].get(payment.id, 0) > 0:
            context["refund_forms"][payment.id] = RefundForm(formdata=None, data=version)
    context.update(forms)
    if refunding is not None:
        context["refunding"] = refunding[0]
        context["refund_forms"][refunding[0]] = refunding[1]
    response = render_page("admin/invoice.html", fragment="admin/_invoice.html", status=status, **context)
    if status >= 400:  # a refused form: the invoice is shown again
        record_view_of_refused(lambda: _record_view(invoice))
    return response


def _record_view(invoice: Invoice, how=PAGE) -> None:
    record_view(INVOICE, _staff(), invoice.client_id, invoice, label=invoice.number or "draft", how=how)


def _invoice(invoice_id: int) -> Invoice:
    return get_scoped_or_404(Invoice, invoice_id)


def _done(invoice: Invoice, message: str):
    return done(message, url_for("admin.invoice", invoice_id=invoice.id))


@bp.route("/invoices/<int:invoice_id>", methods=["GET", "POST"])
@area(AREA_BILLING)
def invoice(invoice_id):
    """The invoice; a POST saves its draft form."""
    invoice = _invoice(invoice_id)
    if request.method == "POST":
        return _save_draft(invoice)
    _record_view(invoice)
    return _detail(invoice)


def _save_draft(invoice: Invoice):
    check_version(invoice, request.form.get("version"), url_for("admin.invoice", invoice_id=invoice.id))
    if invoice.status != InvoiceStatus.DRAFT:
        abort(409)
    lines = listing.invoice_lines(invoice)
    payers = _payers(invoice.client)
    form = _draft_form(invoice, lines, _bill_to_choices(invoice.client, payers), formdata=request.form)
    posted = [parse_id(entry.form.line_id.data) for entry in form.lines]
    if posted != [row.line.id for row in lines]:
        # Not the lines this version of the draft has: a form from another page or a forged one.
        raise EditConflict(
            current_version=invoice.version, reload_to=url_for("admin.invoice", invoice_id=invoice.id)
        )
    if form.validate_on_submit():
        change = invoices.DraftChange(
            lines=[
                invoices.LineChange(
                    line_id=parse_id(entry.form.line_id.data) or 0,
                    description=entry.form.description.data,
                    billed_minutes=entry.form.minutes.number,
                    rate_cents=entry.form.rate.cents,
                    remove=entry.form.remove.data,
                )
                for entry in form.lines
            ],
            billed_to=_chosen_payer(form.billed_to.data, payers),
            due_on=form.due_on.data,
            notes=form.notes.data,
            new_description=form.new_description.data or None,
            new_amount_cents=form.new_amount.cents,
        )
        try:
            invoices.update_draft(invoice, _staff(), change)
        except invoices.BillingRefused as error:
            form.new_description.errors = [str(error)]
        else:
            return _done(invoice, _("Draft saved."))
    return _detail(invoice, status=422, draft_form=form)


@bp.route("/invoices/<int:invoice_id>/issue", methods=["POST"])
@area(AREA_BILLING)
def issue_invoice(invoice_id):
    invoice = _invoice(invoice_id)
    check_version(invoice, request.form.get("version"), url_for("admin.invoice", invoice_id=invoice.id))
    form = IssueForm()
    if form.validate_on_submit():
        try:
            invoices.issue(g.agency, invoice, _staff(), notify=form.notify.data)
        except invoices.BillingRefused as error:
            form.notify.errors = [str(error)]
        else:
            return _done(invoice, _("Invoice %(number)s issued.", number=invoice.number))
    return _detail(invoice, status=422, issue_form=form)


@bp.route("/invoices/<int:invoice_id>/discard", methods=["POST"])
@area(AREA_BILLING)
def discard_invoice(invoice_id):
    invoice = _invoice(invoice_id)
    check_version(invoice, request.form.get("version"), url_for("admin.invoice", invoice_id=invoice.id))
    form = VersionForm()
    if form.validate_on_submit():
        try:
            invoices.discard_draft(invoice, _staff())
        except invoices.BillingRefused:
            abort(409)
        return redirect_page(url_for("admin.invoices_list", state="draft"))
    return _detail(invoice, status=422, discard_form=form)


@bp.route("/invoices/<int:invoice_id>/void", methods=["POST"])
@area(AREA_BILLING)
def void_invoice(invoice_id):
    invoice = _invoice(invoice_id)
    check_version(invoice, request.form.get("version"), url_for("admin.invoice", invoice_id=invoice.id))
    form = VoidForm()
    if form.validate_on_submit():
        try:
            invoices.void(invoice, _staff(), form.reason.data)
        except invoices.BillingRefused as error:
            form.reason.errors = [str(error)]
        else:
            return _done(invoice, _("Invoice %(number)s is void.", number=invoice.number))
    return _detail(invoice, status=422, void_form=form)


def _received_at(day):
    """Noon of the day in the agency's zone: a day typed by a person, not a moment."""
    return datetime.combine(day, time(12), g.agency.zone)


@bp.route("/invoices/<int:invoice_id>/payments", methods=["POST"])
@area(AREA_BILLING)
def record_payment(invoice_id):
    invoice = _invoice(invoice_id)
    check_version(invoice, request.form.get("version"), url_for("admin.invoice", invoice_id=invoice.id))
    form = ManualPaymentForm(today=g.agency.today(), balance_cents=invoice.balance_cents)
    if form.validate_on_submit():
        try:
            payment = record_manual_payment(
                g.agency,
                _staff(),
                invoice,
                form.amount.cents,
                form.method.data,
                form.reference.data,
                received_at=_received_at(form.received_on.data),
                notify=form.notify.data,
            )
        except PaymentRefused:
            form.amount.errors = [_("This invoice takes no payment now: it is not outstanding.")]
        else:
            return _done(invoice, _("Payment of %(amount)s recorded.", amount=money(payment.amount_cents)))
    return _detail(invoice, status=422, payment_form=form)


@bp.route("/invoices/<int:invoice_id>/payments/<int:payment_id>/refund", methods=["POST"])
@area(AREA_BILLING)
def refund_payment(invoice_id, payment_id):
    invoice = _invoice(invoice_id)
    payment = get_scoped_or_404(Payment, payment_id)
    if payment.invoice_id != invoice.id:
        abort(404)
    check_version(invoice, request.form.get("version"), url_for("admin.invoice", invoice_id=invoice.id))
    form = RefundForm()
    if form.validate_on_submit():
        try:
            invoices.refund(
                g.agency,
                payment,
                _staff(),
                form.amount.cents,
                form.reason.data,
                gateway_refund=stripe_checkout.refunder(g.agency, payment),
            )
        except invoices.BillingRefused as error:
            form.amount.errors = [str(error)]
        else:
            return _done(invoice, _("Refund of %(amount)s recorded.", amount=money(form.amount.cents)))
    return _detail(invoice, status=422, refunding=(payment.id, form))


@bp.route("/invoices/<int:invoice_id>.pdf")
@area(AREA_BILLING)
def invoice_pdf(invoice_id):
    invoice = _invoice(invoice_id)
    if invoice.status == InvoiceStatus.DRAFT:
        abort(404)  # a draft has no number yet and is no document to send
    data = render_pdf(
        "invoices/pdf.html",
        invoice=invoice,
        client=invoice.client,
        lines=listing.invoice_lines(invoice),
        payments=listing.invoice_payments(invoice),
        state=listing.state_of(invoice),
        state_labels=listing.STATE_LABELS,
        hours=listing.hours,
    )
    _record_view(invoice, how=PDF)
    return _pdf_response(data, listing.pdf_filename(invoice.number))


def _pdf_response(data: bytes, name: str):
    response = make_response(data)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


def _statement_subject():
    """The client (?client=) or the payer (?payer=) a statement is for; 404 for anyone else."""
    if "client" in request.args:
        return get_scoped_or_404(Client, request.args["client"]), None
    if "payer" in request.args:
        payer = get_scoped_or_404(User, request.args["payer"])
        is_payer = db.session.scalar(
            select(ClientLink.id)
            .where(
                ClientLink.agency_id == g.agency.id,
                ClientLink.user_id == payer.id,
                ClientLink.relationship_kind == REL_PAYER,
            )
            .limit(1)
        )
        if is_payer is None:
            abort(404)
        return None, payer
    abort(404)


def _statement(as_pdf: bool):
    client, payer = _statement_subject()
    start, end = _last_month(g.agency.today())
    if "start" in request.args:
        form = StatementForm(request.args)
        form.validate()
    else:  # last month, until a period is asked for
        form = StatementForm(formdata=None, start=start, end=end)
    context = {"form": form, "client": client, "payer": payer, "statement": None}
    if form.errors:
        return render_page("admin/statement.html", status=422, **context)
    found = context["statement"] = invoices.statement(
        g.agency, form.start.data, form.end.data, client=client, payer=payer
    )
    # One "viewed" event per client whose money the statement shows.
    for client_id in found.client_ids:
        record_view(INVOICE, _staff(), client_id, label="statement", how=PDF if as_pdf else PAGE)
    if as_pdf:
        name = f"{(client or payer).display_name} {found.start}-{found.end}"
        return _pdf_response(render_pdf("admin/statement_pdf.html", **context), listing.pdf_filename(name))
    return render_page("admin/statement.html", **context)


@bp.route("/invoices/statement")
@area(AREA_BILLING)
def statement():
    return _statement(as_pdf=False)


@bp.route("/invoices/statement.pdf")
@area(AREA_BILLING)
def statement_pdf():
    return _statement(as_pdf=True)
