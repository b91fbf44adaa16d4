"""What the phone defects of issue 6 left in the words on the page: friendly, translated zone
names; times that say their zone when the reader lives in another one; the office's short zone
list; and a dashboard tile of outstanding invoices only. (Layout is checked in a real browser in
tests/browser/test_phone.py.)"""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from flask_babel import force_locale

from app.models import Agency, User, utcnow
from app.web.zones import ZONES, zone_label
from tests.conftest import get_one, login, set_columns

NOV_30_9AM_CHICAGO = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def page(client, path) -> str:
    return unescape(client.get(path).get_data(as_text=True))


def options(html: str, select_id: str) -> list[tuple[str, str]]:
    select = re.search(rf'<select[^>]*id="{select_id}".*?</select>', html, re.S).group(0)
    return re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select)


def _form_version(html: str) -> str:
    """The version an edit form was opened at (its hidden field)."""
    return re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)


# --- zone names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "chicago", "phoenix"),
    [
        ("en", "Central time", "Arizona time (no daylight saving)"),
        ("es", "Hora del centro", "Hora de Arizona (sin horario de verano)"),
    ],
)
def test_personal_settings_offer_friendly_translated_zones(client, world, app, language, chicago, phoenix):
    set_columns(app, User, world.margaret.id, language=language)
    login(client, "margaretjones")
    choices = options(page(client, "/profile/settings"), "time_zone")
    labels = dict(choices)
    assert labels["America/Chicago"] == chicago and labels["America/Phoenix"] == phoenix
    assert all("/" not in label and "_" not in label for _value, label in choices)
    assert choices[0] == (
        "",
        {"en": "Same as the office (Central time)", "es": "La de la oficina (hora del centro)"}[language],
    )


def test_a_zone_outside_the_list_is_named_after_its_clock(app):
    with app.test_request_context(), force_locale("es"):
        assert zone_label("America/Indiana/Indianapolis") == "hora del este (Indianapolis)"
        assert zone_label("Asia/Tokyo") == "hora de Japón"  # CLDR's name, in Spanish
    with app.test_request_context(), force_locale("en"):
        assert zone_label("America/Boise") == "Mountain time (Boise)"
        assert [zone_label(name) for name, _label in ZONES][:3] == [
            "Eastern time",
            "Central time",
            "Mountain time",
        ]


# --- times carry their zone when the reader's differs from the office's ----------------------------


def test_times_say_their_zone_only_for_a_reader_in_another_zone(client, world, make, app):
    make.visit(world.client_a, NOV_30_9AM_CHICAGO)
    login(client, "margaretjones")
    same = page(client, "/schedule?view=day&date=2026-11-30")
    assert "9:00 AM – 11:00 AM</strong>" in same and "Central time" not in same

    set_columns(app, User, world.margaret.id, time_zone="America/New_York")
    moved = page(client, "/schedule?view=day&date=2026-11-30")
    assert "10:00 AM – 12:00 PM Eastern time</strong>" in moved
    printed = page(client, "/schedule/print?view=day&date=2026-11-30")
    assert "Times in Eastern time." in printed and "America/" not in printed


def test_upcoming_visits_and_requests_name_the_zone(client, world, make, app):
    make.visit(world.client_a, utcnow() + timedelta(days=2))
    set_columns(app, User, world.margaret.id, time_zone="America/Los_Angeles")
    login(client, "margaretjones")
    assert re.search(r"– \d+:\d\d [AP]M Pacific time", page(client, "/dashboard"))
    form = page(client, "/schedule/requests/new")
    assert "Times are in the office's time zone (Central time)." in form and "America/" not in form


# --- the office's zone list --------------------------------------------------------------------------


def test_office_zone_list_is_short_and_friendly(client, world):
    login(client, "admin")
    choices = options(page(client, "/admin/settings"), "time_zone")
    assert len(choices) == len(ZONES) < 20
    assert ("America/Chicago", "Central time") in choices
    assert all("/" not in label for _value, label in choices)


def test_office_keeps_a_zone_outside_the_list(client, world, app):
    set_columns(app, Agency, world.a.id, time_zone="America/Indiana/Indianapolis")
    login(client, "admin")
    html = page(client, "/admin/settings")
    assert options(html, "time_zone")[0] == ("America/Indiana/Indianapolis", "Eastern time (Indianapolis)")
    data = {
        "version": _form_version(html),
        "name": "Alpha Home Care",
        "time_zone": "America/Indiana/Indianapolis",
        "schedule_request_recipient_id": "0",
        "schedule_request_horizon_days": "90",
        "session_idle_minutes": "15",
        "payment_gateway": "none",
    }
    assert client.post_form("/admin/settings", data).status_code == 303
    again = {**data, "version": _form_version(page(client, "/admin/settings"))}  # the saved version
    refused = client.post_form("/admin/settings", {**again, "time_zone": "America/Boise"})
    assert refused.status_code == 422
    assert get_one(app, Agency, id=world.a.id).time_zone == "America/Indiana/Indianapolis"


# --- outstanding invoices on the dashboard --------------------------------------------------------


def tile(html: str, heading="Outstanding invoices") -> str:
    start = html.index(heading)
    return html[start : html.index("</section>", start)]


def test_dashboard_lists_only_outstanding_invoices(client, world, make):
    now = utcnow()
    make.invoice(world.client_a, "A-1", total_cents=10000, issued_at=now - timedelta(days=3))
    make.invoice(world.client_a, "A-2", total_cents=10000, paid_cents=4000, issued_at=now - timedelta(days=2))
    make.invoice(world.client_a, "A-3", total_cents=10000, paid_cents=10000, status="paid", issued_at=now)
    make.invoice(world.client_a, "A-4", total_cents=10000, status="void", issued_at=now)
    make.invoice(world.client_a, "A-5", total_cents=10000, status="draft", issued_at=now)
    login(client, "susanjones")
    html = tile(page(client, "/dashboard"))
    assert re.findall(r">(A-\d)</a>", html) == ["A-2", "A-1"]
    assert '<span class="badge">2</span>' in html and "$60.00" in html and "Paid" not in html


def test_a_payer_sees_the_five_most_recent_and_how_many_are_outstanding(client, world, make):
    now = utcnow()
    for n in range(1, 8):
        make.invoice(world.client_a, f"R-{n}", billed_to=world.robert, issued_at=now - timedelta(days=10 - n))
    make.invoice(
        world.client_a, "R-8", billed_to=world.robert, paid_cents=10000, status="paid", issued_at=now
    )
    make.invoice(world.client_a, "C-1", issued_at=now)  # billed to Margaret herself
    login(client, "robertjones")
    html = tile(page(client, f"/dashboard?client={world.client_a.id}"), "Invoices billed to you")
    assert re.findall(r">([RC]-\d)</a>", html) == ["R-8", "R-7", "R-6", "R-5", "R-4"]  # the paid one too
    assert '<span class="badge" title="Outstanding">7</span>' in html and "7 outstanding" in html


def test_no_outstanding_invoice_says_so(client, world, make):
    make.invoice(world.client_a, "P-1", paid_cents=10000, status="paid")
    login(client, "susanjones")
    assert "No outstanding invoices." in tile(page(client, "/dashboard"))
