"""Static files as a phone on a slow line gets them: WhiteNoise serves the smallest copy the browser
accepts (brotli, gzip, or plain), under a fingerprinted name cached for a year, with the same
security headers as pages — and a server answer carries exactly one Date header.
"""

import gzip
import hashlib
import http.client
import os
import re
import threading
from pathlib import Path
from urllib.parse import quote

import brotli
import pytest
from flask import url_for
from werkzeug.serving import make_server
from werkzeug.test import Client
from werkzeug.wrappers import Response

from app.services.pdf import link_callback
from app.web.assets import ONE_YEAR, StaticFiles, compress_static
from tests.conftest import HOST_A, login

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"
HTMX = "vendor/htmx-2.0.11.min.js"
BROWSER_ENCODINGS = "gzip, deflate, br, zstd"
FINGERPRINTED = re.compile(r"^/static/(?P<name>.+)\.(?P<digest>[0-9a-f]{12})(?P<ext>\.[a-z]+)$")


def digest(filename):
    return hashlib.sha256((STATIC / filename).read_bytes()).hexdigest()[:12]


def source_of(url):
    """The file in app/static behind a fingerprinted URL, checking the fingerprint on the way."""
    match = FINGERPRINTED.match(url)
    assert match, url
    filename = match["name"] + match["ext"]
    assert match["digest"] == digest(filename), url
    return filename


def page_assets(body):
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', body)
    scripts = re.findall(r'<script src="([^"]+)"', body)
    return stylesheets, scripts


def url_of(client, filename):
    """The URL the login page uses for one of its static files."""
    stylesheets, scripts = page_assets(client.get("/login").get_data(as_text=True))
    (url,) = [u for u in stylesheets + scripts if u.startswith(f"/static/{filename.rsplit('.', 1)[0]}.")]
    return url


def decode(response):
    body = response.get_data()
    encoding = response.headers.get("Content-Encoding")
    return {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}[encoding](body)


# --- fingerprinted names --------------------------------------------------------------------------


def test_pages_link_each_static_file_by_its_content_hash(client, world):
    stylesheets, scripts = page_assets(client.get("/login").get_data(as_text=True))
    assert {source_of(url) for url in stylesheets + scripts} == {
        "css/app.css",
        "css/print.css",
        HTMX,
        "js/dialog.js",
    }


def test_htmx_is_vendored_and_deferred(client, world):
    body = client.get("/login").get_data(as_text=True)
    (tag,) = re.findall(r"<script [^>]*htmx[^>]*></script>", body)
    assert re.search(r'src="/static/vendor/htmx-2\.0\.11\.min\.[0-9a-f]{12}\.js"', tag)
    assert re.search(r"\bdefer\b", tag)


def test_icon_sprite_is_fingerprinted_and_served(client, world):
    login(client, "margaretjones")
    body = client.get("/schedule").get_data(as_text=True)
    uses = set(re.findall(r'<use href="([^"#]+)#[a-z-]+"', body))
    assert len(uses) == 1
    (url,) = uses
    assert source_of(url) == "img/icons.svg"
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert b'id="printer"' in response.get_data()


def test_fingerprinted_files_are_cached_for_a_year(client, world):
    stylesheets, scripts = page_assets(client.get("/login").get_data(as_text=True))
    for url in stylesheets + scripts:
        response = client.get(url)
        assert response.status_code == 200
        cache = response.cache_control
        assert (cache.max_age, cache.public, cache.immutable) == (ONE_YEAR, True, True), url
        assert response.get_data() == (STATIC / source_of(url)).read_bytes()


@pytest.mark.parametrize("query", ["", "?v=0000deadbeef", f"?v={digest('css/app.css')}"])
def test_the_plain_name_still_works_with_a_short_cache(client, world, query):
    response = client.get("/static/css/app.css" + query)
    assert response.status_code == 200
    assert response.get_data() == (STATIC / "css/app.css").read_bytes()
    assert response.cache_control.max_age == 60
    assert not response.cache_control.immutable


@pytest.mark.parametrize(
    "path",
    [
        "/static/css/app.000000000000.css",  # a stale page after a deploy, or a guess
        f"/static/css/app.{digest('css/print.css')}.css",  # another file's fingerprint
        f"/static/css/app.{digest('css/app.css')[:8]}.css",
    ],
)
def test_a_wrong_fingerprint_is_not_found(client, world, path):
    # Never today's file under another immutable name: a cache would keep that pair for a year.
    assert client.get(path).status_code == 404


def test_an_unchanged_file_is_revalidated_without_a_body(client, world):
    first = client.get("/static/css/app.css")
    again = client.get("/static/css/app.css", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.get_data() == b""


def test_pdf_templates_may_use_the_fingerprinted_url(app):
    with app.test_request_context():
        url = url_for("static", filename="fonts/DejaVuSans.ttf")
        resolved = Path(link_callback(url))
    assert FINGERPRINTED.match(url)
    assert resolved == (STATIC / "fonts/DejaVuSans.ttf").resolve()


# --- compression ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("gzip", "gzip"),
        ("br", "br"),
        ("gzip, br", "br"),
        (BROWSER_ENCODINGS, "br"),
        ("", None),
        ("identity", None),
    ],
)
@pytest.mark.parametrize("filename", [HTMX, "css/app.css"])
def test_each_client_gets_the_smallest_copy_it_accepts(client, world, accept, encoding, filename):
    response = client.get(url_of(client, filename), headers={"Accept-Encoding": accept})
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == encoding
    assert "Accept-Encoding" in response.headers["Vary"]
    assert int(response.headers["Content-Length"]) == len(response.get_data())
    assert decode(response) == (STATIC / filename).read_bytes()


def test_compressed_sizes(client, world):
    sizes = {}
    for filename in (HTMX, "css/app.css"):
        url = url_of(client, filename)
        for accept in ("", "gzip", "br"):
            sizes[filename, accept] = len(client.get(url, headers={"Accept-Encoding": accept}).get_data())
    assert sizes[HTMX, ""] > 50_000
    assert sizes[HTMX, "gzip"] < 18_000  # 52 KB raw
    assert sizes[HTMX, "br"] < sizes[HTMX, "gzip"]
    assert sizes["css/app.css", "gzip"] < sizes["css/app.css", ""] / 2
    assert sizes["css/app.css", "br"] < sizes["css/app.css", "gzip"]


@pytest.mark.parametrize(
    ("filename", "mimetype"),
    [
        (HTMX, "text/javascript"),
        ("js/dialog.js", "text/javascript"),
        ("css/app.css", "text/css"),
        ("img/icons.svg", "image/svg+xml"),
    ],
)
def test_content_types(client, world, filename, mimetype):
    response = client.get(f"/static/{filename}", headers={"Accept-Encoding": "gzip"})
    assert response.mimetype == mimetype
    assert response.headers["Content-Encoding"] == "gzip"


def test_dynamic_pages_are_still_compressed_by_flask(client, world):
    response = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"Sign in" in gzip.decompress(response.get_data())


# --- security headers -----------------------------------------------------------------------------


@pytest.mark.parametrize("accept", ["", "gzip", "br"])
@pytest.mark.parametrize("path", ["/static/css/app.css", "/static/img/icons.svg", "fingerprinted"])
def test_static_files_carry_the_security_headers(client, world, path, accept):
    if path == "fingerprinted":
        path = url_of(client, HTMX)
    response = client.get(path, headers={"Accept-Encoding": accept})
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    "path",
    [
        "/static/../config.py",
        "/static/%2e%2e/config.py",
        "/static/css/../../../config.py",
        "/static/css/%2e%2e%2f%2e%2e%2f..%2fconfig.py",
        "/static/css/app.css.br",
        "/static/css/app.css.gz",
    ],
)
def test_nothing_outside_the_static_files_is_served(client, world, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"SECRET_KEY" not in response.get_data()


def test_static_url_outside_the_static_folder_is_never_opened(client, world, tmp_path, app):
    # A named pipe blocks whoever opens it: a server that opens files outside app/static would hang
    # here (or, for /dev/zero, fill its memory).
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    relative = os.path.relpath(pipe, app.static_folder)
    url = "/static/" + quote(relative, safe="")
    answers = {}
    worker = threading.Thread(target=lambda: answers.update(response=client.get(url)), daemon=True)
    worker.start()
    worker.join(3)
    if worker.is_alive():
        with open(pipe, "wb"):  # let the blocked reader go
            pass
        worker.join(3)
        pytest.fail("a static URL outside app/static opened the file")
    assert answers["response"].status_code == 404


# --- through a real server ------------------------------------------------------------------------


@pytest.fixture
def server(app):
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd.server_port
    httpd.shutdown()
    thread.join(5)


def fetch(port, path, **headers):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Host": HOST_A, **headers})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def test_a_server_answer_has_one_date_and_the_compressed_copy(server, client, world):
    fingerprinted = url_of(client, HTMX)
    for path in (fingerprinted, "/static/css/app.css", "/login", "/healthz", "/no-such-page"):
        response, body = fetch(server, path, **{"Accept-Encoding": "gzip"})
        assert len(response.headers.get_all("Date")) == 1, path
    response, body = fetch(server, fingerprinted, **{"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(body) < 18_000
    assert gzip.decompress(body) == (STATIC / HTMX).read_bytes()


def test_the_test_client_sees_no_date_from_the_app(client, world):
    # The server adds Date; the app adding one too (send_file, Flask-Compress) made two.
    for path in ("/static/css/app.css", "/static/nope.css", "/login"):
        assert "Date" not in client.get(path, headers={"Accept-Encoding": "gzip"}).headers, path


# --- building the compressed copies ---------------------------------------------------------------

CSS = b"body { color: #222; margin: 0 auto; }\n" * 200


def not_found(environ, start_response):
    return Response("not found", status=404)(environ, start_response)


def served(root, path, accept):
    response = Client(StaticFiles(not_found, root=str(root), prefix="/static")).get(
        path, headers={"Accept-Encoding": accept}
    )
    return response.headers.get("Content-Encoding"), decode(response)


def test_compress_static_builds_copies_once_and_rebuilds_stale_ones(tmp_path):
    site = tmp_path / "static"
    (site / "css").mkdir(parents=True)
    css = site / "css" / "site.css"
    css.write_bytes(CSS)
    (site / "noise.bin").write_bytes(os.urandom(4096))  # does not shrink: no copies

    written = compress_static(site)
    assert sorted(p.name for p in written) == ["site.css.br", "site.css.gz"]
    assert compress_static(site) == []
    assert served(site, "/static/css/site.css", "br") == ("br", CSS)
    assert served(site, "/static/css/site.css", "gzip") == ("gzip", CSS)
    assert not list(site.glob("noise.bin.*"))

    # The file changes and the server restarts before anyone rebuilds: the old copy is not served.
    changed = CSS.replace(b"#222", b"#000")
    css.write_bytes(changed)
    os.utime(css, ns=(css.stat().st_atime_ns, css.stat().st_mtime_ns + 1_000_000_000))
    assert served(site, "/static/css/site.css", "br") == (None, changed)

    assert len(compress_static(site)) == 2
    assert served(site, "/static/css/site.css", "br") == ("br", changed)

    css.unlink()
    compress_static(site)
    assert sorted(p.name for p in site.rglob("*")) == ["css", "noise.bin"]
