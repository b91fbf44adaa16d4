"""Office forms for visits: the list's filters, cancelling with a reason."""

from wtforms import DateField, HiddenField, SearchField, SelectField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.blueprints.admin.document_forms import CheckboxListField
from app.i18n import _, _l
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
    tasks = CheckboxListField(_l("Tasks"), coerce=str, validate_choice=False)

    def validate_tasks(self, field):
        known = {value for value, _label in field.choices or []}
        if any(value not in known for value in field.data or []):
            raise ValidationError(_("Choose tasks from the list."))


class CompleteVisitForm(Form):
    """The caregiver's report of a visit: clock times (local, on the visit's day; a clock-out
    before the clock-in is the next morning), each task's outcome, the note. The tasks' fields are
    `task-<id>` (done, refused, planned) and `reason-<id>`, read by the view."""

    version = HiddenField()
    clock_in = TimeField(
        _l("Clocked in at"), validators=[DataRequired(_l("Enter the clock-in time, for example 09:05."))]
    )
    clock_out = TimeField(
        _l("Clocked out at"), validators=[DataRequired(_l("Enter the clock-out time, for example 11:02."))]
    )
    caregiver_note = TextAreaField(_l("Caregiver's note"), validators=[Optional(), Length(max=2000)])


class PreferredCaregiversForm(Form):
    caregivers = CheckboxListField(_l("Preferred caregivers"), coerce=str, validate_choice=False)

    def validate_caregivers(self, field):
        known = {value for value, _label in field.choices or []}
        if any(value not in known for value in field.data or []):
            raise ValidationError(_("Choose caregivers from the list."))
