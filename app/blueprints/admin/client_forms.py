"""Office forms for clients: their details, portal access for the client, linking a person."""

from wtforms import (
    BooleanField,
    HiddenField,
    SearchField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from app.auth.policies import SECTIONS, allowed_sections
from app.blueprints.admin.document_forms import CheckboxListField
from app.blueprints.admin.forms import ContactForm
from app.i18n import _, _l
from app.models.client import REL_SELF, RELATIONSHIP_LABELS
from app.services.family_access import SECTION_LABELS
from app.web.forms import Form

EXTERNAL_ID = Regexp(
    r"^[A-Za-z0-9._:/-]*$", message=_l("Use letters, digits and . _ : / - only, as in the other software.")
)


class ClientForm(ContactForm):
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=500)])
    external_id = StringField(
        _l("Id in your other software (optional)"),
        description=_l(
            "A CSV import finds the client by this id and updates them instead of adding them again."
        ),
        validators=[Optional(), Length(max=64), EXTERNAL_ID],
    )


class NewClientForm(ClientForm):
    send_credentials = BooleanField(
        _l("Send portal credentials"),
        description=_l("The client gets a login name and a one-time link to choose a password, by e-mail."),
    )

    def validate_send_credentials(self, field):
        if field.data and not self.email.data:
            raise ValidationError(_("Credentials go by e-mail: enter the client's e-mail address first."))


class ClientSearchForm(Form):
    class Meta:
        csrf = False

    q = SearchField(_l("Name, phone, e-mail or id"), validators=[Optional(), Length(max=100)])
    status = SelectField(
        _l("Show"),
        choices=[
            ("active", _l("Active clients")),
            ("inactive", _l("Deactivated clients")),
            ("all", _l("All")),
        ],
        default="active",
    )


class LinkPersonForm(Form):
    """Link an existing portal account to this client, found by login name or e-mail."""

    person = StringField(
        _l("Login name or e-mail of the person"),
        validators=[DataRequired(_l("Enter the person's login name or e-mail.")), Length(max=254)],
    )
    relationship = SelectField(
        _l("Relationship"), choices=[(k, v) for k, v in RELATIONSHIP_LABELS.items() if k != REL_SELF]
    )


class ActiveForm(Form):
    active = HiddenField()


class LinkAccessForm(Form):
    """One link's grid: relationship, the sections it opens, the two per-relationship ticks and
    the document categories shown."""

    relationship = SelectField(_l("Relationship"), choices=list(RELATIONSHIP_LABELS.items()))
    sections = CheckboxListField(_l("What they see"), coerce=str, validate_choice=False)
    may_view_visit_notes = BooleanField(_l("Sees the caregivers' notes and refusal reasons (payer)"))
    may_sign_visits = BooleanField(_l("May sign visit records (emergency contact)"))
    categories = CheckboxListField(_l("Document categories they see"), coerce=str, validate_choice=False)

    @classmethod
    def for_link(cls, link, categories, formdata=None):
        hidden = {c.id for c in link.hidden_categories}
        form = cls(
            formdata=formdata,
            data={
                "relationship": link.relationship_kind,
                "sections": allowed_sections(link),
                "may_view_visit_notes": link.may_view_visit_notes,
                "may_sign_visits": link.may_sign_visits,
                "categories": [str(c.id) for c in categories if c.id not in hidden],
            },
        )
        # The client's own link stays the client's; nobody else becomes "the client" (whose
        # ceiling has no ticks to narrow it) through the grid.
        if link.relationship_kind == REL_SELF:
            form.relationship.choices = [(REL_SELF, RELATIONSHIP_LABELS[REL_SELF])]
        else:
            form.relationship.choices = [(k, v) for k, v in RELATIONSHIP_LABELS.items() if k != REL_SELF]
        form.sections.choices = [(s, SECTION_LABELS[s]) for s in SECTIONS]
        form.categories.choices = [(str(c.id), c.name) for c in categories]
        return form

    def validate_sections(self, field):
        if any(section not in SECTIONS for section in field.data or []):
            raise ValidationError(_("Choose sections from the list."))

    def validate_categories(self, field):
        known = {value for value, _label in self.categories.choices}
        if any(value not in known for value in field.data or []):
            raise ValidationError(_("Choose categories from the list."))
