"""One view, one template family: the fragment for a partial htmx request, the page otherwise."""

from flask import current_app, make_response, redirect, render_template, request


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
