"""Personal settings: language, time zone, text size and contrast, e-mail notifications."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField
from wtforms.validators import AnyOf, ValidationError

from app.web.i18n import _, _l

# Each language is named in itself, whatever the page's language.
LANGUAGES = [("en", "English"), ("es", "Español")]

# A short list keeps the page light on an old phone; the agency's zone and the user's current one
# are added when missing.
COMMON_ZONES = [
    ("America/New_York", _l("Eastern time (New York)")),
    ("America/Chicago", _l("Central time (Chicago)")),
    ("America/Denver", _l("Mountain time (Denver)")),
    ("America/Phoenix", _l("Mountain time, no daylight saving (Phoenix)")),
    ("America/Los_Angeles", _l("Pacific time (Los Angeles)")),
    ("America/Anchorage", _l("Alaska time (Anchorage)")),
    ("Pacific/Honolulu", _l("Hawaii time (Honolulu)")),
    ("America/Puerto_Rico", _l("Atlantic time (Puerto Rico)")),
    ("America/Mexico_City", _l("Mexico City")),
    ("Europe/London", _l("London")),
    ("Europe/Madrid", _l("Madrid")),
    ("UTC", _l("Coordinated Universal Time (UTC)")),
]


def zone_choices(agency_zone: str, current: str | None) -> list[tuple[str, str]]:
    choices = [("", _("The office's time zone (%(zone)s)", zone=agency_zone))]
    known = {value for value, _label in COMMON_ZONES}
    for extra in (agency_zone, current):
        if extra and extra not in known:
            choices.append((extra, extra))
            known.add(extra)
    return choices + COMMON_ZONES


class SettingsForm(FlaskForm):
    language = SelectField(
        _l("Language"),
        choices=LANGUAGES,
        validate_choice=False,
        validators=[AnyOf([code for code, _name in LANGUAGES], message=_l("Choose English or Español."))],
    )
    time_zone = SelectField(
        _l("Time zone"),
        validate_choice=False,
        description=_l("Visit times are shown in this time zone."),
    )
    large_text = BooleanField(_l("Larger text"))
    high_contrast = BooleanField(_l("High contrast"))
    notify_messages = BooleanField(_l("E-mail me when the office sends a message"))
    notify_visit_summary = BooleanField(_l("E-mail me when a visit summary is ready"))

    def __init__(self, *args, agency_zone: str, current_zone: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_zone.choices = zone_choices(agency_zone, current_zone)

    def validate_time_zone(self, field):
        value = field.data or ""
        if value == "":
            return
        if value not in {v for v, _ in self.time_zone.choices}:
            raise ValidationError(_("Choose a time zone from the list."))
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValidationError(_("Choose a time zone from the list.")) from error


class FeedForm(FlaskForm):
    """Create, regenerate or revoke the calendar feed: a CSRF-checked button, no fields."""
