"""Office settings: the agency's name, contact, time zone, who gets schedule requests and who hears
of new portal messages, and policies.

The form carries the version it was opened at: a save from an older copy (a second tab, another
owner) is refused with a 409 instead of silently overwriting the newer settings.
"""

from flask import current_app, g, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.auth.policies import AREA_SETTINGS
from app.blueprints.admin import area, bp
from app.blueprints.admin.forms import LogoForm, OfficeSettingsForm
from app.extensions import db
from app.i18n import _
from app.models import User
from app.models.statuses import Role
from app.services import agencies, gateway_keys
from app.services.agencies import GATEWAY_KEYS, OFFICE_SETTINGS, update_office_settings
from app.services.links import agency_url
from app.services.profile import MAX_PICTURE_BYTES, PictureRefused
from app.web.conflicts import check_version
from app.web.htmx import done, render_form
from app.web.zones import zone_choices


@bp.route("/settings", methods=["GET", "POST"])
@area(AREA_SETTINGS)  # the owner's alone: office and payment settings
def settings():
    agency = g.agency
    form = _office_form(agency)
    if request.method == "POST":
        if "message_recipient_id" not in request.form:
            # A form opened before this setting existed keeps the stored choice.
            form.message_recipient_id.data = agency.message_recipient_id or 0
        if "host" not in request.form:
            form.host.data = agency.host or ""
        # Saved from another tab or by another owner since this form was opened: refuse it whole,
        # before its field errors too, rather than overwrite what they saved. The submitted value
        # itself: a form field with no value submitted would fall back to the row's own version.
        check_version(agency, request.form.get("version"))
    if form.validate_on_submit() and not _host_taken(form, agency):
        values = {name: getattr(form, name).data for name in OFFICE_SETTINGS}
        keys = {
            name: "" if getattr(form, f"{name}_remove").data else (getattr(form, name).data or None)
            for name in GATEWAY_KEYS
        }
        changed = update_office_settings(agency, current_user._get_current_object(), values, keys)
        if agencies.set_host(agency, current_user._get_current_object(), form.host.data):
            # The portal now answers at the new address only: continue there (sign in again).
            return done(_("Office settings saved."), agency_url(agency, "admin.settings"))
        return done(
            _("Office settings saved.") if changed else _("Nothing changed."), url_for("admin.settings")
        )
    return _settings_page(agency, form, LogoForm())


def _settings_page(agency, form, logo_form):
    return render_form(
        "admin/settings.html", form=form, stored_keys=_stored_keys(agency), logo_form=logo_form
    )


def _office_form(agency, **kwargs) -> OfficeSettingsForm:
    """The settings form with its choices; on GET (or `formdata=None`) filled in from the agency."""
    form = OfficeSettingsForm(obj=agency, **kwargs)
    form.time_zone.choices = zone_choices(agency.time_zone)  # the stored zone stays valid
    staff = db.session.scalars(
        select(User)
        .where(User.agency_id == agency.id, User.role == Role.STAFF, User.is_active.is_(True))
        .order_by(User.last_name, User.first_name)
    ).all()
    recipients = [(0, _("The office e-mail address"))] + [(u.id, u.display_name) for u in staff]
    form.schedule_request_recipient_id.choices = recipients
    form.message_recipient_id.choices = recipients
    if request.method == "GET" or "formdata" in kwargs:
        form.schedule_request_recipient_id.data = agency.schedule_request_recipient_id or 0
        form.message_recipient_id.data = agency.message_recipient_id or 0
    return form


def _host_taken(form, agency) -> bool:
    host = form.host.data
    if host and agencies.host_taken(agency, host, current_app.config["DEFAULT_AGENCY_HOSTS"]):
        form.host.errors = [_("Another agency's portal already answers at this address.")]
        return True
    return False


@bp.route("/settings/logo", methods=["POST"])
@area(AREA_SETTINGS)
def settings_logo():
    """Upload (re-encoded, at most 512×512) or remove the agency's logo."""
    form = LogoForm()
    if form.validate_on_submit():
        owner = current_user._get_current_object()
        if request.form.get("remove") == "1":
            agencies.remove_logo(g.agency, owner)
            return done(_("Logo removed."), url_for("admin.settings"))
        upload = form.logo.data
        if upload is None or not getattr(upload, "filename", None):
            form.logo.errors.append(_("Choose a logo to upload."))
        else:
            try:
                agencies.set_logo(g.agency, owner, upload.stream.read(MAX_PICTURE_BYTES + 1))
            except PictureRefused as refused:
                form.logo.errors.append(str(refused.message))
            else:
                return done(_("Logo saved."), url_for("admin.settings"))
    return _settings_page(g.agency, _office_form(g.agency, formdata=None), form)


def _stored_keys(agency) -> dict:
    """Each gateway key as the page may show it: masked, "unreadable" (sealed under another
    GATEWAY_KEYS_SECRET), or None when none is stored."""
    shown = {}
    for name, column in GATEWAY_KEYS.items():
        token = getattr(agency, column)
        key = gateway_keys.unseal_or_none(token)
        shown[name] = gateway_keys.masked(key) if key else ("unreadable" if token else None)
    return shown
