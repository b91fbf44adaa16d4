"""The agency's logo at the top of the invoice PDF: read from the private file store through the
storage service and handed to xhtml2pdf as a `data:` URI, so the renderer still reads no file
outside app/static. Without a logo — or with one that cannot be shown — the PDF prints as before."""

import io
import os
import time
from pathlib import Path

import pypdf
import pytest
from PIL import ExifTags, Image, ImageDraw

from app.models import Agency, InvoiceLine
from app.services import pdf as pdf_service
from app.services import storage
from app.services.pdf import LOGO_BOX, link_callback, pdf_logo
from tests.conftest import in_app, login, set_columns


def image_bytes(fmt="PNG", size=(400, 120), mode="RGB") -> bytes:
    image = Image.linear_gradient("L").resize(size).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def images_on(data: bytes) -> list[tuple[int, int]]:
    """(width, height) in pixels of every image drawn on any page."""
    found = []
    for page in pypdf.PdfReader(io.BytesIO(data)).pages:
        objects = page["/Resources"].get("/XObject") or {}
        for ref in objects.values():
            xobject = ref.get_object()
            if xobject.get("/Subtype") == "/Image":
                found.append((int(xobject["/Width"]), int(xobject["/Height"])))
    return found


def pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def bill(make, world):
    invoice = make.invoice(world.client_a, "INV-2001", 12550)
    make.save(
        *(
            InvoiceLine(
                agency_id=world.a.id,
                invoice_id=invoice.id,
                description=f"Personal care visit {n}",
                billed_minutes=120,
                rate_cents=2900,
                amount_cents=5800,
            )
            for n in range(30)
        )
    )
    return invoice


def give_logo(app, make, agency, data: bytes, content_type=None):
    stored = make.stored_file(agency, data, content_type)
    set_columns(app, Agency, agency.id, logo_file_id=stored.id)
    return stored


def get_pdf(client, invoice) -> bytes:
    login(client, "margaretjones")
    response = client.get(f"/invoices/{invoice.id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return response.data


def test_without_a_logo_the_pdf_has_no_image(client, world, bill):
    data = get_pdf(client, bill)
    assert images_on(data) == []
    assert "Alpha Home Care" in pdf_text(data) and "$58.00" in pdf_text(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_the_agencys_logo_is_drawn_at_the_top(app, client, make, world, bill, fmt):
    give_logo(app, make, world.a, image_bytes(fmt))
    data = get_pdf(client, bill)
    assert images_on(data) == [(400, 120)]  # the logo's own pixels, on the first page only
    first_page = pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert first_page.lstrip().startswith("Alpha Home Care") and "$58.00" in first_page


def test_a_large_transparent_logo_is_printed_print_sized(app, client, make, world, bill):
    give_logo(app, make, world.a, image_bytes("PNG", size=(3000, 900), mode="RGBA"))
    assert images_on(get_pdf(client, bill)) == [(480, 144)]  # twice the box, flattened on white


def test_the_logo_fits_its_box_keeping_its_proportions(app, make, world):
    give_logo(app, make, world.a, image_bytes(size=(2000, 100)))
    with app.test_request_context(), in_app(app) as session:
        agency = session.get(Agency, world.a.id)
        logo = pdf_logo(agency)
        assert (logo.width, logo.height) == (LOGO_BOX[0], 12)
        assert logo.uri.startswith("data:image/png;base64,") and link_callback(logo.uri) == logo.uri
        small = storage.put(agency, image_bytes(size=(60, 30)), "image/png")
        agency.logo_file_id = small.id
        assert (pdf_logo(agency).width, pdf_logo(agency).height) == (60, 30)  # never enlarged
        session.rollback()


def test_a_photograph_prints_as_jpeg_and_a_camera_picture_upright(app, make, world):
    noise = Image.frombytes("RGB", (1200, 360), os.urandom(1200 * 360 * 3))
    photo = io.BytesIO()
    noise.save(photo, "PNG")
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # "turn me 90°": 300×100 as stored, 100×300 upright
    camera = io.BytesIO()
    Image.linear_gradient("L").resize((300, 100)).convert("RGB").save(camera, "JPEG", exif=exif.tobytes())
    with app.test_request_context(), in_app(app) as session:
        agency = session.get(Agency, world.a.id)
        agency.logo_file_id = storage.put(agency, photo.getvalue(), "image/png").id
        logo = pdf_logo(agency)
        assert logo.uri.startswith("data:image/jpeg;base64,") and (logo.width, logo.height) == LOGO_BOX
        assert len(logo.uri) < len(photo.getvalue()) / 4
        agency.logo_file_id = storage.put(agency, camera.getvalue(), "image/jpeg").id
        assert (pdf_logo(agency).width, pdf_logo(agency).height) == (24, 72)
        session.rollback()


def _unusable_logos(app, make, world):
    """Logos that must be left off: not an image, an SVG, another agency's file, a file gone from
    the disk, a file whose bytes no longer match their hash."""
    text = make.stored_file(world.a, b"just some text", "text/plain")
    svg = make.stored_file(world.a, b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/png")
    theirs = make.stored_file(world.b, image_bytes())
    gone = make.stored_file(world.a, image_bytes(size=(41, 41)))
    damaged = make.stored_file(world.a, image_bytes(size=(42, 42)))
    with app.app_context():
        storage._path(gone.agency_id, gone.sha256).unlink()
        path = storage._path(damaged.agency_id, damaged.sha256)
        path.write_bytes(image_bytes(size=(43, 43)))
    return {"text": text, "svg": svg, "theirs": theirs, "gone": gone, "damaged": damaged}


def test_a_logo_that_cannot_be_shown_is_left_off_and_the_pdf_still_prints(app, client, make, world, bill):
    login(client, "margaretjones")
    for name, stored in _unusable_logos(app, make, world).items():
        set_columns(app, Agency, world.a.id, logo_file_id=stored.id)
        response = client.get(f"/invoices/{bill.id}.pdf")
        assert response.status_code == 200, name
        assert images_on(response.data) == [], name
        assert "$58.00" in pdf_text(response.data), name


def test_a_logo_too_large_is_left_off(app, client, make, world, bill, monkeypatch):
    give_logo(app, make, world.a, image_bytes(size=(400, 120)))
    monkeypatch.setattr(pdf_service, "_PREPARED_LOGOS", {})  # an earlier test's resizing of the same bytes
    monkeypatch.setattr(pdf_service, "MAX_LOGO_PIXELS", 400 * 120 - 1)
    assert images_on(get_pdf(client, bill)) == []
    monkeypatch.setattr(pdf_service, "MAX_LOGO_PIXELS", 400 * 120)
    monkeypatch.setattr(pdf_service, "MAX_LOGO_BYTES", 10)
    assert images_on(client.get(f"/invoices/{bill.id}.pdf").data) == []


@pytest.mark.parametrize(
    "uri",
    [
        "data:text/html;base64,PGgxPmhpPC9oMT4=",
        "data:image/svg+xml,%3Csvg%20xmlns%3D%22http%3A//www.w3.org/2000/svg%22/%3E",
        "data:image/svg+xml;base64,PHN2Zy8+",
        "data:image/png,notbase64",
        "data:image/png;base64,iVBOR w0K",
        "data:image/png;base64,iVBORw0K\n/etc/passwd",
        "data:;base64,iVBORw0K",
    ],
)
def test_only_base64_png_and_jpeg_data_uris_get_through(app, uri):
    with app.app_context():
        assert Path(link_callback(uri)).name == ".refused"
        assert link_callback("data:image/jpeg;base64,/9j/4AAQ") == "data:image/jpeg;base64,/9j/4AAQ"


def drawn_logo(size=(1200, 360)) -> bytes:
    """A logo as an office would upload one: a mark and the agency's name on transparency."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 20, size[1] - 20, size[1] - 20), fill=(200, 30, 30, 255))
    draw.text((size[1] + 20, size[1] // 3), "Alpha Home Care", fill=(0, 0, 80, 255), font_size=size[1] // 4)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_the_logo_adds_little_to_the_render_time(app, make, world):
    """The invoice's budget is 150 ms for 30 lines, and the lines take most of it: the logo (made
    print-sized once, then reused) may add at most 20 ms to a render (about 10 ms measured).
    Documents with and without it alternate and the fastest of each counts, so a busy machine
    slows both alike."""
    give_logo(app, make, world.a, drawn_logo())
    with app.test_request_context(), in_app(app) as session:
        agency = session.get(Agency, world.a.id)
        pdf_logo(agency)  # made print-sized here, once
        started = time.perf_counter()
        logo = pdf_logo(agency)
        lookup = time.perf_counter() - started
        plain = "<html><body><h1>Alpha Home Care</h1></body></html>"
        with_logo = plain.replace(
            "<body>", f'<body><p><img src="{logo.uri}" width="{logo.width}" height="{logo.height}"></p>'
        )
        renders = {plain: [], with_logo: []}
        for _ in range(8):
            for html in renders:
                started = time.perf_counter()
                pdf_service.html_to_pdf(html)
                renders[html].append(time.perf_counter() - started)
        session.rollback()
    added = lookup + min(renders[with_logo]) - min(renders[plain])
    assert added <= 0.020, (lookup, min(renders[with_logo]), min(renders[plain]))
