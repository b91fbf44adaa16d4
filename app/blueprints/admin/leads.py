"""Office: client leads (the enquiries that become clients): the searched, paged list; a new lead;
a lead's page to edit details and status, assign it to a staff member (mailed), add dated notes,
attach, download and remove files, and convert it into a client keeping its details and files."""

from flask import abort, current_app, g, make_response, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.auth.policies import AREA_PEOPLE
from app.blueprints.admin import area, bp
from app.blueprints.admin.lead_forms import (
    LeadActionForm,
    LeadAssignForm,
    LeadEditForm,
    LeadFileForm,
    LeadForm,
    LeadNoteForm,
    LeadSearchForm,
)
from app.i18n import _
from app.models import ClientLead, LeadAttachment, LeadNote, User
from app.services import documents, storage
from app.services import leads as service
from app.web.htmx import done, render_form, render_page
from app.web.input_guard import parse_id
from app.web.paging import page_of
from app.web.tenancy import get_child_or_404, get_scoped_or_404

PER_PAGE = 50


def _staff() -> User:
    return current_user._get_current_object()


def client_path(client_id: int) -> str:
    if "admin.client" in current_app.view_functions:
        return url_for("admin.client", client_id=client_id)
    return f"{url_for('admin.index')}clients/{client_id}"


@bp.route("/leads")
@area(AREA_PEOPLE)
def leads():
    """Leads newest first, filtered and searched: one statement whatever their number."""
    form = LeadSearchForm(request.args)
    valid = form.validate()
    query = (form.q.data or "").strip() if valid else ""
    status = form.status.data if form.status.data in ("open", "all", *service.STATUSES) else "open"
    criteria = [ClientLead.agency_id == g.agency.id]
    if status == "open":
        criteria.append(ClientLead.status.in_(("new", "contacted")))
    elif status != "all":
        criteria.append(ClientLead.status == status)
    if query:
        criteria.append(service.search_criterion(query))
    found = page_of(
        select(ClientLead, User)
        .outerjoin(User, User.id == ClientLead.assigned_to_id)
        .where(*criteria)
        .order_by(ClientLead.created_at.desc(), ClientLead.id.desc()),
        PER_PAGE,
    )
    return render_page(
        "admin/leads.html",
        fragment="admin/_lead_list.html",
        form=form,
        **found.context(),
        query=query,
        shown=status,
        labels=service.STATUS_LABELS,
    )


def _details(form) -> dict:
    return {name: getattr(form, name).data for name in service.EDITABLE}


@bp.route("/leads/new", methods=["GET", "POST"])
@area(AREA_PEOPLE)
def new_lead():
    form = LeadForm()
    if form.validate_on_submit():
        lead = service.create(g.agency, _staff(), **_details(form))
        return done(_("Lead added."), url_for("admin.lead", lead_id=lead.id))
    return render_form("admin/lead_new.html", form=form)


def _load(lead_id) -> ClientLead:
    return get_scoped_or_404(
        ClientLead,
        lead_id,
        options=(
            selectinload(ClientLead.attachments).selectinload(LeadAttachment.file),
            selectinload(ClientLead.lead_notes).selectinload(LeadNote.author),
            selectinload(ClientLead.assigned_to),
        ),
    )


def _assign_form(lead, formdata=None):
    form = LeadAssignForm(formdata=formdata) if formdata is not None else LeadAssignForm(formdata=None)
    choices = [("", _("No one"))] + [(str(u.id), u.display_name) for u in service.staff_choices(g.agency)]
    form.assigned_to.choices = choices
    if formdata is None:
        form.assigned_to.data = str(lead.assigned_to_id or "")
    return form


def _lead_page(lead, status=200, form=None, assign_form=None, note_form=None, file_form=None, error=None):
    return render_page(
        "admin/lead.html",
        status=status,
        lead=lead,
        form=form or LeadEditForm(obj=lead, formdata=None),
        assign_form=assign_form or _assign_form(lead),
        note_form=note_form or LeadNoteForm(formdata=None),
        file_form=file_form or LeadFileForm(formdata=None),
        action_form=LeadActionForm(),
        labels=service.STATUS_LABELS,
        client_url=client_path(lead.converted_client_id) if lead.converted_client_id else None,
        size_label=documents.size_label,
        type_label=documents.type_label,
        error=error,
    )


def _here(lead) -> str:
    return url_for("admin.lead", lead_id=lead.id)


@bp.route("/leads/<int:lead_id>", methods=["GET", "POST"])
@area(AREA_PEOPLE)
def lead(lead_id):
    lead = _load(lead_id)
    if request.method == "GET":
        return _lead_page(lead)
    form = LeadEditForm()
    if lead.status == "converted":
        form.status.choices = [*form.status.choices, ("converted", _("Converted"))]
    if form.validate_on_submit():
        status = None if form.status.data == lead.status else form.status.data
        changed = service.update(g.agency, _staff(), lead, status=status, **_details(form))
        return done(_("Details saved.") if changed else _("Nothing changed."), _here(lead))
    return _lead_page(lead, 422, form=form)


@bp.route("/leads/<int:lead_id>/assign", methods=["POST"])
@area(AREA_PEOPLE)
def lead_assign(lead_id):
    lead = _load(lead_id)
    form = _assign_form(lead, request.form)
    if form.validate_on_submit():
        chosen = form.assigned_to.data or ""
        user = None
        if chosen:
            user_id = parse_id(chosen)
            user = next((u for u in service.staff_choices(g.agency) if u.id == user_id), None)
        if chosen and user is None:
            form.assigned_to.errors = [_("Choose a staff member from the list.")]
        else:
            changed = service.assign(g.agency, _staff(), lead, user)
            if not changed:
                message = _("Nothing changed.")
            elif user is None:
                message = _("The lead is no longer assigned.")
            else:
                message = _("Lead assigned to %(name)s.", name=user.display_name)
            return done(message, _here(lead))
    return _lead_page(lead, 422, assign_form=form)


@bp.route("/leads/<int:lead_id>/notes", methods=["POST"])
@area(AREA_PEOPLE)
def lead_note(lead_id):
    lead = _load(lead_id)
    form = LeadNoteForm()
    if form.validate_on_submit() and form.body.data.strip():
        service.add_note(g.agency, _staff(), lead, form.body.data)
        return done(_("Note added."), _here(lead))
    if not form.body.errors:
        form.body.errors = [_("Write the note.")]
    return _lead_page(lead, 422, note_form=form)


@bp.route("/leads/<int:lead_id>/files", methods=["POST"])
@area(AREA_PEOPLE)
def lead_file(lead_id):
    lead = _load(lead_id)
    form = LeadFileForm()
    if form.validate_on_submit():
        try:
            service.attach(g.agency, _staff(), lead, form.file.data)
        except documents.DocumentRefused as refused:
            form.file.errors = [str(refused.message)]
        else:
            return done(_("File attached."), _here(lead))
    return _lead_page(lead, 422, file_form=form)


@bp.route("/leads/<int:lead_id>/files/<int:attachment_id>")
@area(AREA_PEOPLE)
def lead_file_download(lead_id, attachment_id):
    lead = get_scoped_or_404(ClientLead, lead_id)
    attachment = get_child_or_404(lead, LeadAttachment, attachment_id)
    stored = storage.get(g.agency, attachment.file_id)
    if stored is None:
        abort(404)
    try:
        data = storage.read(stored)
    except (OSError, storage.StoredFileDamaged):
        current_app.logger.exception(
            "lead attachment %s: stored file %s unreadable", attachment.id, stored.id
        )
        abort(404)
    response = make_response(data)
    response.headers.update(documents.download_headers(attachment.filename, stored.content_type))
    return response


@bp.route("/leads/<int:lead_id>/files/<int:attachment_id>/remove", methods=["POST"])
@area(AREA_PEOPLE)
def lead_file_remove(lead_id, attachment_id):
    lead = get_scoped_or_404(ClientLead, lead_id)
    attachment = get_child_or_404(lead, LeadAttachment, attachment_id)
    if not LeadActionForm().validate_on_submit():
        return _lead_page(_load(lead.id), 422, error=_("The form expired; press the button again."))
    service.remove_attachment(g.agency, _staff(), attachment)
    return done(_("File removed."), _here(lead))


@bp.route("/leads/<int:lead_id>/convert", methods=["POST"])
@area(AREA_PEOPLE)
def lead_convert(lead_id):
    lead = _load(lead_id)
    if not LeadActionForm().validate_on_submit():
        return _lead_page(lead, 422, error=_("The form expired; press the button again."))
    try:
        client = service.convert(g.agency, _staff(), lead)
    except service.AlreadyConverted:
        return _lead_page(lead, 409, error=_("This lead was already converted into a client."))
    return done(
        _("Client created from the lead; the files are in the client's documents."), client_path(client.id)
    )
