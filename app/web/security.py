"""Response headers every page gets: CSP without inline script, no framing, no caching of private pages."""

from flask import current_app, request
from flask_login import current_user

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


# On every answer, static files included (app/web/assets.py gives them to WhiteNoise).
BASE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def add_security_headers(response):
    headers = response.headers
    for name, value in BASE_HEADERS.items():
        headers.setdefault(name, value)
    hsts = current_app.config["HSTS_SECONDS"]
    if hsts:
        headers.setdefault("Strict-Transport-Security", f"max-age={hsts}; includeSubDomains")
    if request.endpoint == "static":
        return response
    # is_anonymous reads no column: after the request's commit, is_authenticated (is_active) would
    # reload the user with one more query on every signed-in page.
    if not current_user.is_anonymous:
        # A view may allow the browser (only) to keep a response, e.g. a photo; nothing else is kept.
        if not response.cache_control.private:
            headers["Cache-Control"] = "private, no-store"
        response.vary.add("Cookie")
        response.vary.add("HX-Request")
    elif "Cache-Control" not in headers:
        # Anonymous pages still carry this browser's form token, and a one-time link's page shows
        # a login name: no cache may keep them either.
        headers["Cache-Control"] = "no-store"
    return response
