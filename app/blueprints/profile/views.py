"""Profile views."""

from flask import flash, g, redirect, request, url_for
from flask_login import current_user

from app.auth.policies import SCHEDULE
from app.blueprints.profile import bp
from app.blueprints.profile.forms import FeedForm, SettingsForm
from app.i18n import _
from app.services import audit, calendar_feed
from app.services.links import agency_url
from app.web.htmx import done, is_partial_request, render_page

SETTING_FIELDS = ("language", "large_text", "high_contrast", "notify_messages", "notify_visit_summary")
DISPLAY_FIELDS = {"language", "large_text", "high_contrast"}


@bp.route("/profile/contact")
def contact():
    return render_page("coming_later.html", heading=_("Contact information"))


@bp.route("/profile/picture")
def picture():
    return render_page("coming_later.html", heading=_("Profile picture"))


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
