"""Office forms for caregivers: their details, the photo, the list's search."""

from flask_wtf.file import FileField
from wtforms import SearchField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.blueprints.admin.client_forms import EXTERNAL_ID
from app.blueprints.admin.forms import ContactForm
from app.i18n import _l
from app.web.forms import Form


class CaregiverForm(ContactForm):
    bio = TextAreaField(
        _l("Short bio"),
        description=_l("Families read it on the “Who is coming today” card: a few friendly sentences."),
        validators=[Optional(), Length(max=1000)],
    )
    languages = StringField(
        _l("Languages spoken"),
        description=_l("For example: English, Spanish"),
        validators=[Optional(), Length(max=200)],
    )
    external_id = StringField(
        _l("Id in your other software (optional)"),
        description=_l(
            "A CSV import finds the caregiver by this id and updates them instead of adding them again."
        ),
        validators=[Optional(), Length(max=64), EXTERNAL_ID],
    )


class CaregiverPhotoForm(Form):
    photo = FileField(
        _l("Choose a photo"),
        description=_l(
            "JPEG, PNG or WebP, at most 5 MB. We keep a smaller copy without the photo's hidden "
            "details, such as where it was taken."
        ),
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )


class CaregiverSearchForm(Form):
    class Meta:
        csrf = False

    q = SearchField(_l("Name, phone, e-mail or id"), validators=[Optional(), Length(max=100)])
    status = SelectField(
        _l("Show"),
        choices=[
            ("active", _l("Active caregivers")),
            ("inactive", _l("Deactivated caregivers")),
            ("all", _l("All")),
        ],
        default="active",
    )
