"""The one form of the invoices pages: a question about one line, to the office."""

from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from app.i18n import _l
from app.web.forms import Form

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
