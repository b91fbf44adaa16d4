"""Office forms for people and access."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from app.auth.passwords import password_problems
from app.models.client import RELATIONSHIP_LABELS


class PersonForm(FlaskForm):
    first_name = StringField(
        "First name", validators=[DataRequired("Enter the first name."), Length(max=100)]
    )
    last_name = StringField("Last name", validators=[DataRequired("Enter the last name."), Length(max=100)])
    email = EmailField(
        "E-mail",
        validators=[Optional(), Email("Enter an e-mail address like name@example.com."), Length(max=254)],
    )
    phone = StringField("Phone", validators=[Optional(), Length(max=40)])
    role = SelectField(
        "Kind of account",
        choices=[("portal", "Portal user (client, family, payer)"), ("staff", "Office staff")],
    )
    client_id = SelectField("Client", coerce=str, validators=[Optional()])
    relationship = SelectField("Relationship", choices=list(RELATIONSHIP_LABELS.items()))
    may_view_care_plan = BooleanField("May view the care plan (legal representative)")
    may_view_invoices = BooleanField("May view invoices (emergency contact)")
    access = SelectField(
        "First sign-in",
        choices=[
            ("email", "Send portal credentials by e-mail (login name and a one-time link)"),
            ("temporary", "Set a temporary password I will give them"),
        ],
    )
    temporary_password = PasswordField("Temporary password", validators=[Optional()])

    def validate_client_id(self, field):
        if self.role.data == "portal" and not field.data:
            raise ValidationError("Choose the client this person is linked to.")

    def validate_access(self, field):
        if field.data == "email" and not self.email.data:
            raise ValidationError(
                "Credentials go by e-mail: enter an e-mail address or set a temporary password."
            )

    def validate_temporary_password(self, field):
        if self.access.data != "temporary":
            return
        problems = password_problems(field.data or "")
        if problems:
            raise ValidationError(problems[0])


class TemporaryPasswordForm(FlaskForm):
    temporary_password = PasswordField(
        "Temporary password", validators=[DataRequired("Enter a temporary password.")]
    )

    def validate_temporary_password(self, field):
        problems = password_problems(field.data or "")
        if problems:
            raise ValidationError(problems[0])
