"""What auditing every view costs under concurrency: a page served by gunicorn, with and without
an audit event per view, driven by concurrent clients on loopback.

Usage: .venv/bin/python scripts/bench_audit.py DATABASE_URL [--page clients|dashboard]
           [--agencies 2] [--requests 800] [--clients 8] [--workers 4] [--rounds 3]
           [--old-audit FILE]
DATABASE_URL is a PostgreSQL database of your own: its tables are DROPPED and made afresh.
--old-audit FILE measures another version of app/services/audit.py too, e.g. the global lock held
to the end of the request: `git show ca2fa75:app/services/audit.py > /tmp/old_audit.py`.

Pages: "clients", defined in this script only, is the cheapest audited page there can be (one
query, an agency's client list in the site layout, no sign-in); "dashboard" is the real portal
dashboard, signed in, with an event recorded per view as the care plan and invoice pages will.
Modes: "off" records nothing, "commit" records with the app's audit, "old" with --old-audit.
Each client uses one agency (--agencies, default 2, taken in turn). Prints requests/s per mode
(median of the rounds, modes interleaved) and the ratio to "off" (median of the rounds' ratios);
each "commit" run must have written one event per view in unbroken chains.
"""

import argparse
import functools
import http.client
import importlib.util
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask import render_template  # noqa: E402
from flask_login import current_user  # noqa: E402
from jinja2 import ChoiceLoader, DictLoader  # noqa: E402
from sqlalchemy import delete, func, select  # noqa: E402

from app import create_app  # noqa: E402
from app.auth.passwords import hash_secret  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Agency, AuditEvent, Client, ClientLink, User  # noqa: E402
from app.services import audit  # noqa: E402
from app.tenancy import all_agencies  # noqa: E402
from app.web.access import public  # noqa: E402

SLUGS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")
PASSWORD = "bench-password"
PATHS = {"clients": "/bench/clients", "dashboard": "/dashboard"}
CLIENTS_PAGE = """{% extends "base.html" %}{% block content %}
<h1>{{ agency.name }}</h1>
<table>{% for client in clients %}
<tr><td>{{ client.id }}</td><td>{{ client.first_name }} {{ client.last_name }}</td></tr>{% endfor %}
</table>{% endblock %}"""
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def make_app():
    """The app with the page to measure; BENCH_AUDIT says how it audits (off, commit, old)."""
    app = create_app(
        "development",
        SQLALCHEMY_DATABASE_URI=os.environ["BENCH_DATABASE_URL"],
        SECRET_KEY="bench-secret",
        AUDIT_KEY="bench-audit-key",
        RATELIMIT_ENABLED=False,
    )
    mode = os.environ.get("BENCH_AUDIT", "off")
    if mode == "off":
        record = None
    elif mode == "commit":
        record = audit.record
    elif mode == "old":
        record = _old_record()
    else:
        raise SystemExit(f"unknown BENCH_AUDIT {mode!r}")

    @public
    def clients_page():
        clients = db.session.scalars(select(Client).order_by(Client.last_name).limit(50)).all()
        if record is not None:
            record("bench.viewed", actor=None, target=clients[0], client_id=clients[0].id)
        return render_template("bench/clients.html", clients=clients)

    app.add_url_rule(PATHS["clients"], "bench_clients", clients_page)
    app.jinja_env.loader = ChoiceLoader(
        [DictLoader({"bench/clients.html": CLIENTS_PAGE}), app.jinja_env.loader]
    )

    dashboard = app.view_functions["dashboard.index"]

    @functools.wraps(dashboard)
    def audited_dashboard(*args, **kwargs):
        if record is not None:
            record("bench.dashboard_viewed", actor=current_user._get_current_object())
        return dashboard(*args, **kwargs)

    app.view_functions["dashboard.index"] = audited_dashboard
    return app


def _old_record():
    spec = importlib.util.spec_from_file_location("old_audit", os.environ["BENCH_OLD_AUDIT"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.record


def host_of(slug):
    return f"{slug}.localhost"


def seed(url, agencies):
    """The agencies, each with 40 clients and one family member who signs in."""
    app = create_app("development", SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="x", AUDIT_KEY="x")
    with app.app_context(), all_agencies():
        db.drop_all()
        db.create_all()
        for n, slug in enumerate(SLUGS[:agencies]):
            agency = Agency(
                slug=slug, host=host_of(slug), name=f"{slug.title()} Home Care", is_default=n == 0
            )
            db.session.add(agency)
            db.session.flush()
            clients = [
                Client(agency_id=agency.id, first_name=f"Client{i}", last_name=f"Family{i:02}")
                for i in range(40)
            ]
            user = User(
                agency_id=agency.id,
                username="bench",
                role="portal",
                first_name="Bench",
                last_name="User",
                password_hash=hash_secret(PASSWORD),
                must_change_password=False,
            )
            db.session.add_all([*clients, user])
            db.session.flush()
            db.session.add(
                ClientLink(
                    agency_id=agency.id, user_id=user.id, client_id=clients[0].id, relationship_kind="self"
                )
            )
        db.session.commit()
    with app.app_context():
        db.engine.dispose()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(mode, args, port):
    env = dict(
        os.environ,
        BENCH_DATABASE_URL=args.database_url,
        BENCH_AUDIT=mode,
        BENCH_OLD_AUDIT=args.old_audit or "",
    )
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        *("--workers", str(args.workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning"),
        *("--chdir", str(ROOT), "--pythonpath", str(ROOT / "scripts"), "bench_audit:make_app()"),
    ]
    server = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if request(port, host_of(SLUGS[0]), "GET", "/login")[0] == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"gunicorn ({mode}) did not answer on port {port}")


def request(port, host, method, path, cookie=None, form=None):
    """One request on a new connection: (status, Set-Cookie's name=value or None, body)."""
    headers = {"Host": host}
    if cookie:
        headers["Cookie"] = cookie
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        set_cookie = response.getheader("Set-Cookie")
        return response.status, set_cookie and set_cookie.split(";")[0], response.read().decode()
    finally:
        connection.close()


def sign_in(port, host):
    _status, cookie, page = request(port, host, "GET", "/login")
    form = {"username": "bench", "password": PASSWORD, "csrf_token": CSRF_RE.search(page).group(1)}
    status, cookie, _ = request(port, host, "POST", "/login", cookie=cookie, form=form)
    if status not in (302, 303):
        raise SystemExit(f"sign-in at {host} answered {status}")
    return cookie


def drive(port, path, cookies, requests):
    """`requests` GETs from one thread per cookie at once: requests/s, and any answer not 200."""
    bad = []
    start = threading.Barrier(len(cookies) + 1)
    per_client = requests // len(cookies)

    def client(host, cookie):
        start.wait()
        for _ in range(per_client):
            status = request(port, host, "GET", path, cookie=cookie)[0]
            if status != 200:
                bad.append(status)

    threads = [threading.Thread(target=client, args=pair) for pair in cookies]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return per_client * len(cookies) / (time.perf_counter() - began), bad


def check(app, expected):
    """The run wrote one event per view, and every chain verifies."""
    with app.app_context():
        count = db.session.scalar(select(func.count(AuditEvent.id)))
        breaks = audit.chain_breaks()
    if count != expected or breaks:
        raise SystemExit(f"audit: {count} events for {expected} views; broken chains: {breaks}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database_url")
    parser.add_argument("--page", choices=sorted(PATHS), default="clients")
    parser.add_argument("--agencies", type=int, choices=range(1, len(SLUGS) + 1), default=2)
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old-audit", help="another audit.py to measure as mode 'old'")
    args = parser.parse_args()
    seed(args.database_url, args.agencies)
    os.environ["BENCH_DATABASE_URL"] = args.database_url
    app = make_app()
    path = PATHS[args.page]
    modes = ["off", "commit"] + (["old"] if args.old_audit else [])
    rates = {mode: [] for mode in modes}
    for round_ in range(1, args.rounds + 1):
        for mode in modes:
            port = free_port()
            server = serve(mode, args, port)
            try:
                hosts = [host_of(SLUGS[n % args.agencies]) for n in range(args.clients)]
                cookies = [
                    (host, sign_in(port, host) if args.page == "dashboard" else None) for host in hosts
                ]
                drive(port, path, cookies, 8 * args.clients)  # warm-up: every worker has connected
                with app.app_context():
                    db.session.execute(delete(AuditEvent))  # each run's chains start afresh
                    db.session.commit()
                rate, bad = drive(port, path, cookies, args.requests)
            finally:
                server.terminate()
                server.wait(timeout=30)
            if bad:
                raise SystemExit(f"{mode}: {len(bad)} answers were not 200: {sorted(set(bad))}")
            if mode == "commit":
                check(app, expected=args.requests // args.clients * args.clients)
            rates[mode].append(rate)
            print(f"  round {round_}, {mode}: {rate:.1f} req/s", flush=True)
    setup = f"{args.agencies} agencies, {args.clients} clients, {args.requests} requests per run"
    setup += f", gunicorn -w {args.workers}"
    print(f"{args.page} page, {setup}")
    for mode in modes:
        runs = ", ".join(f"{rate:.0f}" for rate in rates[mode])
        # Each round's runs follow each other, so a round's ratio holds when the machine's load drifts.
        ratio = statistics.median(rate / off for rate, off in zip(rates[mode], rates["off"], strict=True))
        median = statistics.median(rates[mode])
        print(f"  {mode:<7} {median:7.1f} req/s (runs: {runs})  ratio to off: {ratio:.2f}")
    print("  every 'commit' run wrote one event per view, in unbroken per-agency chains")


if __name__ == "__main__":
    main()
