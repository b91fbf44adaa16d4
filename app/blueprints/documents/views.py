"""Documents the agency shares with a client, by the agency's categories; downloads; the families'
uploads to a category the agency opened for them.

A category this user's link hides is never shown, not even its name or count, and its documents
answer 404 like any document out of reach (`policies.document_visible`). Every download is a
"viewed" event in the client's "who viewed my record" log.
"""

from flask import abort, g, request, url_for
from flask_login import current_user

from app.auth.policies import DOCUMENTS, document_visible, may_upload_document
from app.blueprints.documents import bp
from app.blueprints.documents.forms import FamilyUploadForm
from app.i18n import _
from app.models import Document
from app.services import documents as service
from app.web.downloads import document_download
from app.web.htmx import done, render_form, render_page
from app.web.input_guard import parse_id
from app.web.portal import get_portal_or_404, selected_client

PER_CATEGORY = 10  # the overview shows the newest of each category; the category's own page all
PER_PAGE = 50


def _user():
    return current_user._get_current_object()


def _upload_form(category_id: int, submitted: bool = False) -> FamilyUploadForm:
    """One form per open category, each with its own field names and ids (`c<id>-title`); a
    submitted one reads the request (its fields and its file)."""
    if submitted:
        return FamilyUploadForm(prefix=f"c{category_id}")
    return FamilyUploadForm(formdata=None, prefix=f"c{category_id}")


def _page_context(client, form: FamilyUploadForm | None = None, form_category_id: int | None = None) -> dict:
    link = g.access.link(client.id)
    shown = service.categories(g.agency, service.hidden_category_ids(link))
    chosen = None
    if "category" in request.args:
        chosen_id = parse_id(request.args["category"])
        chosen = next((category for category in shown if category.id == chosen_id), None)
        if chosen is None:
            abort(404)  # unknown, another agency's, or hidden from this link: all the same
    page, pages = 1, 1
    if chosen is None:
        listings = [
            listing
            for listing in service.grouped(g.agency, client.id, shown, PER_CATEGORY)
            if listing.total or may_upload_document(link, listing.category)
        ]
    else:
        page = parse_id(request.args.get("page", "1")) or 1
        total, rows = service.category_page(client.id, chosen.id, page, PER_PAGE)
        if page > 1 and not rows:
            abort(404)
        pages = max(1, -(-total // PER_PAGE))
        listings = [service.CategoryListing(chosen, total, rows)]
    forms = {
        listing.category.id: _upload_form(listing.category.id)
        for listing in listings
        if may_upload_document(link, listing.category)
    }
    if form is not None and form_category_id in forms:
        forms[form_category_id] = form
    return {
        "client": client,
        "clients": g.access.clients(DOCUMENTS),
        "listings": listings,
        "category": chosen,
        "page": page,
        "pages": pages,
        "forms": forms,
    }


@bp.route("/documents")
def index():
    client = selected_client(DOCUMENTS)
    return render_page("documents/index.html", fragment="documents/_list.html", **_page_context(client))


@bp.route("/documents/<int:document_id>")
def download(document_id):
    document = get_portal_or_404(Document, document_id, DOCUMENTS, rule=document_visible)
    return document_download(document, _user())


@bp.route("/documents/upload", methods=["POST"])
def upload():
    """A family member adds a file to a category the agency opened to families (404 for any other)."""
    client = selected_client(DOCUMENTS)
    category_id = parse_id(request.form.get("category"))
    if category_id is None:
        abort(404)
    link = g.access.link(client.id)
    category = next(
        (c for c in service.categories(g.agency, service.hidden_category_ids(link)) if c.id == category_id),
        None,
    )
    if category is None or not may_upload_document(link, category):
        abort(404)
    form = _upload_form(category.id, submitted=True)
    if form.validate_on_submit():
        try:
            document = service.upload(g.agency, _user(), client, category, form.title.data, form.file.data)
        except service.DocumentRefused as refused:
            form.file.errors.append(str(refused.message))
        else:
            return done(
                _("“%(title)s” is added to %(category)s.", title=document.title, category=category.name),
                url_for("documents.index", client=client.id),
            )
    return render_form(
        "documents/index.html",
        fragment="documents/_list.html",
        **_page_context(client, form=form, form_category_id=category.id),
    )
