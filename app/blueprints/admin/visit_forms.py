"""Office forms for visits: the list's filters, cancelling with a reason."""

from wtforms import DateField, HiddenField, SearchField, SelectField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Length, Optional

from app.i18n import _l
from app.models.statuses import VisitStatus
from app.models.visit import VISIT_STATUS_LABELS
from app.web.forms import Form


class VisitFilterForm(Form):
    class Meta:
        csrf = False

    q = SearchField(_l("Client name"), validators=[Optional(), Length(max=100)])
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("Until"), validators=[Optional()])
    status = SelectField(
        _l("Status"),
        choices=[("", _l("Any status"))] + [(s.value, label) for s, label in VISIT_STATUS_LABELS.items()],
        validators=[Optional()],
        validate_choice=False,
    )


class CancelVisitForm(Form):
    version = HiddenField()
    reason = TextAreaField(
        _l("Why is the visit cancelled?"),
        validators=[DataRequired(_l("Say why the visit is cancelled.")), Length(max=1000)],
    )


STATUSES = {s.value for s in VisitStatus}


class VisitForm(Form):
    """A visit's day and local times, caregiver and note; the client is chosen on create only."""

    version = HiddenField()
    client_id = SelectField(_l("Client"), coerce=str, validate_choice=False)
    caregiver_id = SelectField(_l("Caregiver"), coerce=str, validate_choice=False)
    day = DateField(_l("Day"), validators=[DataRequired(_l("Enter the day, for example 2026-11-03."))])
    start_time = TimeField(
        _l("Starts at"), validators=[DataRequired(_l("Enter the start time, for example 09:00."))]
    )
    end_time = TimeField(
        _l("Ends at"), validators=[DataRequired(_l("Enter the end time, for example 11:00."))]
    )
    caregiver_note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
