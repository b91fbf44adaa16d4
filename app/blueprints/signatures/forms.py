"""The signing form and the report's period."""

import base64
import binascii

from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from app.i18n import _, _l
from app.services import signatures
from app.web.forms import Form

PNG_DATA_URL = "data:image/png;base64,"


class SignForm(Form):
    typed_name = StringField(
        _l("Your full name"),
        description=_l("Typing your name signs this visit record, the same as signing on paper."),
        validators=[
            DataRequired(_l("Type your full name to sign.")),
            Length(max=signatures.NAME_LENGTH),
        ],
        render_kw={"autocomplete": "name"},
    )
    # The drawing from the signature pad (JavaScript), a PNG data URL; empty when typed only.
    drawing = HiddenField()
    # The facts hash of the record the signer was shown.
    reviewed = HiddenField()

    def drawing_bytes(self) -> bytes | None:
        """The drawn PNG's bytes, None when nothing was drawn; a drawing that is not a PNG data URL
        or is too large is an error beside the name."""
        value = (self.drawing.data or "").strip()
        if not value:
            return None
        limit = len(PNG_DATA_URL) + (signatures.MAX_DRAWING_BYTES * 4 // 3) + 4
        if not value.startswith(PNG_DATA_URL) or len(value) > limit:
            raise ValueError(_("The drawing could not be read. Please draw again or type your name."))
        try:
            return base64.b64decode(value[len(PNG_DATA_URL) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(
                _("The drawing could not be read. Please draw again or type your name.")
            ) from None
