"""Office forms for people and access."""

from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from app.auth.passwords import password_problems
from app.i18n import _, _l
from app.models.client import RELATIONSHIP_LABELS
from app.models.statuses import Role
from app.web.forms import Form


class PersonForm(Form):
    first_name = StringField(
        _l("First name"), validators=[DataRequired(_l("Enter the first name.")), Length(max=100)]
    )
    last_name = StringField(
        _l("Last name"), validators=[DataRequired(_l("Enter the last name.")), Length(max=100)]
    )
    email = EmailField(
        _l("E-mail"),
        validators=[Optional(), Email(_l("Enter an e-mail address like name@example.com.")), Length(max=254)],
    )
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    # validate_role checks the choice itself, so a refused "staff" gets a reason, not "Not a valid choice".
    role = SelectField(
        _l("Kind of account"),
        choices=[(Role.PORTAL, _l("Portal user (client, family, payer)")), (Role.STAFF, _l("Office staff"))],
        validate_choice=False,
    )
    client_id = SelectField(_l("Client"), coerce=str, validators=[Optional()])
    relationship = SelectField(_l("Relationship"), choices=list(RELATIONSHIP_LABELS.items()))
    may_view_care_plan = BooleanField(_l("May view the care plan (legal representative)"))
    may_view_invoices = BooleanField(_l("May view invoices (emergency contact)"))
    may_view_visit_notes = BooleanField(_l("May view caregiver notes and refusal reasons (payer)"))
    access = SelectField(
        _l("First sign-in"),
        choices=[
            ("email", _l("Send portal credentials by e-mail (login name and a one-time link)")),
            ("temporary", _l("Set a temporary password I will give them")),
        ],
    )
    temporary_password = PasswordField(_l("Temporary password"), validators=[Optional()])

    def __init__(self, *args, may_add_staff: bool, **kwargs):
        """`may_add_staff` is the caller's `can_manage(actor, AREA_STAFF)`: only then is staff offered."""
        super().__init__(*args, **kwargs)
        self.may_add_staff = may_add_staff
        if not may_add_staff:
            self.role.choices = [(value, label) for value, label in self.role.choices if value != Role.STAFF]

    def validate_role(self, field):
        if field.data == Role.STAFF and not self.may_add_staff:
            raise ValidationError(_("Only the owner of the agency can add office staff."))
        if field.data not in dict(field.choices):
            raise ValidationError(_("Choose the kind of account."))

    def validate_client_id(self, field):
        if self.role.data == Role.PORTAL and not field.data:
            raise ValidationError(_("Choose the client this person is linked to."))

    def validate_access(self, field):
        if field.data == "email" and not self.email.data:
            raise ValidationError(
                _("Credentials go by e-mail: enter an e-mail address or set a temporary password.")
            )

    def validate_temporary_password(self, field):
        if self.access.data != "temporary":
            return
        problems = password_problems(field.data or "")
        if problems:
            raise ValidationError(problems[0])


class TemporaryPasswordForm(Form):
    temporary_password = PasswordField(
        _l("Temporary password"), validators=[DataRequired(_l("Enter a temporary password."))]
    )

    def validate_temporary_password(self, field):
        problems = password_problems(field.data or "")
        if problems:
            raise ValidationError(problems[0])
