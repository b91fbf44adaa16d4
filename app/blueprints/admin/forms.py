"""Office forms for people, access, settings and billing."""

from datetime import date

from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SearchField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    StopValidation,
    ValidationError,
)

from app.auth.passwords import password_problems
from app.extensions import db
from app.i18n import _, _l
from app.models.client import RELATIONSHIP_LABELS
from app.models.statuses import RequestStatus, Role
from app.services import agencies, gateway_keys, invoices
from app.services import messages as messages_service
from app.services import schedule_requests as service
from app.web.formatting import money
from app.web.forms import DayField, Form, MoneyField, PeriodForm


class ContactForm(Form):
    """Name, e-mail and phone as every office form of a person asks them (people, clients,
    caregivers, leads)."""

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


def external_id_taken(form, model, agency, message, own_id=None) -> bool:
    """Another row of `model` in the agency has the form's external id: the error goes beside it."""
    value = (form.external_id.data or "").strip()
    if not value:
        return False
    other = db.session.scalar(
        select(model.id).where(
            model.agency_id == agency.id, model.external_id == value, model.id != (own_id or 0)
        )
    )
    if other is not None:
        form.external_id.errors = [message]
    return other is not None


class PersonForm(ContactForm):
    organisation_name = StringField(
        _l("Organisation (optional)"),
        description=_l("For a payer that is a community, an insurer or a trust: shown instead of the name."),
        validators=[Optional(), Length(max=200)],
    )
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


class PersonDetailsForm(ContactForm):
    """A person's details as the office edits them (the login name stays)."""

    organisation_name = PersonForm.organisation_name


class PeopleSearchForm(Form):
    class Meta:
        csrf = False

    q = SearchField(_l("Name, login name or e-mail"), validators=[Optional(), Length(max=100)])
    kind = SelectField(
        _l("Show"),
        choices=[
            ("all", _l("Everyone")),
            ("portal", _l("Portal users")),
            ("staff", _l("Office staff")),
            ("inactive", _l("Deactivated")),
        ],
        default="all",
    )


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
    # The portal's own address: links in the portal's mails are built from it (services.links).
    host = StringField(
        _l("Portal address"),
        description=_l(
            "The host name families open, like portal.example.com, without https:// or a path. "
            "Every link in the portal's e-mails (welcome, password reset, invitations) uses it."
        ),
        validators=[Length(max=253)],
    )

    def validate_host(self, field):
        field.data = (field.data or "").strip().lower()
        if not field.data:
            if self.host.object_data:
                raise ValidationError(_("Enter the portal's address: the portal's e-mails link to it."))
            return
        problem = agencies.host_problem(field.data)
        if problem:
            raise ValidationError(problem)

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


class LogoForm(Form):
    logo = FileField(
        _l("Logo"),
        description=_l("PNG or JPEG, at most 5 MB. Shown at the top of the portal's pages and on PDFs."),
        render_kw={"accept": "image/png,image/jpeg"},
    )


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


# --- billing ---------------------------------------------------------------------------------------


class WholeNumberField(StringField):
    """A whole number from `low` to `high` in ASCII digits (no signs, exponents, separators or
    other scripts' digits), read into `number`; the reason beside the field otherwise."""

    def __init__(
        self, label=None, validators=None, *, low: int, high: int, unreadable, out_of_range, **kwargs
    ):
        kwargs.setdefault("render_kw", {"inputmode": "numeric", "maxlength": len(str(high)), "size": 5})
        super().__init__(label, validators, **kwargs)
        self.low, self.high = low, high
        self.unreadable, self.out_of_range = unreadable, out_of_range
        self.number: int | None = None

    def pre_validate(self, form):
        value = (self.data or "").strip()
        if not (value.isascii() and value.isdigit() and len(value) <= len(str(self.high))):
            raise StopValidation(str(self.unreadable))
        self.number = int(value)
        if not self.low <= self.number <= self.high:
            raise StopValidation(str(self.out_of_range))


class MinutesField(WholeNumberField):
    """Minutes billed on a visit line; a line that is not a visit (`unit`, set by the view) has none."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(
            label,
            validators,
            low=1,
            high=invoices.MAX_LINE_MINUTES,
            unreadable=_l("Enter the minutes in digits, like 90."),
            out_of_range=_l("Enter between 1 and 1440 minutes."),
            **kwargs,
        )
        self.unit = False

    def pre_validate(self, form):
        if self.unit:
            raise StopValidation()
        super().pre_validate(form)


class TaskRateForm(Form):
    class Meta:
        csrf = False  # part of the billing settings form, which carries the token

    task_id = HiddenField()
    rate = MoneyField(_l("Hourly rate"), validators=[Optional()])


class BillingSettingsForm(Form):
    version = HiddenField()
    invoice_prefix = StringField(
        _l("Invoice numbers start with"),
        description=_l("Letters and digits, up to 12, e.g. SUN: invoices are numbered SUN-1001, SUN-1002…"),
        validators=[
            DataRequired(_l("Enter the start of the invoice numbers.")),
            Regexp(r"[A-Z0-9]{1,12}\Z", message=_l("Use up to 12 capital letters and digits, like SUN.")),
        ],
    )
    payment_terms_days = WholeNumberField(
        _l("Days to pay"),
        low=0,
        high=365,
        unreadable=_l("Enter the days in digits, like 14."),
        out_of_range=_l("Enter between 0 and 365 days."),
    )
    default_hourly_rate = MoneyField(
        _l("Hourly rate of a visit"),
        description=_l("Used unless the client has their own rate or a task done on the visit has one."),
        empty_message=_l("Enter the hourly rate."),
    )
    task_rates = FieldList(FormField(TaskRateForm), max_entries=5000)


class ClientRateForm(Form):
    hourly_rate = MoneyField(
        _l("This client's hourly rate"),
        description=_l("Leave empty for the agency's rate."),
        validators=[Optional()],
    )


class NewInvoiceForm(Form):
    period_start = DayField(_l("From"), validators=[InputRequired(_l("Enter the first day."))])
    period_end = DayField(_l("To"), validators=[InputRequired(_l("Enter the last day."))])
    billed_to = SelectField(_l("Bill to"), coerce=str, validate_choice=False)

    def validate_period_end(self, field):
        if self.period_start.data and field.data:
            try:
                invoices.check_period(self.period_start.data, field.data)
            except invoices.BillingRefused as error:
                raise ValidationError(str(error)) from None

    def validate_billed_to(self, field):
        if field.data not in dict(field.choices):
            raise ValidationError(_("Choose who receives the invoice."))


class DraftLineForm(Form):
    class Meta:
        csrf = False  # part of the draft form, which carries the token

    line_id = HiddenField()
    description = StringField(
        _l("Description"), validators=[DataRequired(_l("Enter what the line is for.")), Length(max=300)]
    )
    minutes = MinutesField(_l("Minutes billed"))
    rate = MoneyField(_l("Rate"), empty_message=_l("Enter the rate."))
    remove = BooleanField(_l("Remove"))


class DraftForm(Form):
    version = HiddenField()
    lines = FieldList(FormField(DraftLineForm), max_entries=500)
    billed_to = SelectField(_l("Bill to"), coerce=str, validate_choice=False)
    due_on = DayField(_l("Due on"), validators=[Optional()])
    notes = TextAreaField(_l("Notes on the invoice"), validators=[Optional(), Length(max=2000)])
    new_description = StringField(_l("Add a line: description"), validators=[Optional(), Length(max=300)])
    new_amount = MoneyField(_l("Amount"), validators=[Optional()])

    def validate_billed_to(self, field):
        if field.data not in dict(field.choices):
            raise ValidationError(_("Choose who receives the invoice."))

    def validate(self, extra_validators=None):
        # The amount is optional until a description is typed (an empty one skips its checks).
        valid = super().validate(extra_validators)
        if self.new_description.data and self.new_amount.cents is None and not self.new_amount.errors:
            self.new_amount.errors = [_("Enter the amount of the added line.")]
            return False
        return valid


class IssueForm(Form):
    version = HiddenField()
    notify = BooleanField(_l("E-mail the client or payer that the invoice is waiting"), default=True)


class VersionForm(Form):
    version = HiddenField()


class VoidForm(Form):
    version = HiddenField()
    reason = StringField(
        _l("Why is it void?"),
        description=_l("The client or payer reads this on the invoice: say it as you would to them."),
        validators=[
            DataRequired(_l("Say why the invoice is void.")),
            Length(max=invoices.VOID_REASON_LENGTH),
        ],
    )


class ManualPaymentForm(Form):
    version = HiddenField()
    amount = MoneyField(_l("Amount received"), empty_message=_l("Enter the amount received."))
    method = SelectField(
        _l("How"),
        choices=[
            ("check", _l("Check")),
            ("transfer", _l("Bank transfer")),
            ("card", _l("Card taken by phone")),
            ("cash", _l("Cash")),
        ],
    )
    received_on = DayField(_l("Received on"), validators=[InputRequired(_l("Enter the day it came in."))])
    reference = StringField(
        _l("Reference (check number, transfer id)"), validators=[Optional(), Length(max=120)]
    )
    notify = BooleanField(_l("E-mail a receipt"), default=True)

    def __init__(self, *args, today: date, balance_cents: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.balance_cents = balance_cents

    def validate_received_on(self, field):
        if field.data and field.data > self.today:
            raise ValidationError(_("The day it came in cannot be in the future."))

    def validate_amount(self, field):
        if field.cents is not None and field.cents > self.balance_cents:
            raise ValidationError(
                _("That is more than the balance of %(balance)s.", balance=money(self.balance_cents))
            )


class RefundForm(Form):
    version = HiddenField()
    amount = MoneyField(_l("Amount to give back"), empty_message=_l("Enter the amount to give back."))
    reason = StringField(
        _l("Why"),
        description=_l("The client or payer reads this among the payments."),
        validators=[DataRequired(_l("Say why the money is given back.")), Length(max=120)],
    )


class StatementForm(PeriodForm):
    max_days = invoices.MAX_PERIOD_DAYS
