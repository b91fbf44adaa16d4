"""The security envelope every answer carries, and the low-bandwidth promises.

Strict CSP with no inline script, no framing, no sniffing; session cookies a script cannot read;
private pages never stored by a cache; compressed pages; a health check for the load balancer.
Static files: tests/test_static.py.
"""

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.auth.tokens import make_token
from app.models import User
from tests.conftest import HOST_A, in_app, login

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def vary(response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("Vary", "").split(",") if v.strip()}


def welcome_path(app, user_id):
    with in_app(app) as session:
        return f"/welcome/{make_token(session.get(User, user_id), 'welcome')}"


@pytest.fixture
def signed_in(client, world):
    assert login(client, "margaretjones").status_code == 303
    return client


# --- Content-Security-Policy and friends ---------------------------------------------------------

ANONYMOUS_PAGES = ["/login", "/password/forgot", "/no-such-page", "/healthz"]


def assert_strict_csp(response):
    directives = csp_directives(response)
    script = directives.get("script-src", directives.get("default-src"))
    assert script is not None
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script
    assert "*" not in script and "data:" not in script
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in directives.get("style-src", directives["default-src"])
    assert directives["default-src"] == ["'self'"]


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_anonymous_answers_carry_the_security_headers(client, world, path):
    response = client.get(path)
    assert_strict_csp(response)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] in {"same-origin", "no-referrer", "strict-origin"}
    assert "camera=()" in response.headers["Permissions-Policy"]


@pytest.mark.parametrize("path", ["/dashboard", "/password/change", "/invoices/999999"])
def test_signed_in_answers_carry_the_security_headers(signed_in, path):
    response = signed_in.get(path)
    assert_strict_csp(response)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_htmx_fragments_and_refusals_carry_the_security_headers(client, world, app, monkeypatch):
    fragment = client.post_form("/login", {"username": "x", "password": "y"}, htmx=True)
    assert fragment.status_code == 422
    csrf_refused = client.post("/login", data={})
    assert csrf_refused.status_code == 400
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "1 per minute")
    login(client, "x", "y")
    limited = login(client, "x", "y")
    assert limited.status_code == 429
    for response in (fragment, csrf_refused, limited):
        assert_strict_csp(response)
        assert response.headers["X-Content-Type-Options"] == "nosniff"


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<[^>]+\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"<style\b", re.I), "inline <style>"),
    (re.compile(r"<[^>]+\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"\bhx-on", re.I), "hx-on (needs eval)"),
]


def assert_nothing_inline(body):
    for pattern, what in INLINE:
        match = pattern.search(body)
        assert match is None, f"{what}: {match.group(0) if match else ''}"


@pytest.mark.parametrize("path", ["/login", "/password/forgot", "/no-such-page"])
def test_anonymous_pages_have_nothing_the_csp_would_block(client, world, path):
    assert_nothing_inline(client.get(path).get_data(as_text=True))


@pytest.mark.parametrize("path", ["/dashboard", "/password/change", "/admin/"])
def test_signed_in_pages_have_nothing_the_csp_would_block(client, world, path):
    login(client, "admin" if path.startswith("/admin") else "margaretjones")
    response = client.get(path)
    assert response.status_code == 200
    assert_nothing_inline(response.get_data(as_text=True))


def test_welcome_page_has_nothing_the_csp_would_block(client, world, app):
    assert_nothing_inline(client.get(welcome_path(app, world.margaret.id)).get_data(as_text=True))


def test_htmx_is_configured_for_a_strict_csp(client, world):
    body = client.get("/login").get_data(as_text=True)
    match = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", body)
    assert match
    import json

    config = json.loads(match.group(1))
    assert config["allowEval"] is False
    assert config["includeIndicatorStyles"] is False  # htmx would inject a <style> otherwise
    assert config["allowScriptTags"] is False


# --- cookies -------------------------------------------------------------------------------------


def session_cookie_header(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def test_session_cookie_after_sign_in_is_http_only_and_same_site_lax(client, world):
    response = login(client, "margaretjones")
    assert response.status_code == 303
    cookie = session_cookie_header(response)
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=lax"
    assert attributes["path"] == "Path=/"
    # Host-only: one agency's cookie is never sent to another agency's host.
    assert "domain" not in attributes
    # Lives no longer than the absolute session lifetime.
    assert "expires" in attributes


def test_session_cookie_is_secure_in_production():
    code = (
        "import config;"
        "c = config.ProductionConfig;"
        "print(c.SESSION_COOKIE_SECURE, c.SESSION_COOKIE_HTTPONLY, c.SESSION_COOKIE_SAMESITE)"
    )
    env = {k: v for k, v in os.environ.items() if k != "SESSION_COOKIE_SECURE"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=STATIC.parent.parent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["True", "True", "Lax"]


def test_sign_out_clears_the_session_cookie(signed_in):
    response = signed_in.post_form("/logout", token_from="/dashboard")
    cookie = signed_in.get_cookie("session", domain=HOST_A)
    # Only the flash message may remain; no user id.
    with signed_in.session_transaction(base_url=f"http://{HOST_A}") as s:
        assert "_user_id" not in s
    assert response.status_code == 303
    assert cookie is None or "_user_id" not in cookie.value


# --- caching of private answers ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/dashboard", "/password/change", "/no-such-page"])
def test_signed_in_pages_are_never_stored(signed_in, path):
    response = signed_in.get(path)
    assert response.headers["Cache-Control"] == "private, no-store"
    assert {"hx-request", "cookie"} <= vary(response)


def test_signed_in_htmx_fragments_are_never_stored(signed_in):
    response = signed_in.get("/password/change", htmx=True)
    assert "<html" not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "private, no-store"
    assert {"hx-request", "cookie"} <= vary(response)


def test_staff_pages_are_never_stored(client, world):
    login(client, "admin")
    response = client.get("/admin/")
    assert response.headers["Cache-Control"] == "private, no-store"


def test_pages_with_a_one_time_link_are_never_stored(client, world, app):
    # Anonymous, but they show a login name and carry the session's form token.
    response = client.get(welcome_path(app, world.margaret.id))
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    assert "cookie" in vary(response)


def test_login_page_is_never_stored(client, world):
    response = client.get("/login")
    assert "no-store" in response.headers["Cache-Control"]
    assert {"hx-request", "cookie"} <= vary(response)


# --- compression ---------------------------------------------------------------------------------


def test_dashboard_is_gzipped_and_small(signed_in):
    plain = signed_in.get("/dashboard")
    response = signed_in.get("/dashboard", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "accept-encoding" in vary(response)
    compressed = response.get_data()
    assert len(compressed) <= 14 * 1024
    assert int(response.headers["Content-Length"]) == len(compressed)
    html = gzip.decompress(compressed).decode()
    assert "My Alpha Home Care" in html
    assert len(html) == len(plain.get_data(as_text=True))


def test_login_page_is_gzipped(client, world):
    response = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Sign in" in gzip.decompress(response.get_data()).decode()


def test_without_accept_encoding_the_page_is_plain(signed_in):
    response = signed_in.get("/dashboard")
    assert "Content-Encoding" not in response.headers
    assert "My Alpha Home Care" in response.get_data(as_text=True)


# --- health check --------------------------------------------------------------------------------


def test_healthz_reports_the_database(client, world):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_needs_no_agency_and_no_sign_in(client):
    # No agency exists at all: pages answer 400 (no agency here), the health check still answers.
    assert client.get("/login", host="nowhere.example").status_code == 400
    response = client.get("/healthz", host="nowhere.example")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
    assert "Set-Cookie" not in response.headers
