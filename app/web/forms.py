"""The base of every form: what a person types in a one-line field stays on one line.

Tab, newline and carriage return pass the request-wide control-character check (multi-line text
needs them), but in a name, an e-mail address, a phone number or a login name they are a typo at
best and a mail header injection at worst ("Eve\\r\\nBcc: …"). Every single-line field of a form
built on `Form` refuses them with a message beside the field; text areas keep their lines.
"""

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import ValidationError

from app.i18n import _

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
