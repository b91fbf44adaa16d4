"""Office forms for the CSV import (kind and file) and the visits export (a bounded date range)."""

from flask_wtf.file import FileField
from wtforms import SelectField
from wtforms.validators import InputRequired, Optional, ValidationError

from app.i18n import _, _l
from app.services.csv_export import MAX_DAYS
from app.web.forms import DayField, Form

KIND_LABELS = {"clients": _l("Clients"), "caregivers": _l("Caregivers"), "visits": _l("Visits")}


class ImportForm(Form):
    """What the file holds and the file; the button pressed says preview or import."""

    kind = SelectField(
        _l("The file holds"),
        choices=list(KIND_LABELS.items()),
        validators=[InputRequired(_l("Choose what the file holds."))],
    )
    file = FileField(_l("CSV file"), render_kw={"accept": ".csv,text/csv"})


class VisitExportForm(Form):
    """The local days of the visits to export: a GET form read from ?from=…&to=…"""

    class Meta:
        csrf = False

    first = DayField(_l("From"), name="from", validators=[Optional()])
    last = DayField(_l("To"), name="to", validators=[Optional()])

    def validate_last(self, field):
        if self.first.data and field.data:
            if field.data < self.first.data:
                raise ValidationError(_("The last day must not be before the first."))
            if (field.data - self.first.data).days >= MAX_DAYS:
                raise ValidationError(_("Export at most %(num)d days at a time.", num=MAX_DAYS))
