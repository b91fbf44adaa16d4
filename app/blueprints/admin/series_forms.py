"""Office forms for weekly visit patterns: set one up, change it and all its future visits, end it."""

from wtforms import HiddenField, IntegerField, SelectField, SelectMultipleField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.i18n import _, _l
from app.web.forms import DayField, Form

WEEKDAY_LABELS = [
    ("1", _l("Monday")),
    ("2", _l("Tuesday")),
    ("3", _l("Wednesday")),
    ("4", _l("Thursday")),
    ("5", _l("Friday")),
    ("6", _l("Saturday")),
    ("7", _l("Sunday")),
]


class CheckboxListField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SeriesForm(Form):
    """The pattern: weekdays, local start time, a duration (minutes, or an end time), days, tasks."""

    version = HiddenField()
    client_id = SelectField(_l("Client"), coerce=str, validate_choice=False)
    caregiver_id = SelectField(_l("Caregiver"), coerce=str, validate_choice=False)
    weekdays = CheckboxListField(
        _l("On these weekdays"), choices=WEEKDAY_LABELS, coerce=str, validate_choice=False
    )
    start_time = TimeField(
        _l("Starts at"), validators=[DataRequired(_l("Enter the start time, for example 09:00."))]
    )
    minutes = IntegerField(
        _l("Minutes"),
        description=_l("How long each visit lasts; or give the end time instead."),
        validators=[
            Optional(),
            NumberRange(min=1, max=24 * 60, message=_l("Enter between 1 and 1440 minutes.")),
        ],
    )
    end_time = TimeField(_l("Ends at"), validators=[Optional()])
    first_day = DayField(_l("First day"), validators=[InputRequired(_l("Enter the first day."))])
    last_day = DayField(
        _l("Last day"), description=_l("Leave empty to repeat until it is ended."), validators=[Optional()]
    )
    tasks = CheckboxListField(_l("Tasks at each visit"), coerce=str, validate_choice=False)

    def validate_weekdays(self, field):
        if not field.data or not set(field.data) <= {value for value, _label in WEEKDAY_LABELS}:
            from wtforms.validators import ValidationError

            raise ValidationError(_("Choose at least one weekday."))

    def duration(self) -> int | None:
        """The minutes typed, or from the start to the end time (past midnight means the next day);
        None with a message beside the field."""
        if self.minutes.data:
            return self.minutes.data
        if self.end_time.data is None or self.start_time.data is None:
            if not self.minutes.errors and not self.end_time.errors:
                self.minutes.errors = [_("Enter the minutes or the end time.")]
            return None
        start = self.start_time.data.hour * 60 + self.start_time.data.minute
        end = self.end_time.data.hour * 60 + self.end_time.data.minute
        if end == start:
            self.end_time.errors = [_("The visit must end after it starts.")]
            return None
        return (end - start) % (24 * 60)


class EndSeriesForm(Form):
    version = HiddenField()
    from_day = DayField(_l("No more visits from"), validators=[InputRequired(_l("Enter the day."))])
    reason = TextAreaField(
        _l("Why do the visits end?"),
        validators=[DataRequired(_l("Say why the visits end.")), Length(max=1000)],
    )
