"""Office: clients (list, add with "Send portal credentials", edit, deactivate) and the access
grid of each link between a person and a client.

Deactivating a client closes every portal rule at once (the policy asks `Client.is_active`), and
whoever is left without an active client is signed out everywhere. The grid saves through
`family_access.set_link_access`, whose `link_flags` keeps each relationship within its ceiling;
the sentences under it come from the same policy (`app.web.access_summary`).
"""

from flask import abort, g, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from app.auth import policies
from app.auth.policies import AREA_PEOPLE
from app.blueprints.admin import area, bp
from app.blueprints.admin.client_forms import (
    ActiveForm,
    ClientForm,
    ClientSearchForm,
    LinkAccessForm,
    LinkPersonForm,
    NewClientForm,
)
from app.blueprints.admin.forms import external_id_taken
from app.extensions import db
from app.i18n import _
from app.models import Client, ClientLink, DocumentCategory, User
from app.models.client import REL_SELF, RELATIONSHIP_LABELS
from app.models.statuses import Role
from app.services import accounts, documents, family_access
from app.services import clients as service
from app.services.history import audit_history
from app.web.access_summary import summarise
from app.web.htmx import done, render_form, render_page
from app.web.paging import page_of
from app.web.tenancy import get_scoped_or_404

PER_PAGE = 50


def _staff() -> User:
    return current_user._get_current_object()


@bp.route("/clients")
@area(AREA_PEOPLE)
def clients():
    """Clients by name, searched and paged: one statement whatever their number (the count rides
    along as a window), the portal-account flag as a correlated EXISTS."""
    form = ClientSearchForm(request.args)
    query = (form.q.data or "").strip() if form.validate() else ""
    status = form.status.data if form.status.data in ("active", "inactive", "all") else "active"
    criteria = [Client.agency_id == g.agency.id]
    if status != "all":
        criteria.append(Client.is_active.is_(status == "active"))
    if query:
        criteria.append(service.search_criterion(query))
    has_account = (
        select(ClientLink.id)
        .where(ClientLink.client_id == Client.id, ClientLink.relationship_kind == REL_SELF)
        .exists()
    )
    found = page_of(
        select(Client, has_account.label("has_account"))
        .where(*criteria)
        .order_by(Client.last_name, Client.first_name, Client.id),
        PER_PAGE,
    )
    return render_page(
        "admin/clients.html",
        fragment="admin/_client_list.html",
        form=form,
        **found.context(),
        query=query,
        shown=status,
    )


def _details(form) -> dict:
    return {name: getattr(form, name).data for name in service.EDITABLE}


def _external_id_taken(form, client_id=None) -> bool:
    return external_id_taken(form, Client, g.agency, _("Another client already has this id."), client_id)


@bp.route("/clients/new", methods=["GET", "POST"])
@area(AREA_PEOPLE)
def new_client():
    form = NewClientForm()
    if form.validate_on_submit() and not _external_id_taken(form):
        client = service.create_client(g.agency, _staff(), **_details(form))
        if form.send_credentials.data:
            user = service.give_portal_access(g.agency, _staff(), client)
            message = _(
                "Client added. Login name %(username)s; credentials are on their way to %(email)s.",
                username=user.username,
                email=user.email,
            )
        else:
            message = _("Client added.")
        return done(message, url_for("admin.client", client_id=client.id))
    return render_form("admin/client_new.html", form=form)


def _client_or_404(client_id) -> Client:
    return get_scoped_or_404(
        Client,
        client_id,
        options=(selectinload(Client.links).joinedload(ClientLink.user),),
    )


def _client_page(client, status=200, form=None, link_form=None, error=None):
    links = sorted(
        client.links,
        key=lambda link: (link.relationship_kind != REL_SELF, link.user.last_name, link.user.first_name),
    )
    return render_page(
        "admin/client.html",
        status=status,
        client=client,
        links=links,
        self_link=service.self_link(client),
        labels=RELATIONSHIP_LABELS,
        form=form or ClientForm(obj=client),
        link_form=link_form or LinkPersonForm(),
        active_form=ActiveForm(),
        history=audit_history(g.agency, client),
        section_words=family_access.section_words,
        error=error,
    )


@bp.route("/clients/<int:client_id>", methods=["GET", "POST"])
@area(AREA_PEOPLE)
def client(client_id):
    client = _client_or_404(client_id)
    if request.method == "GET":
        return _client_page(client)
    form = ClientForm()
    if form.validate_on_submit() and not _external_id_taken(form, client.id):
        changed = service.update_client(g.agency, _staff(), client, **_details(form))
        return done(
            _("Details saved.") if changed else _("Nothing changed."),
            url_for("admin.client", client_id=client.id),
        )
    return _client_page(client, 422, form=form)


@bp.route("/clients/<int:client_id>/active", methods=["POST"])
@area(AREA_PEOPLE)
def client_active(client_id):
    client = _client_or_404(client_id)
    form = ActiveForm()
    if not form.validate_on_submit() or form.active.data not in ("0", "1"):
        return _client_page(client, 422, error=_("Choose whether the client is active."))
    active = form.active.data == "1"
    signed_out = service.set_active(g.agency, _staff(), client, active)
    if active:
        message = _("Client reactivated; their people see them again.")
    else:
        message = _(
            "Client deactivated; nobody sees them in the portal any more. %(count)d people were signed out.",
            count=len(signed_out),
        )
    return done(message, url_for("admin.client", client_id=client.id))


@bp.route("/clients/<int:client_id>/portal-access", methods=["POST"])
@area(AREA_PEOPLE)
def client_portal_access(client_id):
    client = _client_or_404(client_id)
    if not ActiveForm().validate_on_submit():
        abort(400)
    if service.self_link(client) is not None:
        return _client_page(client, 409, error=_("The client already has a portal account."))
    if not client.email:
        return _client_page(
            client, 422, error=_("Enter the client's e-mail address first: the credentials go by e-mail.")
        )
    user = service.give_portal_access(g.agency, _staff(), client)
    return done(
        _("Credentials are on their way to %(email)s.", email=user.email),
        url_for("admin.client", client_id=client.id),
    )


@bp.route("/clients/<int:client_id>/links", methods=["POST"])
@area(AREA_PEOPLE)
def client_link_person(client_id):
    client = _client_or_404(client_id)
    form = LinkPersonForm()
    if not form.validate_on_submit():
        return _client_page(client, 422, link_form=form)
    wanted = form.person.data.strip().lower()
    found = db.session.scalars(
        select(User)
        .where(
            User.agency_id == g.agency.id,
            User.role == Role.PORTAL,
            User.is_active.is_(True),
            (func.lower(User.username) == wanted) | (func.lower(User.email) == wanted),
        )
        .order_by((func.lower(User.username) != wanted), User.id)
    ).all()
    # A login name is one person's; an e-mail address may be shared (a couple's), so it must name
    # exactly one account.
    by_name = [user for user in found if user.username.lower() == wanted]
    person = by_name[0] if by_name else found[0] if len(found) == 1 else None
    if len(found) > 1 and not by_name:
        form.person.errors = [_("Several accounts use this e-mail address; enter the login name instead.")]
        return _client_page(client, 422, link_form=form)
    if person is None:
        form.person.errors = [
            _("No active portal account has this login name or e-mail. Add the person first.")
        ]
        return _client_page(client, 422, link_form=form)
    if any(link.user_id == person.id for link in client.links):
        form.person.errors = [_("%(name)s is already linked to this client.", name=person.display_name)]
        return _client_page(client, 422, link_form=form)
    link = accounts.link_to_client(g.agency, _staff(), person, client, form.relationship.data)
    return done(
        _("%(name)s is linked. Check what they will see.", name=person.display_name),
        url_for("admin.link_access", link_id=link.id),
    )


# --- the access grid of one link -------------------------------------------------------------------


def _link_or_404(link_id) -> ClientLink:
    return get_scoped_or_404(
        ClientLink,
        link_id,
        options=(
            joinedload(ClientLink.user),
            joinedload(ClientLink.client),
            selectinload(ClientLink.hidden_categories),
        ),
    )


def _categories() -> list[DocumentCategory]:
    return documents.categories(g.agency)


def _access_page(link, status=200, form=None):
    categories = _categories()
    form = form or LinkAccessForm.for_link(link, categories)
    return render_page(
        "admin/link_access.html",
        status=status,
        link=link,
        form=form,
        labels=RELATIONSHIP_LABELS,
        ceilings=policies.CEILINGS,
        summary=summarise(link, categories),
    )


@bp.route("/links/<int:link_id>", methods=["GET", "POST"])
@area(AREA_PEOPLE)
def link_access(link_id):
    link = _link_or_404(link_id)
    if request.method == "GET":
        return _access_page(link)
    categories = _categories()
    form = LinkAccessForm.for_link(link, categories, formdata=request.form)
    if not form.validate_on_submit():
        return _access_page(link, 422, form)
    changed = family_access.set_link_access(
        g.agency,
        _staff(),
        link,
        form.relationship.data,
        form.sections.data,
        visit_notes=form.may_view_visit_notes.data,
        signs=form.may_sign_visits.data,
    )
    hidden = [c for c in categories if str(c.id) not in set(form.categories.data)]
    changed = documents.set_hidden_categories(g.agency, _staff(), link, hidden) or changed
    return done(
        _("Access saved.") if changed else _("Nothing changed."),
        url_for("admin.link_access", link_id=link.id),
    )


@bp.route("/links/<int:link_id>/remove", methods=["POST"])
@area(AREA_PEOPLE)
def link_remove(link_id):
    link = _link_or_404(link_id)
    if not ActiveForm().validate_on_submit():
        abort(400)
    client_id, name = link.client_id, link.user.display_name
    family_access.revoke_access(g.agency, _staff(), link)
    return done(
        _("%(name)s no longer has access; their sessions ended.", name=name),
        url_for("admin.client", client_id=client_id),
    )
