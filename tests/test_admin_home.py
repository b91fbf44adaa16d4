"""The office home counts what needs attention, and stops counting where a number stops helping."""

import re
from datetime import UTC, datetime, timedelta

from app.services import office
from tests.conftest import login


def test_a_count_past_the_cap_reads_cap_plus(app, client, world, make, monkeypatch):
    start = datetime.now(UTC) - timedelta(days=10)
    for day in range(4):
        make.visit(world.client_a, start + timedelta(days=day), status="completed")
    login(client, "admin")
    text = re.sub(r"\s+", " ", client.get("/admin/").get_data(as_text=True))
    assert 'Visits completed but not signed</a> <span class="badge">4</span>' in text
    monkeypatch.setattr(office, "COUNT_CAP", 3)
    text = re.sub(r"\s+", " ", client.get("/admin/").get_data(as_text=True))
    assert 'Visits completed but not signed</a> <span class="badge">3+</span>' in text
    assert 'New schedule requests</a> <span class="badge">0</span>' in text


def test_unsigned_visits_link_to_their_list(app, client, world, make):
    from app.models import Signature

    today = datetime.now(UTC)
    recent = [make.visit(world.client_a, today - timedelta(days=d), status="completed") for d in (2, 3)]
    make.visit(world.client_a, today - timedelta(days=200), status="completed")  # long ago: the report's
    make.save(
        Signature(
            agency_id=world.a.id,
            visit_id=recent[1].id,
            signer_id=world.margaret.id,
            method="typed",
            typed_name="Margaret Jones",
            facts_hash="0" * 64,
            signed_at=today,
        )
    )
    make.visit(world.client_b, today - timedelta(days=2), status="completed")  # another agency's
    login(client, "admin")
    text = re.sub(r"\s+", " ", client.get("/admin/").get_data(as_text=True))
    assert (
        'href="/admin/visits?unsigned=1">Visits completed but not signed</a> <span class="badge">1</span>'
        in text
    )
    listing = client.get("/admin/visits?unsigned=1").get_data(as_text=True)
    assert "1 visit — completed, not signed" in listing
    assert f'/admin/visits/{recent[0].id}"' in listing and f'/admin/visits/{recent[1].id}"' not in listing
