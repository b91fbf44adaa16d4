"""Forms of "Access the family controls": invite someone, revoke or withdraw (buttons), and the
invitee's "choose your login name and password"."""

import re

from wtforms import EmailField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from app.auth.policies import CEILINGS, INVITABLE_RELATIONSHIPS, SECTIONS, above_ceiling, needs_other_section
from app.i18n import _, _l
from app.models.client import REL_EMERGENCY, REL_LEGAL, REL_PAYER
from app.models.user import find_login
from app.services.family_access import SECTION_LABELS, section_words
from app.web.forms import ChoosePasswordForm, Form

INVITE_CHOICES = [
    (REL_EMERGENCY, _l("Emergency contact or family member")),
    (REL_LEGAL, _l("Legal representative (power of attorney, guardian)")),
]

LOGIN_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{2,39}")
LOGIN_NAME_MAX = 40


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class InviteForm(Form):
    first_name = StringField(
        _l("First name"), validators=[DataRequired(_l("Enter their first name.")), Length(max=100)]
    )
    last_name = StringField(
        _l("Last name"), validators=[DataRequired(_l("Enter their last name.")), Length(max=100)]
    )
    email = EmailField(
        _l("E-mail"),
        filters=[_strip],
        description=_l("The invitation link goes to this address. It works once, for 7 days."),
        validators=[
            DataRequired(_l("Enter their e-mail address.")),
            Length(max=254, message=_l("An e-mail address has at most %(max)d characters.")),
            Email(_l("Enter an e-mail address like name@example.com."), check_deliverability=False),
        ],
    )
    relationship = SelectField(
        _l("Who they are to the client"), choices=INVITE_CHOICES, validate_choice=False
    )
    sections = SelectMultipleField(
        _l("What they may see"),
        validate_choice=False,
        description=_l(
            "An emergency contact or family member never sees the care plan and cannot pay invoices."
        ),
    )

    def __init__(self, *args, shareable: list[str], **kwargs):
        """`shareable`: the sections the inviter may see themselves (they share nothing more)."""
        super().__init__(*args, **kwargs)
        self.shareable = shareable
        self.sections.choices = [(s, SECTION_LABELS[s]) for s in SECTIONS if s in shareable]

    def validate_relationship(self, field):
        if field.data == REL_PAYER:
            raise ValidationError(
                _("A payer is set up by the office, because invoices are billed to them. Ask the office.")
            )
        if field.data not in INVITABLE_RELATIONSHIPS:
            raise ValidationError(_("Choose emergency contact or family member, or legal representative."))

    def validate_sections(self, field):
        chosen = list(dict.fromkeys(field.data or []))  # once each, in the order given
        if not chosen:
            raise ValidationError(_("Tick at least one thing they may see."))
        if any(s not in SECTIONS for s in chosen):
            raise ValidationError(_("Choose from the list."))
        not_yours = [s for s in chosen if s not in self.shareable]
        if not_yours:
            raise ValidationError(
                _(
                    "You can only share what you can see yourself: %(sections)s.",
                    sections=section_words(not_yours),
                )
            )
        relationship = self.relationship.data
        if relationship in CEILINGS:
            refused = above_ceiling(relationship, chosen)
            if refused and relationship == REL_EMERGENCY:
                raise ValidationError(
                    _(
                        "An emergency contact or family member may never see: %(sections)s.",
                        sections=section_words(refused),
                    )
                )
            if refused:
                raise ValidationError(
                    _("A legal representative may never see: %(sections)s.", sections=section_words(refused))
                )
        missing = needs_other_section(chosen)
        if missing:
            section, needed = missing[0]
            raise ValidationError(
                _(
                    "%(section)s comes with %(needed)s: tick that too.",
                    section=SECTION_LABELS[section],
                    needed=SECTION_LABELS[needed],
                )
            )
        field.data = [s for s in SECTIONS if s in chosen]


class ButtonForm(Form):
    """Revoke, withdraw: a CSRF-checked button, no fields."""


class AcceptInvitationForm(ChoosePasswordForm):
    """The invitee's own login name and password."""

    username = StringField(
        _l("Login name"),
        description=_l("Lower-case letters and digits; you may add dots, hyphens or underscores."),
        validators=[DataRequired(_l("Choose a login name.")), Length(max=80)],
    )

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        self._agency = agency
        self.new_password.label.text = _("Password")  # a first password, not a new one

    def validate_username(self, field):
        name = (field.data or "").strip().lower()
        if len(name) < 3 or len(name) > LOGIN_NAME_MAX:
            raise ValidationError(_("Use 3 to %(max)d characters.", max=LOGIN_NAME_MAX))
        if not LOGIN_NAME_RE.fullmatch(name):
            raise ValidationError(
                _("Use lower-case letters and digits (dots, hyphens and underscores in between are fine).")
            )
        if find_login(self._agency.id, name) is not None:
            raise ValidationError(_("That login name is taken. Choose another."))
        field.data = name

    def _password_context(self) -> tuple[str, str]:
        return (self.username.data or "").strip().lower(), self._agency.name
