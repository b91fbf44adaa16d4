"""Personal settings: language, time zone, text size and contrast, e-mail notifications."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wtforms import BooleanField, SelectField
from wtforms.validators import AnyOf, ValidationError

from app.i18n import _, _l
from app.web.forms import Form
from app.web.zones import zone_choices, zone_label

# Each language is named in itself, whatever the page's language.
LANGUAGES = [("en", "English"), ("es", "Español")]


def time_zone_choices(agency_zone: str, current: str | None) -> list[tuple[str, str]]:
    """The office's zone first, then the short list (any stored zone missing from it kept valid)."""
    office = ("", _("Same as the office (%(zone)s)", zone=zone_label(agency_zone)))
    return [office, *zone_choices(current, agency_zone)]


class SettingsForm(Form):
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
        self.time_zone.choices = time_zone_choices(agency_zone, current_zone)

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


class FeedForm(Form):
    """Create, regenerate or revoke the calendar feed: a CSRF-checked button, no fields."""
