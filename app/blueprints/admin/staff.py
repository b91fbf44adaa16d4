"""Owner: the agency's staff accounts, their role (owner or office staff), and removing one.

Adding a staff member is the people form (`admin.new_person`, which offers "Office staff" to an
owner). An agency keeps at least one active owner (`services.staff.LastOwner`, answered 422).
"""

from flask import abort, g, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.auth.policies import AREA_STAFF
from app.blueprints.admin import area, bp
from app.blueprints.admin.staff_forms import RemoveStaffForm, RoleForm, StaffSearchForm
from app.i18n import _
from app.models import User
from app.models.statuses import Role
from app.services import accounts
from app.services import staff as service
from app.web.htmx import done, render_page
from app.web.paging import page_of
from app.web.tenancy import get_scoped_or_404

PER_PAGE = 50


def _staff_page(status: int = 200, error: str | None = None):
    """The staff list, searched and paged: the page's accounts with the count as a window."""
    form = StaffSearchForm(request.args)
    query = (form.q.data or "").strip() if form.validate() else ""
    show = form.show.data if form.show.data in ("active", "removed") else "active"
    criteria = [User.agency_id == g.agency.id, User.role == Role.STAFF, User.is_active.is_(show == "active")]
    if query:
        criteria.append(accounts.search_criterion(query))
    found = page_of(
        select(User)
        .where(*criteria)
        .order_by(User.is_owner.desc(), User.last_name, User.first_name, User.id),
        PER_PAGE,
    )
    return render_page(
        "admin/staff.html",
        fragment="admin/_staff_list.html",
        status=status,
        error=error,
        form=form,
        users=[row[0] for row in found.rows],
        total=found.total,
        query=query,
        show=show,
        page=found.page,
        pages=found.pages,
    )


@bp.route("/staff")
@area(AREA_STAFF)
def staff():
    return _staff_page()


def _staff_member_or_404(user_id) -> User:
    return get_scoped_or_404(User, user_id, User.role == Role.STAFF)


def _last_owner_message(user: User) -> str:
    if user.id == current_user.id:
        return _("You are the agency's only owner: make someone else an owner first.")
    return _("%(name)s is the agency's only owner: make someone else an owner first.", name=user.display_name)


@bp.route("/staff/<int:user_id>/role", methods=["POST"])
@area(AREA_STAFF)
def staff_role(user_id):
    user = _staff_member_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _staff_page(422, error=_("Choose owner or office staff."))
    owner = form.owner.data == "1"
    try:
        service.set_owner(g.agency, current_user._get_current_object(), user, owner)
    except service.LastOwner:
        return _staff_page(422, error=_last_owner_message(user))
    if owner:
        message = _("%(name)s is now an owner.", name=user.display_name)
    else:
        message = _("%(name)s is now office staff.", name=user.display_name)
    return done(message, url_for("admin.staff"))


@bp.route("/staff/<int:user_id>/remove", methods=["POST"])
@area(AREA_STAFF)
def staff_remove(user_id):
    user = _staff_member_or_404(user_id)
    if not RemoveStaffForm().validate_on_submit():
        abort(400)
    try:
        service.remove_staff(g.agency, current_user._get_current_object(), user)
    except service.LastOwner:
        return _staff_page(422, error=_last_owner_message(user))
    return done(
        _("%(name)s was removed and signed out everywhere.", name=user.display_name), url_for("admin.staff")
    )
