"""Conflicts answer 409: a stale edit, and a clash that the database finds when the request commits.

Two people (or two browser tabs) can both pass every check and still collide. A form that edits a
versioned row (`version_id_col`) carries the version it was opened at in a hidden `version` field,
and `check_version` refuses a submit made from an older copy before anything is changed. A race
lost after that check surfaces in the database: `StaleDataError` (the row was saved meanwhile) or
`IntegrityError` (a unique value was taken meanwhile). app/web/errors.py turns those into the same
409 pages, whether they are raised in a view's flush or in the one commit after the view answered.
"""

from flask import request
from werkzeug.exceptions import Conflict

from app.i18n import _, _l


class EditConflict(Conflict):
    """Someone else saved this row after the form was opened: nothing of this submit is kept."""

    user_message = _l("Someone else changed this at the same time, so your changes were not saved.")

    def __init__(self, current_version: int | None = None, reload_to: str | None = None):
        super().__init__()
        self.reload_to = reload_to
        self.details = [_("Reload the page to see what is saved now, then make your changes again.")]
        if current_version is not None:
            self.details.append(_("The saved copy is now version %(version)s.", version=current_version))


class Clash(Conflict):
    """A unique value (a login name, a number) was taken by another request at the same moment."""

    user_message = _l("This could not be saved: it clashes with something saved at the same moment.")
    details = (
        _l(
            "Someone else may have just added the same thing, for example the same login name. "
            "Reload the page, check what is there now, and try again."
        ),
    )


def check_version(obj, submitted, reload_to: str | None = None) -> None:
    """Refuse a submit made from an older copy of `obj` (the form's hidden `version` value).

    A missing or unreadable version is refused too: reloading the form brings the current one.
    The reload link defaults to this URL, since a form page answers its own GET and POST.
    """
    try:
        stale = int(submitted) != obj.version
    except (TypeError, ValueError):
        stale = True
    if stale:
        raise EditConflict(current_version=obj.version, reload_to=reload_to or request.path)
