"""Office forms for client leads: details and status, assignment, notes, files, the list's search."""

from flask_wtf.file import FileField
from wtforms import EmailField, SearchField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from app.i18n import _l
from app.web.forms import Form

STATUS_CHOICES = [("new", _l("New")), ("contacted", _l("Contacted")), ("lost", _l("Lost"))]


class LeadForm(Form):
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
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=500)])
    notes = TextAreaField(
        _l("The enquiry"),
        description=_l("What they asked for, as first taken down."),
        validators=[Optional(), Length(max=5000)],
    )
    source = StringField(_l("How they heard of us"), validators=[Optional(), Length(max=100)])


class LeadEditForm(LeadForm):
    status = SelectField(_l("Status"), choices=STATUS_CHOICES, default="new")


class LeadAssignForm(Form):
    assigned_to = SelectField(_l("Assigned to"), choices=[], validate_choice=False)


class LeadNoteForm(Form):
    body = TextAreaField(_l("Note"), validators=[DataRequired(_l("Write the note.")), Length(max=5000)])


class LeadFileForm(Form):
    file = FileField(
        _l("Choose a file"),
        render_kw={"accept": "application/pdf,image/jpeg,image/png,.docx"},
    )


class LeadActionForm(Form):
    """A button with nothing else to send: convert, remove a file."""


class LeadSearchForm(Form):
    class Meta:
        csrf = False

    q = SearchField(_l("Name, e-mail or phone"), validators=[Optional(), Length(max=100)])
    status = SelectField(
        _l("Show"),
        choices=[
            ("open", _l("Open leads")),
            ("new", _l("New")),
            ("contacted", _l("Contacted")),
            ("converted", _l("Converted")),
            ("lost", _l("Lost")),
            ("all", _l("All")),
        ],
        default="open",
    )
