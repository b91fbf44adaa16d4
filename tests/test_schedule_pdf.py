"""The schedule as a PDF, and the PDF service's rule that it reads nothing outside app/static.

The PDF is read back with pypdf, so the tests see what a printed page says: the client's name,
a caregiver whose name needs more than Latin-1 ("Łucja Nowak"), and the visit times in Chicago.
"""

import io
from datetime import UTC, datetime
from pathlib import Path

import pypdf
import pytest

from app.services.pdf import html_to_pdf, link_callback
from tests.conftest import login

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"


def pdf_text(data: bytes) -> str:
    """The words of every page, with line breaks inside table cells folded to spaces."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def pdf_fonts(data: bytes) -> set[str]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }


@pytest.fixture
def lucja_visit(make, world):
    lucja = make.caregiver(world.a, "Łucja Nowak")
    make.visit(world.client_a, datetime(2026, 11, 30, 15, 0, tzinfo=UTC), caregiver_id=lucja.id)
    make.visit(
        world.client_a,
        datetime(2026, 11, 2, 15, 0, tzinfo=UTC),
        caregiver_id=lucja.id,
        status="completed",
        clock_in_at=datetime(2026, 11, 2, 15, 5, tzinfo=UTC),
        clock_out_at=datetime(2026, 11, 2, 17, 1, tzinfo=UTC),
        caregiver_note="Zażółć gęślą jaźń — a quiet morning.",
    )
    return lucja


def test_month_pdf_of_the_current_view(client, world, lucja_visit):
    login(client, "margaretjones")
    response = client.get("/schedule.pdf?view=month&date=2026-11-17")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == 'inline; filename="schedule-2026-11-01.pdf"'
    text = pdf_text(response.data)
    assert "Margaret Jones" in text and "November 2026" in text
    assert "Łucja Nowak" in text
    assert "9:00 AM – 11:00 AM" in text  # 15:00 UTC in Chicago
    assert "Arrived 9:05 AM, left 11:01 AM" in text
    assert "Zażółć gęślą jaźń" in text
    assert any("DejaVuSans" in font for font in pdf_fonts(response.data))
    assert len(pypdf.PdfReader(io.BytesIO(response.data)).pages) == 5  # a page per calendar week


def test_week_and_day_pdfs_name_their_first_day(client, world, lucja_visit):
    login(client, "margaretjones")
    week = client.get("/schedule.pdf?view=week&date=2026-12-02")
    assert 'filename="schedule-2026-11-29.pdf"' in week.headers["Content-Disposition"]
    assert "9:00 AM – 11:00 AM" in pdf_text(week.data)
    day = client.get("/schedule.pdf?view=day&date=2026-12-01")
    assert 'filename="schedule-2026-12-01.pdf"' in day.headers["Content-Disposition"]
    assert "No visits." in pdf_text(day.data) and "Łucja" not in pdf_text(day.data)


def test_payer_pdf_of_all_clients(client, make, world, lucja_visit):
    make.visit(world.client_a2, datetime(2026, 11, 30, 20, 0, tzinfo=UTC))
    login(client, "robertjones")
    text = pdf_text(client.get("/schedule.pdf?view=day&date=2026-11-30&client=all").data)
    assert "for Margaret Jones" in text and "for Harold Smith" in text
    text = pdf_text(client.get(f"/schedule.pdf?view=day&date=2026-11-30&client={world.client_a.id}").data)
    assert "Harold" not in text


def test_pdf_link_on_the_schedule_page_keeps_the_view(client, world, lucja_visit):
    login(client, "margaretjones")
    query = f"view=week&amp;date=2026-11-30&amp;client={world.client_a.id}"
    html = client.get(f"/schedule?{query.replace('&amp;', '&')}").get_data(as_text=True)
    assert f'href="/schedule.pdf?{query}">' in html


# --- the PDF service -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "/static/fonts/DejaVuSans.ttf",
        "/static/fonts/DejaVuSans.ttf?v=0123456789ab",
        "fonts/DejaVuSans-Bold.ttf",
        "/static/css/pdf.css",
    ],
)
def test_link_callback_resolves_files_inside_static(app, uri):
    with app.test_request_context():
        resolved = Path(link_callback(uri))
    assert resolved.is_file() and resolved.is_relative_to(STATIC.resolve())


@pytest.mark.parametrize(
    "uri",
    [
        "/etc/passwd",
        "file:///etc/passwd",
        "../config.py",
        "/static/../../config.py",
        "/static/%2e%2e/%2e%2e/config.py",
        "http://169.254.169.254/latest/meta-data/",
        "https://example.org/logo.png",
        "//example.org/logo.png",
        "/static/fonts/missing.ttf",
    ],
)
def test_link_callback_refuses_everything_else(app, uri):
    with app.test_request_context():
        resolved = Path(link_callback(uri))
    assert not resolved.exists()
    assert resolved.parent == STATIC.resolve()


def test_a_refused_resource_is_dropped_not_read(app):
    html = (
        '<html><head><link rel="stylesheet" href="/static/css/pdf.css"></head><body>'
        '<p>Łucja</p><img src="/etc/passwd"><img src="file:///etc/hostname"></body></html>'
    )
    with app.test_request_context():
        data = html_to_pdf(html)
    assert data.startswith(b"%PDF")
    assert "Łucja" in pdf_text(data)
    assert b"root:" not in data


def test_fonts_ship_with_their_licence():
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVu-LICENSE.txt"):
        assert (STATIC / "fonts" / name).is_file()
    assert "Bitstream" in (STATIC / "fonts" / "DejaVu-LICENSE.txt").read_text()


def test_a_period_too_big_for_one_pdf_is_refused_with_a_reason(client, world, lucja_visit, monkeypatch):
    from app.blueprints.schedule import services

    monkeypatch.setattr(services, "MAX_PDF_VISITS", 1)
    login(client, "margaretjones")
    response = client.get("/schedule.pdf?view=month&date=2026-11-01")
    assert response.status_code == 422
    assert "This view has 2 visits, too many for one PDF" in response.get_data(as_text=True)
    assert client.get("/schedule.pdf?view=week&date=2026-11-30").status_code == 200
