"""Office forms for documents: categories, a client's uploads, which categories each link sees."""

from flask_wtf.file import FileField
from wtforms import BooleanField, SearchField, SelectField, SelectMultipleField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.i18n import _, _l
from app.services import documents as service
from app.web.forms import Form

SEARCH_MAX = 100


class CategoryForm(Form):
    """A category's name and whether families may upload to it (adding one, or changing one)."""

    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(_l("Give the category a name.")),
            Length(max=service.CATEGORY_NAME_MAX, message=_l("Keep the name to %(max)d characters.")),
        ],
    )
    families_may_upload = BooleanField(_l("Families may upload here"))


class MoveForm(Form):
    """Move a category one place up or down: the button pressed says which."""

    step = StringField(validators=[AnyOf(["up", "down"])])


class ClientSearchForm(Form):
    """Find a client by name: a GET form (no CSRF token), read from the query string."""

    class Meta:
        csrf = False

    q = SearchField(
        _l("Find a client"),
        validators=[
            Optional(),
            Length(max=SEARCH_MAX, message=_l("Please search for at most %(max)d characters.")),
        ],
    )


class OfficeUploadForm(Form):
    title = StringField(
        _l("Title"),
        description=_l("Leave it empty to use the file's name."),
        validators=[Optional(), Length(max=service.TITLE_MAX)],
    )
    category = SelectField(_l("Category"), validate_choice=False)
    file = FileField(_l("File"), render_kw={"accept": service.ACCEPT})

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = [(str(c.id), c.name) for c in categories]
        self.file.description = service.file_hint()

    def validate_category(self, field):
        if field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_("Choose a category."))


class CheckboxListField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LinkCategoriesForm(Form):
    """The categories one portal user sees of this client's documents (the others are hidden)."""

    shown = CheckboxListField(_l("Categories they see"), coerce=str, validate_choice=False)

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.shown.choices = [(str(c.id), c.name) for c in categories]
