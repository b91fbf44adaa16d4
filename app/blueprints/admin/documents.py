"""The office's documents: categories (add, rename, order, open to the families' uploads), a
client's documents (upload, download, remove) and which categories each of the client's portal
users sees.

`/admin/documents` lists the categories and finds a client by name (a search, so the page stays
small with a thousand clients); `/admin/documents/clients/<id>` is one client's documents. The rules
are app/services/documents.py's; by-id lookups go through `get_scoped_or_404`, so another agency's
ids answer 404, and a link or a document is found through its client.
"""

from flask import abort, g, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from app.auth.policies import AREA_DOCUMENTS, DOCUMENTS, link_allows
from app.blueprints.admin import area, bp
from app.blueprints.admin.document_forms import (
    CategoryForm,
    ClientSearchForm,
    LinkCategoriesForm,
    MoveForm,
    OfficeUploadForm,
)
from app.extensions import db
from app.i18n import _
from app.models import Client, ClientLink, Document, DocumentCategory
from app.models.client import RELATIONSHIP_LABELS
from app.services import documents as service
from app.web.downloads import document_download
from app.web.forms import Form
from app.web.htmx import done, render_form
from app.web.input_guard import parse_id
from app.web.tenancy import get_child_or_404, get_scoped_or_404

CLIENTS_FOUND = 20
PER_PAGE = 50


def _staff():
    return current_user._get_current_object()


# --- categories and the client search ----------------------------------------------------------------


def _find_clients(query: str) -> list[Client]:
    pattern = f"%{query}%"
    return list(
        db.session.scalars(
            select(Client)
            .where(
                Client.agency_id == g.agency.id,
                or_(
                    Client.first_name.ilike(pattern),
                    Client.last_name.ilike(pattern),
                    (Client.first_name + " " + Client.last_name).ilike(pattern),
                ),
            )
            .order_by(Client.is_active.desc(), Client.last_name, Client.first_name, Client.id)
            .limit(CLIENTS_FOUND)
        )
    )


def _category_form(category: DocumentCategory, formdata=None) -> CategoryForm:
    prefix = f"category{category.id}"
    if formdata is None:
        return CategoryForm(
            formdata=None, prefix=prefix, name=category.name, families_may_upload=category.families_may_upload
        )
    return CategoryForm(prefix=prefix)


def _documents_page(new_form=None, edited=None, edited_form=None):
    search = ClientSearchForm(request.args)
    query = (search.q.data or "").strip() if search.validate() else ""
    rows = service.category_counts(g.agency)
    forms = {category.id: _category_form(category) for category, _count in rows}
    if edited is not None:
        forms[edited.id] = edited_form
    return render_form(
        "admin/documents.html",
        rows=rows,
        forms=forms,
        new_form=new_form or CategoryForm(formdata=None, prefix="new"),
        search=search,
        query=query,
        found=_find_clients(query) if query else [],
        clients_found_max=CLIENTS_FOUND,
    )


@bp.route("/documents")
@area(AREA_DOCUMENTS)
def documents():
    return _documents_page()


@bp.route("/documents/categories", methods=["POST"])
@area(AREA_DOCUMENTS)
def add_document_category():
    form = CategoryForm(prefix="new")
    if form.validate_on_submit():
        try:
            category = service.add_category(g.agency, _staff(), form.name.data, form.families_may_upload.data)
        except service.DocumentRefused as refused:
            form.name.errors.append(str(refused.message))
        else:
            return done(_("Category %(name)s added.", name=category.name), url_for("admin.documents"))
    return _documents_page(new_form=form)


@bp.route("/documents/categories/<int:category_id>", methods=["POST"])
@area(AREA_DOCUMENTS)
def save_document_category(category_id):
    category = get_scoped_or_404(DocumentCategory, category_id)
    form = _category_form(category, formdata=request.form)
    if form.validate_on_submit():
        staff = _staff()
        try:
            renamed = service.rename_category(g.agency, staff, category, form.name.data)
        except service.DocumentRefused as refused:
            form.name.errors.append(str(refused.message))
        else:
            opened = service.set_families_may_upload(g.agency, staff, category, form.families_may_upload.data)
            message = (
                _("Category %(name)s saved.", name=category.name)
                if renamed or opened
                else _("Nothing to change in %(name)s.", name=category.name)
            )
            return done(message, url_for("admin.documents"))
    return _documents_page(edited=category, edited_form=form)


@bp.route("/documents/categories/<int:category_id>/move", methods=["POST"])
@area(AREA_DOCUMENTS)
def move_document_category(category_id):
    category = get_scoped_or_404(DocumentCategory, category_id)
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400)
    service.move_category(g.agency, _staff(), category, -1 if form.step.data == "up" else 1)
    return done(None, url_for("admin.documents") + f"#category-{category.id}")


# --- one client's documents ------------------------------------------------------------------------------


def _links(client: Client) -> list[ClientLink]:
    """The client's portal users with the categories each hides: one statement."""
    return list(
        db.session.scalars(
            select(ClientLink)
            .where(ClientLink.agency_id == g.agency.id, ClientLink.client_id == client.id)
            .options(joinedload(ClientLink.user), joinedload(ClientLink.hidden_categories))
            .order_by(ClientLink.id)
        ).unique()
    )


def _client_page(client: Client, upload_form=None, link_forms=None):
    categories = service.categories(g.agency)
    page = parse_id(request.args.get("page", "1")) or 1
    total, rows = service.category_page(client.id, None, page, PER_PAGE)
    if page > 1 and not rows:
        abort(404)
    links = _links(client)
    forms = {
        link.id: LinkCategoriesForm(
            formdata=None,
            prefix=f"link{link.id}",
            categories=categories,
            shown=[str(c.id) for c in categories if c.id not in service.hidden_category_ids(link)],
        )
        for link in links
        if link_allows(link, DOCUMENTS)
    }
    forms.update(link_forms or {})
    return render_form(
        "admin/documents_client.html",
        client=client,
        categories={c.id: c for c in categories},
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        upload_form=upload_form or OfficeUploadForm(formdata=None, categories=categories),
        links=links,
        link_forms=forms,
        labels=RELATIONSHIP_LABELS,
        remove_form=Form(formdata=None),
    )


@bp.route("/documents/clients/<int:client_id>")
@area(AREA_DOCUMENTS)
def client_documents(client_id):
    return _client_page(get_scoped_or_404(Client, client_id))


@bp.route("/documents/clients/<int:client_id>/upload", methods=["POST"])
@area(AREA_DOCUMENTS)
def upload_document(client_id):
    client = get_scoped_or_404(Client, client_id)
    categories = service.categories(g.agency)
    form = OfficeUploadForm(categories=categories)
    if form.validate_on_submit():
        category = next(c for c in categories if str(c.id) == form.category.data)
        try:
            document = service.upload(g.agency, _staff(), client, category, form.title.data, form.file.data)
        except service.DocumentRefused as refused:
            form.file.errors.append(str(refused.message))
        else:
            return done(
                _(
                    "“%(title)s” is shared with %(client)s in %(category)s.",
                    title=document.title,
                    client=client.display_name,
                    category=category.name,
                ),
                url_for("admin.client_documents", client_id=client.id),
            )
    return _client_page(client, upload_form=form)


@bp.route("/documents/clients/<int:client_id>/links/<int:link_id>", methods=["POST"])
@area(AREA_DOCUMENTS)
def document_link_categories(client_id, link_id):
    """Which categories of this client's documents one portal user sees (the per-link switches)."""
    client = get_scoped_or_404(Client, client_id)
    link = get_child_or_404(client, ClientLink, link_id)
    if not link_allows(link, DOCUMENTS):
        abort(404)  # this person does not see the documents at all: there is nothing to narrow
    categories = service.categories(g.agency)
    form = LinkCategoriesForm(prefix=f"link{link.id}", categories=categories)
    if not form.validate_on_submit():
        return _client_page(client, link_forms={link.id: form})
    shown = set(form.shown.data or [])
    hidden = [c for c in categories if str(c.id) not in shown]
    changed = service.set_hidden_categories(g.agency, _staff(), link, hidden)
    person = link.user.display_name
    message = (
        _("%(person)s now sees the chosen categories.", person=person)
        if changed
        else _("Nothing to change for %(person)s.", person=person)
    )
    return done(message, url_for("admin.client_documents", client_id=client.id))


# --- one document ------------------------------------------------------------------------------------------


@bp.route("/documents/<int:document_id>")
@area(AREA_DOCUMENTS)
def download_document(document_id):
    """The office's copy of the download, recorded in the client's "who viewed my record" log."""
    return document_download(get_scoped_or_404(Document, document_id), _staff())


@bp.route("/documents/<int:document_id>/remove", methods=["POST"])
@area(AREA_DOCUMENTS)
def remove_document(document_id):
    document = get_scoped_or_404(Document, document_id)
    if not Form().validate_on_submit():
        abort(400)
    client_id, title = document.client_id, document.title
    service.remove(g.agency, _staff(), document)
    return done(
        _("“%(title)s” is removed.", title=title), url_for("admin.client_documents", client_id=client_id)
    )
