"""Deterministic demo data for `flask seed-demo`, so a newcomer can sign in at once and see every
part of the portal filled in.

Sunrise Home Care (the default agency, `sunrise.py`) holds the people of the design's demo;
Northside Care (`northside.py`) sits beside it, with the same staff login `admin`, to show that
agencies never see each other's data. The large scale adds Evergreen Health (`bulk.py`), a
thousand clients strong, for benchmarks.

The small demo goes through the domain services where they exist (accounts, links, schedule
requests, stored files), so it is what the product would make, audit events included; `records.py`
stands in for the services still to come. Everything follows from a fixed random seed and the given
`today`, so two runs on the same day build the same rows. The caller checks that the database is
empty and commits; this only adds and flushes.
"""

import random
from datetime import date, datetime

from app.auth.passwords import hash_secret
from app.extensions import db
from app.tenancy import all_agencies

from .bulk import seed_evergreen
from .common import DEMO_PASSWORD, RANDOM_SEED, TIME_ZONE, Seed
from .northside import seed_northside
from .sunrise import seed_sunrise

SCALES = ("small", "large")


def seed_demo(scale: str = "small", today: date | None = None) -> None:
    """Add the demo agencies to the session and flush; the caller checks emptiness and commits."""
    if scale not in SCALES:
        raise ValueError(f"unknown demo scale {scale!r}; choose one of: {', '.join(SCALES)}")
    today = today or datetime.now(TIME_ZONE).date()  # the agency's today, not the server's
    # argon2 is slow on purpose: every demo account shares this one hash.
    seed = Seed(today, random.Random(RANDOM_SEED), hash_secret(DEMO_PASSWORD))
    with all_agencies():
        seed_sunrise(seed)
        seed_northside(seed)
        if scale == "large":
            seed_evergreen(seed)
        db.session.flush()
