"""Office settings: the agency's name, contact, time zone, who gets schedule requests and who hears
of new portal messages, and policies.

The form carries the version it was opened at: a save from an older copy (a second tab, another
owner) is refused with a 409 instead of silently overwriting the newer settings.
"""

from flask import g, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.auth.policies import AREA_SETTINGS
from app.blueprints.admin import area, bp
from app.blueprints.admin.forms import OfficeSettingsForm
from app.extensions import db
from app.i18n import _
from app.models import User
from app.models.statuses import Role
from app.services import gateway_keys
from app.services.agencies import GATEWAY_KEYS, OFFICE_SETTINGS, update_office_settings
from app.web.conflicts import check_version
from app.web.htmx import done, render_form
from app.web.zones import zone_choices


@bp.route("/settings", methods=["GET", "POST"])
@area(AREA_SETTINGS)  # the owner's alone: office and payment settings
def settings():
    agency = g.agency
    form = OfficeSettingsForm(obj=agency)
    form.time_zone.choices = zone_choices(agency.time_zone)  # the stored zone stays valid
    staff = db.session.scalars(
        select(User)
        .where(User.agency_id == agency.id, User.role == Role.STAFF, User.is_active.is_(True))
        .order_by(User.last_name, User.first_name)
    ).all()
    recipients = [(0, _("The office e-mail address"))] + [(u.id, u.display_name) for u in staff]
    form.schedule_request_recipient_id.choices = recipients
    form.message_recipient_id.choices = recipients
    if request.method == "GET":
        form.schedule_request_recipient_id.data = agency.schedule_request_recipient_id or 0
        form.message_recipient_id.data = agency.message_recipient_id or 0
    else:
        if "message_recipient_id" not in request.form:
            # A form opened before this setting existed keeps the stored choice.
            form.message_recipient_id.data = agency.message_recipient_id or 0
        # Saved from another tab or by another owner since this form was opened: refuse it whole,
        # before its field errors too, rather than overwrite what they saved. The submitted value
        # itself: a form field with no value submitted would fall back to the row's own version.
        check_version(agency, request.form.get("version"))
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in OFFICE_SETTINGS}
        keys = {
            name: "" if getattr(form, f"{name}_remove").data else (getattr(form, name).data or None)
            for name in GATEWAY_KEYS
        }
        changed = update_office_settings(agency, current_user._get_current_object(), values, keys)
        return done(
            _("Office settings saved.") if changed else _("Nothing changed."), url_for("admin.settings")
        )
    return render_form("admin/settings.html", form=form, stored_keys=_stored_keys(agency))


def _stored_keys(agency) -> dict:
    """Each gateway key as the page may show it: masked, "unreadable" (sealed under another
    GATEWAY_KEYS_SECRET), or None when none is stored."""
    shown = {}
    for name, column in GATEWAY_KEYS.items():
        token = getattr(agency, column)
        key = gateway_keys.unseal_or_none(token)
        shown[name] = gateway_keys.masked(key) if key else ("unreadable" if token else None)
    return shown
