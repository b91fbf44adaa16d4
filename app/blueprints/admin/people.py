"""Office: people with portal or staff accounts, and what each may do with their account.

Office staff act on portal users; a staff or owner account is the owner's alone (`can_act_on`):
for anyone else its actions answer 404 and its page is read-only. Only an owner adds staff.
"""

from flask import abort, g, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.auth.policies import AREA_PEOPLE, AREA_STAFF, can_act_on, can_manage
from app.blueprints.admin import area, bp
from app.blueprints.admin.forms import (
    PeopleSearchForm,
    PersonDetailsForm,
    PersonForm,
    TemporaryPasswordForm,
)
from app.i18n import _, _l
from app.models import Client, ClientLink, User
from app.models.client import REL_EMERGENCY, REL_LEGAL, REL_PAYER, RELATIONSHIP_LABELS
from app.models.statuses import Role
from app.services import accounts
from app.services import clients as client_service
from app.services.history import audit_history
from app.web.htmx import done, render_form, render_page
from app.web.input_guard import parse_id
from app.web.paging import page_of
from app.web.tenancy import get_scoped_or_404

PER_PAGE = 50
LAST_OWNER = _l("This is the agency's only owner: make someone else an owner first.")


@bp.route("/people")
@area(AREA_PEOPLE)
def people():
    """Everyone with an account, searched and paged: the page's people in one statement (with the
    count as a window), their links and clients in one more."""
    form = PeopleSearchForm(request.args)
    query = (form.q.data or "").strip() if form.validate() else ""
    kind = form.kind.data if form.kind.data in dict(form.kind.choices) else "all"
    criteria = [User.agency_id == g.agency.id, User.is_active.is_(kind != "inactive")]
    if kind == "portal":
        criteria.append(User.role == Role.PORTAL)
    elif kind == "staff":
        criteria.append(User.role == Role.STAFF)
    if query:
        criteria.append(accounts.search_criterion(query))
    found = page_of(
        select(User)
        .where(*criteria)
        .options(selectinload(User.links).selectinload(ClientLink.client))
        .order_by(User.role.desc(), User.last_name, User.first_name, User.id),
        PER_PAGE,
    )
    return render_page(
        "admin/people.html",
        fragment="admin/_people_list.html",
        form=form,
        users=[row[0] for row in found.rows],
        total=found.total,
        query=query,
        kind=kind,
        page=found.page,
        pages=found.pages,
        labels=RELATIONSHIP_LABELS,
    )


def _client_choices():
    return [("", "—")] + [(str(c.id), c.display_name) for c in client_service.active_clients(g.agency)]


@bp.route("/people/new", methods=["GET", "POST"])
@area(AREA_PEOPLE)
def new_person():
    form = PersonForm(may_add_staff=can_manage(current_user, AREA_STAFF))
    form.client_id.choices = _client_choices()
    if request.method == "GET" and parse_id(request.args.get("client_id")):
        form.client_id.data = request.args["client_id"]
    if form.validate_on_submit():
        temporary = form.temporary_password.data if form.access.data == "temporary" else None
        agency, actor = g.agency, current_user._get_current_object()
        user = accounts.create_person(
            agency,
            actor,
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            email=form.email.data,
            phone=form.phone.data,
            role=form.role.data,
            temporary_password=temporary,
            organisation_name=form.organisation_name.data,
        )
        if user.role == Role.PORTAL:
            client = get_scoped_or_404(Client, form.client_id.data)
            accounts.link_to_client(
                agency,
                actor,
                user,
                client,
                form.relationship.data,
                may_view_care_plan=form.relationship.data == REL_LEGAL and form.may_view_care_plan.data,
                may_view_invoices=form.relationship.data == REL_EMERGENCY and form.may_view_invoices.data,
                may_view_visit_notes=form.relationship.data == REL_PAYER and form.may_view_visit_notes.data,
            )
        if temporary is None:
            accounts.send_credentials(agency, actor, user)
            message = _(
                "Account %(username)s created; credentials are on their way to %(email)s.",
                username=user.username,
                email=user.email,
            )
        else:
            message = _(
                "Account %(username)s created with the temporary password you set.", username=user.username
            )
        return done(message, url_for("admin.person", user_id=user.id))
    return render_form("admin/person_new.html", form=form)


@bp.route("/people/<int:user_id>")
@area(AREA_PEOPLE)
def person(user_id):
    return _person_page(get_scoped_or_404(User, user_id))


def _actionable_or_404(user_id) -> User:
    """The person an account action is for, if the signed-in staff member may act on them."""
    user = get_scoped_or_404(User, user_id)
    if not can_act_on(current_user, user):
        abort(404)
    return user


def _done(user, message):
    return done(message, url_for("admin.person", user_id=user.id))


def _act(operation, user, *args):
    operation(g.agency, current_user._get_current_object(), user, *args)


def _person_page(user, status=200, password_form=None, details_form=None, error=None):
    return render_page(
        "admin/person.html",
        status=status,
        user=user,
        labels=RELATIONSHIP_LABELS,
        password_form=password_form or TemporaryPasswordForm(),
        details_form=details_form or PersonDetailsForm(obj=user),
        history=audit_history(g.agency, user),
        error=error,
    )


def _mail_to(user_id, send, done_message):
    """Run a mail-sending action for a person with an e-mail address; without one, say so (422).
    `done_message` is a translated text with an %(email)s placeholder."""
    user = _actionable_or_404(user_id)
    if not user.email:
        return _person_page(
            user, 422, error=_("This person has no e-mail address. Set a temporary password instead.")
        )
    _act(send, user)
    return _done(user, done_message % {"email": user.email})


@bp.route("/people/<int:user_id>/credentials", methods=["POST"])
@area(AREA_PEOPLE)
def send_credentials(user_id):
    return _mail_to(user_id, accounts.send_credentials, _("Credentials sent to %(email)s."))


@bp.route("/people/<int:user_id>/reset-email", methods=["POST"])
@area(AREA_PEOPLE)
def send_reset_email(user_id):
    return _mail_to(user_id, accounts.send_reset_email, _("A reset link was sent to %(email)s."))


@bp.route("/people/<int:user_id>/temporary-password", methods=["POST"])
@area(AREA_PEOPLE)
def temporary_password(user_id):
    user = _actionable_or_404(user_id)
    form = TemporaryPasswordForm()
    if not form.validate_on_submit():
        return _person_page(user, 422, password_form=form)
    _act(accounts.set_temporary_password, user, form.temporary_password.data)
    return _done(user, _("Temporary password set. They must choose their own at the next sign-in."))


@bp.route("/people/<int:user_id>/lock", methods=["POST"])
@area(AREA_PEOPLE)
def lock(user_id):
    user = _actionable_or_404(user_id)
    if user.id == current_user.id:
        return _person_page(user, 422, error=_("You cannot lock your own account."))
    if request.form.get("locked") not in ("0", "1"):
        return _person_page(user, 422, error=_("Choose whether to lock or unlock the account."))
    try:
        _act(accounts.set_locked, user, request.form["locked"] == "1")
    except accounts.LastOwner:
        return _person_page(user, 409, error=LAST_OWNER)
    return _done(
        user, _("Account locked; every session ended.") if user.is_locked else _("Account unlocked.")
    )


@bp.route("/people/<int:user_id>/details", methods=["POST"])
@area(AREA_PEOPLE)
def person_details(user_id):
    user = _actionable_or_404(user_id)
    form = PersonDetailsForm()
    if not form.validate_on_submit():
        return _person_page(user, 422, details_form=form)
    values = {name: getattr(form, name).data for name in accounts.PERSON_DETAILS}
    changed = accounts.update_person(g.agency, current_user._get_current_object(), user, **values)
    return _done(user, _("Details saved.") if changed else _("Nothing changed."))


@bp.route("/people/<int:user_id>/active", methods=["POST"])
@area(AREA_PEOPLE)
def person_active(user_id):
    user = _actionable_or_404(user_id)
    if user.id == current_user.id:
        return _person_page(user, 422, error=_("You cannot deactivate your own account."))
    if request.form.get("active") not in ("0", "1"):
        return _person_page(user, 422, error=_("Choose whether the account is active."))
    active = request.form["active"] == "1"
    try:
        _act(accounts.set_active, user, active)
    except accounts.LastOwner:
        return _person_page(user, 409, error=LAST_OWNER)
    return _done(
        user,
        _("Account reactivated.") if active else _("Account deactivated; every session ended."),
    )


@bp.route("/people/<int:user_id>/sessions", methods=["POST"])
@area(AREA_PEOPLE)
def end_sessions(user_id):
    user = _actionable_or_404(user_id)
    if user.id == current_user.id:
        return _person_page(user, 422, error=_("To sign yourself out everywhere, use your own profile."))
    _act(accounts.end_sessions, user)
    return _done(user, _("Every session of %(name)s ended.", name=user.display_name))
