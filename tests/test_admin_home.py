"""The office home counts what needs attention, and stops counting where a number stops helping."""

import re
from datetime import UTC, datetime, timedelta

from app.services import office
from tests.conftest import login


def test_a_count_past_the_cap_reads_cap_plus(app, client, world, make, monkeypatch):
    start = datetime(2026, 11, 2, 15, tzinfo=UTC)
    for day in range(4):
        make.visit(world.client_a, start + timedelta(days=day), status="completed")
    login(client, "admin")
    text = re.sub(r"\s+", " ", client.get("/admin/").get_data(as_text=True))
    assert 'Visits completed but not signed <span class="badge">4</span>' in text
    monkeypatch.setattr(office, "COUNT_CAP", 3)
    text = re.sub(r"\s+", " ", client.get("/admin/").get_data(as_text=True))
    assert 'Visits completed but not signed <span class="badge">3+</span>' in text
    assert 'New schedule requests</a> <span class="badge">0</span>' in text
