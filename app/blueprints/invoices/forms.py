"""The forms of the invoices pages: a question about one line, to the office; and the amount to
pay online (integer cents, read strictly)."""

import re

from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from app.i18n import _, _l
from app.web.formatting import money
from app.web.forms import Form

QUESTION_MAX = 2000
AMOUNT_MAX_LENGTH = 20

# ASCII digits only; an optional "$"; thousands separated by commas in groups of three, or none;
# at most two decimals. Anything else (NaN, Infinity, 1e309, "١٢", "1,23", "-5") is refused.
_AMOUNT = re.compile(r"\$?(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<cents>[0-9]{0,2}))?", re.ASCII)
_TOO_PRECISE = re.compile(r"\$?[0-9,]*\.[0-9]{3,}", re.ASCII)


class QuestionForm(Form):
    body = TextAreaField(
        _l("Question this line"),
        validators=[
            DataRequired(_l("Write your question about this line.")),
            Length(max=QUESTION_MAX, message=_l("Please keep your question under %(max)d characters.")),
        ],
        render_kw={"rows": 3, "maxlength": QUESTION_MAX},
    )


def parse_cents(text: str | None) -> int:
    """A typed amount ("125.50", "$1,234.5", "40") as integer cents; ValueError with the message to
    show beside the field for anything else."""
    value = (text or "").strip()
    if not value:
        raise ValueError(_("Enter the amount to pay."))
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
    return cents


def _cents_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class PayForm(Form):
    """The amount to pay online: the whole balance unless the payer types less."""

    amount = StringField(
        _l("Amount to pay"),
        render_kw={"inputmode": "decimal", "autocomplete": "off", "maxlength": AMOUNT_MAX_LENGTH},
    )

    def __init__(self, *args, balance_cents: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.balance_cents = balance_cents
        self.cents: int | None = None
        if not self.is_submitted():
            self.amount.data = _cents_text(balance_cents)

    def validate_amount(self, field):
        try:
            cents = parse_cents(field.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None
        if cents > self.balance_cents:
            raise ValidationError(
                _("You can pay at most the balance, %(balance)s.", balance=money(self.balance_cents))
            )
        self.cents = cents
