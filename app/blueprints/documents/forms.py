"""The families' upload form (the same checks as the office's: app/services/documents.py)."""

from flask_wtf.file import FileField
from wtforms import StringField
from wtforms.validators import Length, Optional

from app.i18n import _l
from app.services import documents as service
from app.web.forms import Form


class FamilyUploadForm(Form):
    """One per category the agency opened to the families (a plain `category` field beside it
    says which; each form has its category's prefix, so ids stay unique on the page)."""

    title = StringField(
        _l("Title"),
        description=_l("Leave it empty to use the file's name."),
        validators=[Optional(), Length(max=service.TITLE_MAX)],
    )
    file = FileField(_l("File"), render_kw={"accept": service.ACCEPT})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.file.description = service.file_hint()
