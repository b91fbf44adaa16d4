"""Office forms for client leads: details and status, assignment, notes, files, the list's search."""

from flask_wtf.file import FileField
from wtforms import SearchField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.blueprints.admin.forms import ContactForm
from app.i18n import _l
from app.web.forms import Form

STATUS_CHOICES = [("new", _l("New")), ("contacted", _l("Contacted")), ("lost", _l("Lost"))]


class LeadForm(ContactForm):
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
