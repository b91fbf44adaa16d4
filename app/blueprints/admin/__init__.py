"""The agency staff area. Every route here is for staff of the host's agency only, and each view
declares the admin area it belongs to with `@area(...)`; the blueprint's guard asks
`policies.can_manage` before any view runs, so a new view is closed until someone says which area
it is in, and a view an office staff member may not use answers 404 like anything out of reach."""

from flask import Blueprint, abort, current_app, request
from flask_login import current_user

from app.auth.policies import can_manage

bp = Blueprint("admin", __name__, url_prefix="/admin")


def area(name: str):
    """Declare the admin area of a view: `@area(AREA_SETTINGS)` beneath `@bp.route`."""

    def declare(view):
        view.admin_area = name
        return view

    return declare


def area_of(endpoint: str | None) -> str | None:
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return getattr(view, "admin_area", None)


@bp.before_request
def _guard():
    if not can_manage(current_user, area_of(request.endpoint)):
        abort(404)


from app.blueprints.admin import (  # noqa: E402,F401
    audit_log,
    billing,
    care_plans,
    caregivers,
    clients,
    documents,
    imports,
    invitations,
    leads,
    messages,
    people,
    schedule_requests,
    settings,
    staff,
    views,
    visit_records,
    visit_series,
    visits,
)
