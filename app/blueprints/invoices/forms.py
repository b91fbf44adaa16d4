"""The forms of the invoices pages: a question about one line, to the office; and the amount to
pay online (integer cents, read strictly)."""

from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from app.i18n import _, _l
from app.web.formatting import money
from app.web.forms import Form, MoneyField, cents_text

QUESTION_MAX = 2000


class QuestionForm(Form):
    body = TextAreaField(
        _l("Question this line"),
        validators=[
            DataRequired(_l("Write your question about this line.")),
            Length(max=QUESTION_MAX, message=_l("Please keep your question under %(max)d characters.")),
        ],
        render_kw={"rows": 3, "maxlength": QUESTION_MAX},
    )


class PayForm(Form):
    """The amount to pay online: the whole balance unless the payer types less."""

    amount = MoneyField(_l("Amount to pay"))

    def __init__(self, *args, balance_cents: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.balance_cents = balance_cents
        if not self.is_submitted():
            self.amount.data = cents_text(balance_cents)

    @property
    def cents(self) -> int | None:
        return self.amount.cents

    def validate_amount(self, field):
        if field.cents > self.balance_cents:
            raise ValidationError(
                _("You can pay at most the balance, %(balance)s.", balance=money(self.balance_cents))
            )
