"""Forms of the portal's messages: start a thread, write in one."""

from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.i18n import _l
from app.services.messages import BODY_MAX, SUBJECT_MAX
from app.web.forms import Form

_BODY_VALIDATORS = [
    DataRequired(_l("Write your message.")),
    Length(max=BODY_MAX, message=_l("Please keep your message under %(max)d characters.")),
]


class NewMessageForm(Form):
    client = SelectField(
        _l("About"), coerce=int, invalid_choice_message=_l("Choose who this message is about.")
    )
    subject = StringField(
        _l("Subject"),
        validators=[
            DataRequired(_l("Give your message a subject, for example \u201cNext week's visits\u201d.")),
            Length(max=SUBJECT_MAX, message=_l("Please keep the subject under %(max)d characters.")),
        ],
    )
    body = TextAreaField(_l("Message"), validators=_BODY_VALIDATORS, render_kw={"rows": 8})
    private = BooleanField(
        _l("Only me and the office"),
        description=_l(
            "Leave this unticked to share the conversation with the family members who read messages."
        ),
    )


class ReplyForm(Form):
    body = TextAreaField(_l("Your reply"), validators=_BODY_VALIDATORS, render_kw={"rows": 4})
