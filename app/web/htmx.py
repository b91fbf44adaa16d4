"""The response contract: one view, one template family — the fragment for a partial htmx
request, the page otherwise — and one way to answer each outcome.

- `render_page(template, fragment, **ctx)`: show something (200, or the status given).
- `render_form(template, fragment, **ctx)`: show a form; a POST that reaches it did not validate,
  so it answers 422 with the errors beside the fields.
- `done(message, to, fragment=None, **ctx)`: a change succeeded. A page gets 303 to `to` with the
  message flashed; htmx gets `fragment` (with `message`) when given, else an HX-Redirect to `to`.
- `redirect_page(to)`: send the browser elsewhere without a change to report.
"""

from flask import current_app, flash, g, make_response, redirect, render_template, request

from app.extensions import db


def is_partial_request() -> bool:
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") is None
        and headers.get("HX-History-Restore-Request") is None
    )


def render_page(template: str, fragment: str | None = None, status: int = 200, **context):
    chosen = fragment if fragment and is_partial_request() else template
    response = make_response(render_template(chosen, **context), status)
    response.vary.add("HX-Request")
    return response


def redirect_page(location: str, status: int = 303):
    """Send the browser to another page: a redirect for a plain request; for htmx an HX-Redirect,
    because htmx would follow a redirect itself and swap the whole new page into a fragment."""
    if is_partial_request():
        response = current_app.response_class("", status=200)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, status)


def render_form(template: str, fragment: str | None = None, **context):
    """A form page: 200 when it is first shown, 422 when a submitted form comes back with errors."""
    status = 422 if request.method == "POST" else 200
    return render_page(template, fragment=fragment, status=status, **context)


def record_view_of_refused(record_view) -> None:
    """For an error answer that shows a care or money record again (a form sent back with its
    errors): drop what the refused request changed, then record the view, which the request keeps
    (an error answer otherwise keeps nothing). Call it once the answer is rendered."""
    db.session.rollback()
    record_view()
    g.keep_changes = True


def done(message: str | None, to: str, fragment: str | None = None, category: str = "success", **context):
    """Answer a change that succeeded (redirect after POST for a page, a fragment or HX-Redirect for htmx)."""
    if fragment and is_partial_request():
        return make_response(render_template(fragment, message=message, **context))
    if message:
        flash(message, category)
    return redirect_page(to)
