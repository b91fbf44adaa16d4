"""Office forms for people and access."""

from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SearchField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, Email, Length, NumberRange, Optional, ValidationError

from app.auth.passwords import password_problems
from app.i18n import _, _l
from app.models.client import RELATIONSHIP_LABELS
from app.models.statuses import RequestStatus, Role
from app.services import gateway_keys
from app.services import messages as messages_service
from app.services import schedule_requests as service
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


GATEWAY_KEY_MAX = 255


class OfficeSettingsForm(Form):
    version = HiddenField()  # the settings' version when the form was opened (check_version)
    name = StringField(
        _l("Agency name"), validators=[DataRequired(_l("Enter the agency's name.")), Length(max=200)]
    )
    contact_email = EmailField(
        _l("Office e-mail"),
        validators=[Optional(), Email(_l("Enter an e-mail address like office@example.com."))],
    )
    contact_phone = StringField(_l("Office phone"), validators=[Optional(), Length(max=40)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=500)])
    time_zone = SelectField(_l("Time zone"))  # the short friendly list, set per request
    schedule_request_recipient_id = SelectField(_l("Schedule requests go to"), coerce=int)
    message_recipient_id = SelectField(
        _l("Who hears of new portal messages"),
        coerce=int,
        description=_l("They get an e-mail when a family writes, without the message itself."),
    )
    schedule_request_horizon_days = IntegerField(
        _l("Requests may be made up to this many days ahead"),
        validators=[NumberRange(7, 366, _l("Choose between %(min)s and %(max)s days."))],
    )
    message_template = TextAreaField(
        _l("Template for “E-mail the agency”"), validators=[Optional(), Length(max=2000)]
    )
    session_idle_minutes = IntegerField(
        _l("Sign out after this many idle minutes"),
        validators=[NumberRange(5, 120, _l("Choose between %(min)s and %(max)s minutes."))],
    )
    security_questions_enabled = BooleanField(
        _l("Let portal users reset their password with a security question")
    )
    staff_two_factor_required = BooleanField(_l("Require two-step sign-in for office staff"))
    email_sign_in_enabled = BooleanField(
        _l("Let portal users with a confirmed e-mail address sign in with a link")
    )
    invitations_need_approval = BooleanField(
        _l("The office approves a family's invitations before they go out")
    )
    payment_gateway = SelectField(
        _l("Online payment"),
        choices=[
            ("none", _l("None")),
            ("manual", _l("Record cheques and transfers by hand")),
            ("stripe", "Stripe"),
        ],
    )
    # Never filled in from the stored key (PasswordField renders no value): empty keeps it.
    stripe_secret_key = PasswordField(
        _l("Stripe secret key"),
        description=_l("Starts with sk_ or rk_. Leave empty to keep the stored key."),
    )
    stripe_secret_key_remove = BooleanField(_l("Remove the stored secret key"))
    stripe_webhook_secret = PasswordField(
        _l("Stripe webhook signing secret"),
        description=_l("Starts with whsec_. Leave empty to keep the stored secret."),
    )
    stripe_webhook_secret_remove = BooleanField(_l("Remove the stored signing secret"))

    def _check_gateway_key(self, field, prefixes, remove, message):
        if not field.data:
            return  # keep the stored one (or none)
        if remove.data:
            raise ValidationError(_("Enter a new key or remove the stored one, not both."))
        text = field.data
        if len(text) > GATEWAY_KEY_MAX or any(c.isspace() for c in text) or not text.startswith(prefixes):
            raise ValidationError(message)
        if not gateway_keys.available():
            raise ValidationError(_("Keys cannot be stored: GATEWAY_KEYS_SECRET is not set on the server."))

    def validate_stripe_secret_key(self, field):
        message = _("A secret key starts with sk_ or rk_, has no spaces and at most 255 characters.")
        self._check_gateway_key(field, ("sk_", "rk_"), self.stripe_secret_key_remove, message)

    def validate_stripe_webhook_secret(self, field):
        message = _("A signing secret starts with whsec_, has no spaces and at most 255 characters.")
        self._check_gateway_key(field, ("whsec_",), self.stripe_webhook_secret_remove, message)


class DecisionForm(Form):
    staff_note = TextAreaField(
        _l("Note for the family"),
        validators=[
            Optional(),
            Length(max=service.STAFF_NOTE_MAX, message=_l("Please keep the note under %(max)d characters.")),
        ],
    )

    def check_decision(self, decision: str | None) -> bool:
        """The pressed button decides; declining needs a reason the family can read."""
        self.decision = decision
        if decision not in service.DECISIONS:
            self.staff_note.errors = [*self.staff_note.errors, _("Choose Handled or Declined.")]
            return False
        if decision == RequestStatus.DECLINED and not (self.staff_note.data or "").strip():
            self.staff_note.errors = [
                *self.staff_note.errors,
                _("Say why, so the family knows what to do next."),
            ]
            return False
        return True


# --- the office inbox -----------------------------------------------------------------------------

SEARCH_MAX = 100


class InboxSearchForm(Form):
    """The inbox's search box: a GET form (no CSRF token), read from the query string."""

    class Meta:
        csrf = False

    q = SearchField(
        _l("Search"),
        description=_l("A client's name, a subject or words from a message."),
        validators=[
            Optional(),
            Length(max=SEARCH_MAX, message=_l("Please search for at most %(max)d characters.")),
        ],
    )


class StaffReplyForm(Form):
    body = TextAreaField(
        _l("Your reply"),
        validators=[
            DataRequired(_l("Write your reply.")),
            Length(
                max=messages_service.BODY_MAX,
                message=_l("Please keep your message under %(max)d characters."),
            ),
        ],
    )


class ThreadDoneForm(Form):
    """Mark a thread done ("1") or take it up again ("0"): the pressed button's value."""

    done = StringField(validators=[AnyOf(("0", "1"), message=_l("Choose Mark done or Reopen."))])
