"""Profile views."""

from flask import abort, current_app, flash, g, make_response, redirect, request, url_for
from flask_login import current_user

from app.auth.policies import SCHEDULE
from app.auth.tokens import user_for_token
from app.blueprints.profile import bp
from app.blueprints.profile.forms import ConfirmEmailForm, ContactForm, FeedForm, PictureForm, SettingsForm
from app.extensions import limiter
from app.i18n import _
from app.services import audit, calendar_feed, storage
from app.services import profile as profile_service
from app.services.links import agency_url
from app.web.access import public
from app.web.forms import Form
from app.web.htmx import done, is_partial_request, render_form, render_page

SETTING_FIELDS = ("language", "large_text", "high_contrast", "notify_messages", "notify_visit_summary")
DISPLAY_FIELDS = {"language", "large_text", "high_contrast"}


# --- contact information -------------------------------------------------------------------------


def _contact_form(**kwargs) -> ContactForm:
    return ContactForm(region=profile_service.phone_region(g.agency), **kwargs)


def _shown_contact_form(user) -> ContactForm:
    """The form filled in from the account: the phone number in national format."""
    form = _contact_form(formdata=None, obj=user)
    form.phone.data = profile_service.format_phone(user.phone, form.region)
    form.email.data = user.email or ""
    return form


def _this_user() -> str:
    return f"user:{current_user.id}"


@bp.route("/profile/contact", methods=["GET", "POST"])
# Each save may mail a confirmation link to any address typed: a budget per account, so a signed-in
# account cannot be used to flood someone's inbox.
@limiter.limit("10 per hour", key_func=_this_user, methods=["POST"])
def contact():
    user = current_user._get_current_object()
    if request.method == "GET":
        form = _shown_contact_form(user)
    else:
        form = _contact_form()
        if form.validate_on_submit():
            address = form.email_normalized
            outcome = profile_service.update_contact(
                g.agency,
                user,
                user,
                first_name=form.first_name.data,
                last_name=form.last_name.data,
                phone=form.phone_e164,
                address=form.address.data,
                email=address,
            )
            message = _("Your contact information is saved.")
            if outcome == "removed":
                message += " " + _("Your e-mail address is removed.")
            elif outcome == "pending":
                message += " " + _(
                    "We sent a link to %(email)s; your address changes when you open it.", email=address
                )
            return done(
                message,
                url_for("profile.contact"),
                fragment="profile/_contact_form.html",
                form=_shown_contact_form(user),
                user=user,
            )
    return render_form("profile/contact.html", fragment="profile/_contact_form.html", form=form, user=user)


@bp.route("/profile/contact/cancel-email", methods=["POST"])
def cancel_email():
    """Forget the address waiting for confirmation (its link stops working)."""
    user = current_user._get_current_object()
    if Form().validate_on_submit() and user.pending_email:
        profile_service.cancel_email_change(g.agency, user, user)
        message = _("The change of e-mail address is cancelled.")
    else:
        message = None
    return done(
        message,
        url_for("profile.contact"),
        fragment="profile/_contact_form.html",
        form=_shown_contact_form(user),
        user=user,
    )


@bp.route("/profile/contact/confirm/<token>", methods=["GET", "POST"])
@public
def confirm_email(token):
    """The link mailed to a new address. Public: it is opened from a mail program, often on a phone
    that is not signed in, and the signed token is the credential (this user, this agency, the
    current e-mail nonce, 24 hours, once). Opening it only shows a button, so a mail scanner that
    fetches links changes nothing; pressing the button (a POST with the form token) applies it."""
    user = user_for_token(token, "email_confirm", g.agency.id)
    if user is None or user.is_staff or not user.pending_email:
        return render_page("profile/email_link_invalid.html", status=404)
    form = ConfirmEmailForm()
    if form.validate_on_submit():
        address = profile_service.confirm_email(g.agency, user, user)
        if current_user.is_authenticated:
            to = url_for("profile.contact") if current_user.id == user.id else url_for("dashboard.index")
        else:
            to = url_for("auth.login")
        return done(_("Your e-mail address is now %(email)s.", email=address), to)
    return render_form("profile/confirm_email.html", form=form, address=user.pending_email)


# --- profile picture -----------------------------------------------------------------------------


@bp.route("/profile/picture", methods=["GET", "POST"])
def picture():
    """Upload a picture. Uploads past the app-wide MAX_CONTENT_LENGTH (10 MB) are refused with 413
    before any view runs; this view refuses anything past 5 MB beside the field."""
    user = current_user._get_current_object()
    form = PictureForm()
    if request.method == "POST" and form.validate_on_submit():
        upload = form.picture.data
        if upload is None or not getattr(upload, "filename", None):
            form.picture.errors.append(_("Choose a photo to upload."))
        else:
            data = upload.stream.read(profile_service.MAX_PICTURE_BYTES + 1)
            try:
                profile_service.set_picture(g.agency, user, user, data)
            except profile_service.PictureRefused as refused:
                form.picture.errors.append(str(refused.message))
            else:
                return done(
                    _("Your picture is saved."),
                    url_for("profile.picture"),
                    fragment="profile/_picture.html",
                    form=PictureForm(formdata=None),
                    user=user,
                )
    return render_form("profile/picture.html", fragment="profile/_picture.html", form=form, user=user)


@bp.route("/profile/picture/remove", methods=["POST"])
def picture_remove():
    user = current_user._get_current_object()
    if Form().validate_on_submit() and profile_service.remove_picture(g.agency, user, user):
        message = _("Your picture is removed.")
    else:
        message = _("You have no picture to remove.")
    return done(
        message,
        url_for("profile.picture"),
        fragment="profile/_picture.html",
        form=PictureForm(formdata=None),
        user=user,
    )


@bp.route("/profile/picture/image")
def picture_image():
    """The signed-in user's own picture, and nobody else's: the URL names no one."""
    user = current_user._get_current_object()
    stored = storage.get(g.agency, user.photo_file_id)
    if stored is None:
        abort(404)
    try:
        data = storage.read(stored)
    except (OSError, storage.StoredFileDamaged):
        current_app.logger.exception("user %s: stored picture %s unreadable", user.id, stored.id)
        abort(404)
    mimetype = storage.image_type(data)  # from the bytes: only JPEG, PNG and WebP are served
    if mimetype is None:
        abort(404)
    response = make_response(data)
    response.mimetype = mimetype
    response.headers["Content-Disposition"] = "inline"
    response.cache_control.private = True  # the browser may keep it; shared caches may not
    response.cache_control.max_age = 3600  # the page's link names the file (?v=), so a new one shows
    return response


# --- personal settings ---------------------------------------------------------------------------


def _settings_form(user, **kwargs) -> SettingsForm:
    return SettingsForm(agency_zone=g.agency.time_zone, current_zone=user.time_zone, **kwargs)


def _feed_context(user, new_url: str | None = None) -> dict:
    return {
        "feed_token": calendar_feed.active_token(user),
        "feed_url": new_url,
        "feed_form": FeedForm(formdata=None),
        "feed_allowed": g.access.any_allows(SCHEDULE),
    }


def _settings_page(user, form, status=200, fragment=None, **feed):
    return render_page(
        "profile/settings.html",
        fragment=fragment,
        status=status,
        form=form,
        **(feed or _feed_context(user)),
    )


@bp.route("/profile/settings", methods=["GET", "POST"])
def settings():
    user = current_user._get_current_object()
    if request.method == "GET":
        form = _settings_form(user, formdata=None, obj=user)
        form.time_zone.data = user.time_zone or ""
        return _settings_page(user, form)
    form = _settings_form(user)
    if form.validate_on_submit():
        # Said in the language the form was filled in, before a language change takes effect.
        saved_message = _("Your settings are saved.")
        changed = {}
        for name in SETTING_FIELDS:
            value = getattr(form, name).data
            if getattr(user, name) != value:
                changed[name] = value
                setattr(user, name, value)
        zone = form.time_zone.data or None
        if user.time_zone != zone:
            changed["time_zone"] = zone
            user.time_zone = zone
        if changed:
            audit.record("profile.settings_changed", actor=user, target=user, changed=sorted(changed))
        # Text size, contrast and language change the whole page: htmx loads it anew.
        fragment = None if changed.keys() & DISPLAY_FIELDS else "profile/_settings_form.html"
        return done(saved_message, url_for("profile.settings"), fragment=fragment, form=form, saved=True)
    return _settings_page(user, form, status=422, fragment="profile/_settings_form.html")


@bp.route("/profile/settings/calendar-feed", methods=["POST"])
def feed_create():
    """Create (or regenerate) the calendar feed. The new URL is shown in this answer, once: it is
    never put in a redirect, the session cookie or a log, and only its hash is kept."""
    user = current_user._get_current_object()
    if not g.access.any_allows(SCHEDULE) or not FeedForm().validate_on_submit():
        return redirect(url_for("profile.settings"), 303)
    token = calendar_feed.issue_token(user)
    url = agency_url(g.agency, "schedule.feed", token=token)
    form = _settings_form(user, formdata=None, obj=user)
    form.time_zone.data = user.time_zone or ""
    return _settings_page(user, form, fragment="profile/_settings_feed.html", **_feed_context(user, url))


@bp.route("/profile/settings/calendar-feed/revoke", methods=["POST"])
def feed_revoke():
    user = current_user._get_current_object()
    if FeedForm().validate_on_submit() and calendar_feed.revoke_token(user):
        message = _("Your calendar feed is switched off. Calendars subscribed to it stop updating.")
    else:
        message = _("You have no calendar feed to switch off.")
    if is_partial_request():
        return render_page(
            "profile/settings.html",
            fragment="profile/_settings_feed.html",
            feed_message=message,
            **_feed_context(user),
        )
    flash(message, "success")
    return redirect(url_for("profile.settings"), 303)
