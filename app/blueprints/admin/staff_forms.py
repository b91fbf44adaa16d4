"""Forms of the owner's pages: staff accounts and the audit log."""

from wtforms import HiddenField, SearchField, SelectField, StringField
from wtforms.validators import AnyOf, Length, Optional, ValidationError

from app.i18n import _, _l
from app.web.forms import DayField, Form


class StaffSearchForm(Form):
    class Meta:
        csrf = False  # a GET form: it changes nothing

    q = SearchField(_l("Name, login name or e-mail"), validators=[Optional(), Length(max=100)])
    show = SelectField(
        _l("Show"),
        choices=[("active", _l("Active staff")), ("removed", _l("Removed staff"))],
        validate_choice=False,
    )


class RoleForm(Form):
    owner = HiddenField(validators=[AnyOf(("0", "1"), message=_l("Choose owner or office staff."))])


class RemoveStaffForm(Form):
    """Nothing to fill in: the button and its CSRF token."""


class AuditFilterForm(Form):
    class Meta:
        csrf = False  # a GET form: it changes nothing

    person = SearchField(
        _l("Who"),
        description=_l("A name, a login name or an account number."),
        validators=[Optional(), Length(max=100)],
    )
    client_id = SelectField(_l("Client"), coerce=str, validators=[Optional()], validate_choice=False)
    kind = StringField(
        _l("What"),
        description=_l('A kind of event such as "invoice." or one exact event.'),
        validators=[Optional(), Length(max=60)],
        render_kw={"list": "audit-kinds", "autocomplete": "off"},
    )
    start = DayField(_l("From"), validators=[Optional()])
    end = DayField(_l("To"), validators=[Optional()])

    def validate_end(self, field):
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError(_("The period must end on or after the day it starts."))


class VerifyChainForm(Form):
    """Nothing to fill in: the button and its CSRF token."""
