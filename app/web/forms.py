"""The base of every form: what a person types in a one-line field stays on one line.

Tab, newline and carriage return pass the request-wide control-character check (multi-line text
needs them), but in a name, an e-mail address, a phone number or a login name they are a typo at
best and a mail header injection at worst ("Eve\\r\\nBcc: …"). Every single-line field of a form
built on `Form` refuses them with a message beside the field; text areas keep their lines.
"""

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, ValidationError

from app.auth.passwords import password_problems
from app.i18n import _, _l

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
