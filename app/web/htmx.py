"""One view, one template family: the fragment for a partial htmx request, the page otherwise."""

from flask import make_response, render_template, request


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
