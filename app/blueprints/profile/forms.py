"""Profile forms: contact details, the picture, personal settings (language, time zone, text
size and contrast, e-mail notifications)."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError
from email_validator import validate_email as check_email_address
from flask_wtf.file import FileField
from wtforms import BooleanField, EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, Optional, ValidationError

from app.i18n import _, _l
from app.services import profile as profile_service
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


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ContactForm(Form):
    """Names, phone, postal address and e-mail. After validation `phone_e164` holds the number in
    E.164 (None for no number) and `email_normalized` the address (None for none)."""

    first_name = StringField(
        _l("First name"),
        filters=[_strip],
        validators=[DataRequired(_l("Enter your first name.")), Length(max=100)],
    )
    last_name = StringField(
        _l("Last name"),
        filters=[_strip],
        validators=[DataRequired(_l("Enter your last name.")), Length(max=100)],
    )
    phone = StringField(_l("Phone"), filters=[_strip], validators=[Optional(), Length(max=40)])
    address = TextAreaField(
        _l("Postal address"),
        filters=[_strip],
        validators=[Optional(), Length(max=500)],
        render_kw={"rows": 3},
    )
    email = EmailField(
        _l("E-mail"),
        filters=[_strip],
        description=_l(
            "A new address takes effect when you open the link we send to it. "
            "Leave the field empty to remove your address."
        ),
        validators=[Optional(), Length(max=254)],
    )

    def __init__(self, *args, region: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.region = region
        self.phone_e164 = None
        self.email_normalized = None
        self.phone.description = _("For example %(example)s.", example=profile_service.phone_example(region))

    def validate_phone(self, field):
        if not field.data:
            return
        self.phone_e164 = profile_service.normalize_phone(field.data, self.region)
        if self.phone_e164 is None:
            raise ValidationError(
                _(
                    "Enter a phone number like %(example)s.",
                    example=profile_service.phone_example(self.region),
                )
            )

    def validate_email(self, field):
        if not field.data:
            return
        try:
            # Syntax only: no DNS look-up. Non-ASCII before the @ is refused: few mail servers take it.
            result = check_email_address(field.data, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError as error:
            raise ValidationError(_("Enter an e-mail address like name@example.com.")) from error
        if len(result.normalized) > 254:
            raise ValidationError(_("Enter an e-mail address like name@example.com."))
        self.email_normalized = result.normalized


class PictureForm(Form):
    picture = FileField(
        _l("Choose a photo"),
        description=_l(
            "JPEG, PNG or WebP, at most 5 MB. We keep a smaller copy without the photo's hidden "
            "details, such as where it was taken."
        ),
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )


class ConfirmEmailForm(Form):
    """The button on the confirmation page: a mail scanner that opens the link changes nothing."""
