"""Error pages: a fragment for htmx, a full page otherwise; never a stack trace; database conflicts as 409."""

from flask import current_app, request, session
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import Conflict, HTTPException, InternalServerError

from app.extensions import db
from app.i18n import _, _l
from app.services.links import AgencyHasNoAddress
from app.web.conflicts import Clash, EditConflict
from app.web.htmx import render_page

MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Please sign in to continue."),
    403: _l("You are not allowed to do that."),
    404: _l("We could not find that page."),
    405: _l("That action is not allowed here."),
    409: _l("Someone else changed this at the same time. Reload and try again."),
    413: _l("That file is too large."),
    422: _l("Please correct the errors and try again."),
    429: _l("Too many attempts. Please wait a little and try again."),
    500: _l("Something went wrong on our side. Please try again."),
}


def _render(error: HTTPException):
    code = error.code or 500
    # An exception that knows exactly what was wrong says so (`user_message`, translated text).
    message = getattr(error, "user_message", None) or MESSAGES.get(code, error.description)
    if code == 400 and "CSRF" in (error.description or ""):
        message = _("Your form expired. Please go back, reload the page and try again.")
    response = render_page(
        "errors/page.html",
        fragment="errors/_error.html",
        status=code,
        code=code,
        message=message,
        details=getattr(error, "details", ()),  # what to do next, when the error knows
        reload_to=getattr(error, "reload_to", None),
    )
    if code == 429 and getattr(error, "retry_after", None):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


class NoAgencyAddress(Conflict):
    user_message = _l(
        "This agency has no web address set up, so no link can be mailed. The owner of the "
        "installation must give the agency its address first."
    )


def answer_conflict(error: StaleDataError | IntegrityError):
    """The database refused this request's changes because of another request (a versioned row saved
    meanwhile, a unique value taken meanwhile): keep nothing and answer 409, never a 500. Raised by a
    flush in a view, or by the commit after the view answered (app/__init__.py), whose answer this
    replaces."""
    db.session.rollback()
    # A success message the view queued did not come true (an unshown older one goes with it).
    session.pop("_flashes", None)
    current_app.logger.warning("conflict on %s %s", request.method, request.path, exc_info=error)
    if not isinstance(error, StaleDataError):
        return _render(Clash())
    # A GET can simply be run again; for a submit, only the page knows its form (check_version).
    again = request.full_path.rstrip("?") if request.method == "GET" else None
    return _render(EditConflict(reload_to=again))


def register_error_handlers(app) -> None:
    app.register_error_handler(HTTPException, _render)
    app.register_error_handler(StaleDataError, answer_conflict)
    app.register_error_handler(IntegrityError, answer_conflict)
    app.register_error_handler(AgencyHasNoAddress, lambda _error: _render(NoAgencyAddress()))

    @app.errorhandler(Exception)
    def _unexpected(error):
        db.session.rollback()
        current_app.logger.exception("unhandled error")
        return _render(InternalServerError())
