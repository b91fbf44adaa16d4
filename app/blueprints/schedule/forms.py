"""The schedule-request form. The view supplies what the client may choose from (caregivers, tasks)
and the agency's calendar facts (today, horizon), so every rule is checked here, beside its field."""

from datetime import date as calendar_date
from datetime import timedelta

from wtforms import SelectField, SelectMultipleField, TextAreaField
from wtforms.fields import DateField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.i18n import _, _l
from app.web.formatting import when
from app.web.forms import Form

CARE_NEEDED_MAX = 1000
NOTES_MAX = 2000


class CheckboxListField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ScheduleRequestForm(Form):
    date = DateField(
        _l("Date"),
        format=["%Y-%m-%d", "%m/%d/%Y"],
        validators=[InputRequired(_l("Choose the date you would like care."))],
        invalid_value_message=_l("Enter the date as YYYY-MM-DD, for example 2026-12-01."),
    )
    start_time = TimeField(
        _l("Start time"),
        format=["%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M%p"],
        validators=[InputRequired(_l("Choose a start time."))],
        invalid_value_message=_l("Enter the start time as hours and minutes, for example 09:00."),
    )
    end_time = TimeField(
        _l("End time"),
        format=["%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M%p"],
        validators=[InputRequired(_l("Choose an end time."))],
        invalid_value_message=_l("Enter the end time as hours and minutes, for example 11:30."),
    )
    care_needed = TextAreaField(
        _l("What care is needed"),
        validators=[
            DataRequired(_l("Tell the office what care is needed.")),
            Length(max=CARE_NEEDED_MAX, message=_l("Please keep this under %(max)d characters.")),
        ],
        description=_l("For example: help with a bath and lunch, or company for an afternoon."),
    )
    preferred_caregiver = SelectField(
        _l("Preferred caregiver (optional)"), choices=[], validate_choice=False, validators=[Optional()]
    )
    tasks = CheckboxListField(
        _l("Tasks wanted (optional)"),
        coerce=int,
        choices=[],
        invalid_choice_message=_l("Choose tasks from the list."),
        validators=[Optional()],
    )
    notes = TextAreaField(
        _l("Notes (optional)"),
        validators=[
            Optional(),
            Length(max=NOTES_MAX, message=_l("Please keep the notes under %(max)d characters.")),
        ],
    )

    def __init__(self, *args, caregivers=(), tasks=(), today: calendar_date, horizon_days: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.horizon_days = horizon_days
        self.latest = today + timedelta(days=horizon_days)
        self.allowed_caregivers = {str(c.id): c for c in caregivers}
        self.preferred_caregiver.choices = [("", _("No preference"))] + [
            (str(c.id), c.display_name) for c in caregivers
        ]
        self.tasks.choices = [(t.id, t.name) for t in tasks]
        # Help the browser's date picker; the server still checks both ends.
        self.date.render_kw = {"min": (today + timedelta(days=1)).isoformat(), "max": self.latest.isoformat()}

    def validate_date(self, field):
        if field.data is None:  # unreadable: the field already says so
            return
        if field.data <= self.today:
            raise ValidationError(_("Choose a date after today. For care today, please call the office."))
        if field.data > self.latest:
            raise ValidationError(
                _(
                    "Requests can be made up to %(days)d days ahead, that is until %(date)s.",
                    days=self.horizon_days,
                    date=when(self.latest, "long_date"),
                )
            )

    def validate_end_time(self, field):
        start = self.start_time.data
        if start is not None and field.data is not None and field.data <= start:
            raise ValidationError(_("The end time must be after the start time."))

    def validate_preferred_caregiver(self, field):
        if field.data and field.data not in self.allowed_caregivers:
            raise ValidationError(_("Choose a caregiver from the list, or no preference."))

    @property
    def caregiver(self):
        return self.allowed_caregivers.get(self.preferred_caregiver.data or "")
