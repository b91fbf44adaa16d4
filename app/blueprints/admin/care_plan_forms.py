"""The office's care plan form: goals, frequency, special instructions, and the agency's tasks,
each ticked or not with a note for every visit."""

from wtforms import BooleanField, FieldList, FormField, HiddenField, StringField, TextAreaField
from wtforms.validators import Length, ValidationError

from app.i18n import _, _l
from app.web.forms import Form

FREQUENCY_MAX = 200  # CarePlan.frequency
NOTES_MAX = 300  # CarePlanTask.per_visit_notes
TEXT_MAX = 4000  # goals, special instructions: a plan that still prints on one page or two
# Length puts in the limit and what was typed.
TOO_LONG = _l("Use at most %(max)d characters (this has %(length)d).")


class PlanTaskForm(Form):
    class Meta:
        csrf = False  # a row of the care plan form, which carries the token

    task_id = HiddenField()
    included = BooleanField(_l("On the plan"))
    per_visit_notes = StringField(
        _l("Every visit"),
        validators=[Length(max=NOTES_MAX, message=TOO_LONG)],
    )

    def validate_per_visit_notes(self, field):
        if (field.data or "").strip() and not self.included.data:
            raise ValidationError(_("Tick the task to keep this note, or clear the note."))


class CarePlanForm(Form):
    version = HiddenField()
    goals = TextAreaField(
        _l("Goals"),
        description=_l("What the care is for, in the client's own words where possible."),
        validators=[Length(max=TEXT_MAX, message=TOO_LONG)],
        render_kw={"rows": 4},
    )
    frequency = StringField(
        _l("Frequency"),
        description=_l("For example: Weekdays, 9:00 am – 12:00 pm."),
        validators=[Length(max=FREQUENCY_MAX, message=TOO_LONG)],
    )
    special_instructions = TextAreaField(
        _l("Special instructions"),
        validators=[Length(max=TEXT_MAX, message=TOO_LONG)],
        render_kw={"rows": 4},
    )
    tasks = FieldList(FormField(PlanTaskForm), max_entries=500)
