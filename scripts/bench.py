"""Page weight, SQL queries and server time for the main pages, signed in as demo users.

Usage: .venv/bin/python scripts/bench.py [DATABASE_URL]   (default: a fresh SQLite demo in /tmp)
Pass a database seeded with `flask seed-demo --scale large` to measure at size; the Evergreen
agency's first client (`evergreen.localhost`) is then measured too.
"""

import gzip
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402

PASSWORD = "porchlight-demo"
PAGES = {
    ("sunrise.localhost", "margaretjones"): [
        "/dashboard",
        "/schedule?view=month",
        "/schedule?view=week",
        "/schedule?view=day",
        "/schedule/print?view=week",
        "/schedule.pdf?view=month",
        "/schedule/requests",
        "/profile/settings",
    ],
    ("sunrise.localhost", "robertjones"): ["/dashboard", "/schedule?view=month&client=all"],
    ("sunrise.localhost", "admin"): ["/admin/", "/admin/people", "/admin/schedule-requests"],
}
LARGE = {
    ("evergreen.localhost", None): ["/dashboard", "/schedule?view=month"],
    ("evergreen.localhost", "admin"): [
        "/admin/",
        "/admin/clients",
        "/admin/clients?q=an&page=2",
        "/admin/clients?status=all&page=20",
        "/admin/clients/500",
        "/admin/people",
        "/admin/people?q=a&page=5",
        "/admin/invoices",
        "/admin/care-plans",
        "/admin/visits",
        "/admin/visits?unsigned=1",
        "/admin/visits?q=a&start=2026-09-01&end=2026-12-31&page=40",
        "/admin/visits/5000",
        "/admin/caregivers",
        "/admin/leads",
        "/admin/audit",
        "/admin/staff",
        "/admin/import",
        "/admin/links/20",
        "/admin/visits/preferred/500",
    ],
}


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else None
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    app = create_app("development", SQLALCHEMY_DATABASE_URI=url, RATELIMIT_ENABLED=False)
    queries = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a: queries.append(1))
        if len(sys.argv) == 1:
            from flask_migrate import upgrade

            from app.demo import seed_demo
            from app.tenancy import all_agencies

            upgrade()
            with all_agencies():
                seed_demo()
                db.session.commit()
    pages = dict(PAGES)
    if "evergreen" in url or len(sys.argv) > 2:
        pages.update(LARGE)
    header = ("user", "path", "status", "raw KB", "gzip KB", "SQL", "ms (median of 5)")
    print("{:<14} {:<34} {:>6} {:>7} {:>7} {:>4} {:>16}".format(*header))
    for (host, username), paths in pages.items():
        client = app.test_client()
        base = {"Host": host}
        page = client.get("/login", headers=base).get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        client.post(
            "/login",
            data={"username": username or "", "password": PASSWORD, "csrf_token": token},
            headers=base,
        )
        for path in paths:
            times = []
            for _ in range(5):
                queries.clear()
                started = time.perf_counter()
                response = client.get(path, headers=base)
                times.append((time.perf_counter() - started) * 1000)
            body = response.get_data()
            print(
                f"{username or '-':<14} {path:<34} {response.status_code:>6} {len(body) / 1024:>7.1f} "
                f"{len(gzip.compress(body)) / 1024:>7.1f} {len(queries):>4} {statistics.median(times):>16.1f}"
            )


if __name__ == "__main__":
    main()
