"""Office settings: the agency's name, contact, time zone, who gets schedule requests, and policies.

The form carries the version it was opened at: a save from an older copy (a second tab, another
owner) is refused with a 409 instead of silently overwriting the newer settings.
"""

from flask import flash, g, redirect, request, url_for
from sqlalchemy import select
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from app.auth.policies import AREA_SETTINGS
from app.blueprints.admin import area, bp
from app.extensions import db
from app.i18n import _, _l
from app.models import User
from app.models.agency import PAYMENT_GATEWAYS
from app.services import audit
from app.web.conflicts import check_version
from app.web.forms import Form
from app.web.htmx import render_page
from app.web.zones import zone_choices


class OfficeSettingsForm(Form):
    version = HiddenField()  # the settings' version when the form was opened (check_version)
    name = StringField(
        _l("Agency name"), validators=[DataRequired(_l("Enter the agency's name.")), Length(max=200)]
    )
    contact_email = EmailField(
        _l("Office e-mail"),
        validators=[Optional(), Email(_l("Enter an e-mail address like office@example.com."))],
    )
    contact_phone = StringField(_l("Office phone"), validators=[Optional(), Length(max=40)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=500)])
    time_zone = SelectField(_l("Time zone"))  # the short friendly list, set per request
    schedule_request_recipient_id = SelectField(_l("Schedule requests go to"), coerce=int)
    schedule_request_horizon_days = IntegerField(
        _l("Requests may be made up to this many days ahead"),
        validators=[NumberRange(7, 366, _l("Choose between %(min)s and %(max)s days."))],
    )
    message_template = TextAreaField(
        _l("Template for “E-mail the agency”"), validators=[Optional(), Length(max=2000)]
    )
    session_idle_minutes = IntegerField(
        _l("Sign out after this many idle minutes"),
        validators=[NumberRange(5, 120, _l("Choose between %(min)s and %(max)s minutes."))],
    )
    security_questions_enabled = BooleanField(
        _l("Let portal users reset their password with a security question")
    )
    staff_two_factor_required = BooleanField(_l("Require two-step sign-in for office staff"))
    payment_gateway = SelectField(
        _l("Online payment"),
        choices=[
            ("none", _l("None")),
            ("manual", _l("Record cheques and transfers by hand")),
            ("stripe", "Stripe"),
        ],
    )


FIELDS = (
    "name",
    "contact_email",
    "contact_phone",
    "address",
    "time_zone",
    "schedule_request_recipient_id",
    "schedule_request_horizon_days",
    "message_template",
    "session_idle_minutes",
    "security_questions_enabled",
    "staff_two_factor_required",
    "payment_gateway",
)


@bp.route("/settings", methods=["GET", "POST"])
@area(AREA_SETTINGS)  # the owner's alone: office and payment settings
def settings():
    agency = g.agency
    form = OfficeSettingsForm(obj=agency)
    form.time_zone.choices = zone_choices(agency.time_zone)  # the stored zone stays valid
    staff = db.session.scalars(
        select(User)
        .where(User.agency_id == agency.id, User.role == "staff", User.is_active.is_(True))
        .order_by(User.last_name, User.first_name)
    ).all()
    form.schedule_request_recipient_id.choices = [(0, _("The office e-mail address"))] + [
        (u.id, u.display_name) for u in staff
    ]
    if request.method == "GET":
        form.schedule_request_recipient_id.data = agency.schedule_request_recipient_id or 0
    else:
        # Saved from another tab or by another owner since this form was opened: refuse it whole,
        # before its field errors too, rather than overwrite what they saved. The submitted value
        # itself: a form field with no value submitted would fall back to the row's own version.
        check_version(agency, request.form.get("version"))
    if form.validate_on_submit():
        changed = {}
        for name in FIELDS:
            value = getattr(form, name).data
            if name == "schedule_request_recipient_id":
                value = value or None
            if isinstance(value, str):
                value = value.strip() or (
                    None if name not in ("name", "time_zone", "payment_gateway") else value
                )
            if getattr(agency, name) != value:
                changed[name] = str(value)[:80]
                setattr(agency, name, value)
        assert agency.payment_gateway in PAYMENT_GATEWAYS
        if changed:
            audit.record("office_settings.changed", target=agency, fields=sorted(changed))
        flash(_("Office settings saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for("admin.settings"), 303)
    status = 422 if request.method == "POST" else 200
    return render_page("admin/settings.html", status=status, form=form)
