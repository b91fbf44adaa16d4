"""The base of every form: what a person types in a one-line field stays on one line.

Tab, newline and carriage return pass the request-wide control-character check (multi-line text
needs them), but in a name, an e-mail address, a phone number or a login name they are a typo at
best and a mail header injection at worst ("Eve\\r\\nBcc: …"). Every single-line field of a form
built on `Form` refuses them with a message beside the field; text areas keep their lines.
"""

import re

from flask_wtf import FlaskForm
from wtforms import DateField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, InputRequired, StopValidation, ValidationError

from app.auth.passwords import password_problems
from app.i18n import _, _l
from app.services.invoices import FIRST_DAY, LAST_DAY  # the days a person may mean

LINE_BREAKS = ("\n", "\r", "\t")


def single_line(form, field) -> None:
    if isinstance(field.data, str) and any(mark in field.data for mark in LINE_BREAKS):
        raise ValidationError(_("Keep this on one line, without line breaks or tabs."))


class Form(FlaskForm):
    class Meta:
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, StringField) and not isinstance(field, TextAreaField):
                field.validators = [single_line, *field.validators]
            return field


class ChoosePasswordForm(Form):
    """A new password typed twice and checked against the password rules; a form built on it says
    which login name and agency name the password must not be (`_password_context`)."""

    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(_l("Choose a password."))],
        description=_l("At least 15 characters. Three or four everyday words are easy to remember."),
    )
    confirm_password = PasswordField(
        _l("Type it again"),
        validators=[
            DataRequired(_l("Type the password again.")),
            EqualTo("new_password", _l("The two passwords differ.")),
        ],
    )

    def _password_context(self) -> tuple[str, str]:
        """(login name, agency name) the password must not resemble."""
        return "", ""

    def validate_new_password(self, field):
        username, agency_name = self._password_context()
        problems = password_problems(field.data, username=username, agency_name=agency_name)
        if problems:
            raise ValidationError(problems[0])


# --- money typed by a person ---------------------------------------------------------------------

AMOUNT_MAX_LENGTH = 20
# One amount typed by a person: a million in the currency at most (a typing slip above that).
AMOUNT_MAX_CENTS = 100_000_000
# ASCII digits only; an optional "$"; thousands separated by commas in groups of three, or none;
# at most two decimals. Anything else (NaN, Infinity, 1e309, "١٢", "1,23", "-5") is refused.
_AMOUNT = re.compile(r"\$?(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<cents>[0-9]{0,2}))?", re.ASCII)
_TOO_PRECISE = re.compile(r"\$?[0-9,]*\.[0-9]{3,}", re.ASCII)


def parse_cents(text: str | None, empty_message: str | None = None) -> int:
    """A typed amount ("125.50", "$1,234.5", "40") as integer cents; ValueError with the message to
    show beside the field for anything else."""
    value = (text or "").strip()
    if not value:
        raise ValueError(empty_message or _("Enter the amount to pay."))
    if len(value) > AMOUNT_MAX_LENGTH:
        raise ValueError(_("That amount is too large."))
    if value.startswith("-") or value.startswith("$-"):
        raise ValueError(_("Enter an amount above zero."))
    if _TOO_PRECISE.fullmatch(value):
        raise ValueError(_("Use at most two decimals (cents), like 125.50."))
    match = _AMOUNT.fullmatch(value)
    if match is None:
        raise ValueError(_("Enter an amount in digits, like 125.50."))
    cents = int(match["whole"].replace(",", "")) * 100 + int((match["cents"] or "").ljust(2, "0"))
    if cents <= 0:
        raise ValueError(_("Enter an amount above zero."))
    if cents > AMOUNT_MAX_CENTS:
        raise ValueError(_("That amount is too large."))
    return cents


def cents_text(cents: int) -> str:
    """Cents as a person types them back: 12550 → "125.50"."""
    return f"{cents // 100}.{cents % 100:02d}"


class MoneyField(StringField):
    """An amount of money, read strictly into integer cents (`field.cents`) before any other check
    of the form runs; the reason beside the field when it cannot be read. With `Optional()` among
    its validators it may be left empty (`cents` None)."""

    def __init__(self, label=None, validators=None, empty_message=None, **kwargs):
        kwargs.setdefault(
            "render_kw", {"inputmode": "decimal", "autocomplete": "off", "maxlength": AMOUNT_MAX_LENGTH}
        )
        super().__init__(label, validators, **kwargs)
        self.empty_message = empty_message
        self.cents: int | None = None

    def pre_validate(self, form):
        if self.flags.optional and not (self.data or "").strip():
            self.cents = None
            raise StopValidation()  # left empty, and it may be
        try:
            self.cents = parse_cents(self.data, self.empty_message)
        except ValueError as error:
            self.cents = None
            raise StopValidation(str(error)) from None


# --- days typed by a person ----------------------------------------------------------------------


class DayField(DateField):
    """A calendar day (YYYY-MM-DD, the browser's date picker) between 2000 and 2099; an impossible
    date ("2026-02-30") or one outside those years gets a message beside the field."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(_("Enter a real date, like 2026-03-31.")) from None

    def pre_validate(self, form):
        if self.data is not None and not FIRST_DAY <= self.data <= LAST_DAY:
            raise StopValidation(_("Enter a date between 2000 and 2099."))


class PeriodForm(Form):
    """A period of days asked for in a query string (a report, a statement): from, to, at most
    `max_days` long."""

    class Meta:
        csrf = False  # a GET form: it changes nothing

    max_days = 366
    start = DayField(_l("From"), validators=[InputRequired(_l("Enter the first day."))])
    end = DayField(_l("To"), validators=[InputRequired(_l("Enter the last day."))])

    def validate_end(self, field):
        if self.start.data is None or field.data is None:
            return
        if field.data < self.start.data:
            raise ValidationError(_("The period must end on or after the day it starts."))
        if (field.data - self.start.data).days >= self.max_days:
            raise ValidationError(_("A period can be at most %(days)d days long.", days=self.max_days))
