"""Real-browser fixtures: the session app served on loopback, Chromium through Playwright.

Every test in this folder is marked `browser` (the PostgreSQL leg runs `-m "not browser"`) and runs
twice, with JavaScript on and off, in a phone-sized window (390 x 844). The live server shares the
session `app` and its SQLite file with the factories: each request opens its own session and
connection, so rows a test commits are visible to the server thread.

Host names: Chromium maps *.localhost to 127.0.0.1 (--host-resolver-rules), but Playwright's
`page.request` / APIRequestContext resolves names in Node, where alpha.localhost does not resolve
(ENOTFOUND). Fetch through the page (`page.goto`) or send Python's request to 127.0.0.1 with a
Host header instead.
"""

import os
import socket
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import HOST_A

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
    # *.localhost always reaches our IPv4 loopback server, never DNS or ::1.
    "--host-resolver-rules=MAP *.localhost 127.0.0.1",
]
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 5000
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(app):
    """The session app on http://127.0.0.1:<port>, served from a daemon thread."""
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield type("LiveServer", (), {"port": port, "url": lambda self, host=HOST_A: f"http://{host}:{port}"})()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _links_on_the_live_server(app, live_server, monkeypatch):
    """Links the app builds for mail and feeds name the agency's host on the live server's port,
    as `make run` names port 5000."""
    monkeypatch.setitem(app.config, "PUBLIC_PORT", str(live_server.port))


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} is missing (apt-get install -y chromium); browser tests need it"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " and CI=true, so this is a failure, not a skip", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def js(request) -> bool:
    """JavaScript on or off; a test that needs only one says `@pytest.mark.parametrize("js", [True])`."""
    return request.param


@pytest.fixture
def page(browser, live_server, js):
    """A fresh context (no cookies) per test. `page.console_messages` collects what the console said."""
    context = browser.new_context(java_script_enabled=js, viewport=PHONE, base_url=live_server.url())
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.console_messages = []
    page.on("console", lambda message: page.console_messages.append(message.text))
    page.on("pageerror", lambda error: page.console_messages.append(f"pageerror: {error}"))
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
