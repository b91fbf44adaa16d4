"""Sign-in and password forms. Password rules live in app.auth.passwords, not here."""

from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.auth.passwords import MAX_LENGTH
from app.i18n import _, _l
from app.web.forms import ChoosePasswordForm, Form

# The English question is what is stored (and shown back translated); the label is what the user reads.
SECURITY_QUESTIONS = [
    ("", _l("Choose a question")),
    ("What was the name of your first school?", _l("What was the name of your first school?")),
    ("What street did you grow up on?", _l("What street did you grow up on?")),
    ("What was the name of your first pet?", _l("What was the name of your first pet?")),
    ("In what town did your parents meet?", _l("In what town did your parents meet?")),
]
QUESTIONS = [value for value, _label in SECURITY_QUESTIONS if value]


class LoginForm(Form):
    username = StringField(
        _l("Login name"), validators=[DataRequired(_l("Enter your login name.")), Length(max=80)]
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=MAX_LENGTH * 4)]
    )


class NewPasswordForm(ChoosePasswordForm):
    """Choose a password; the view passes the login name and agency name for the checks."""

    security_question = SelectField(
        _l("Security question"), choices=SECURITY_QUESTIONS, validators=[Optional()]
    )
    # Both or neither: the question is optional, but a chosen one needs its answer.
    security_answer = StringField(_l("Answer"), validators=[Length(max=200)])

    def __init__(self, *args, username="", agency_name="", ask_question=False, **kwargs):
        super().__init__(*args, **kwargs)
        self._username = username
        self._agency_name = agency_name
        self.ask_question = ask_question
        if not ask_question:
            del self.security_question
            del self.security_answer

    def _password_context(self) -> tuple[str, str]:
        return self._username, self._agency_name

    def validate_security_answer(self, field):
        answer = (field.data or "").strip()
        if not answer and not self.security_question.data:
            return
        if not self.security_question.data:
            raise ValidationError(_("Choose a security question."))
        if len(answer) < 3:
            raise ValidationError(_("Give an answer of at least 3 characters."))


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(_l("Enter your current password."))]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Show the current password first.
        self._fields.move_to_end("current_password", last=False)


class ForgotForm(Form):
    username = StringField(
        _l("Login name"), validators=[DataRequired(_l("Enter your login name.")), Length(max=80)]
    )


class SecurityAnswerForm(Form):
    username = StringField(_l("Login name"), validators=[DataRequired(), Length(max=80)])
    answer = StringField(_l("Answer"), validators=[DataRequired(_l("Enter your answer.")), Length(max=200)])


class TwoStepCodeForm(Form):
    code = StringField(
        _l("6-digit code"),
        validators=[DataRequired(_l("Enter the code from your authenticator app.")), Length(max=12)],
        description=_l("Open your authenticator app and type the code it shows for this portal."),
    )


class TwoStepOffForm(Form):
    password = PasswordField(_l("Your password"), validators=[DataRequired(_l("Enter your password."))])
