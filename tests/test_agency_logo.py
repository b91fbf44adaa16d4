"""Office settings, completed: the agency's logo (uploaded, re-encoded, shown in every page's
header and on the PDFs, removable) and the portal's address (a bare host name, the agency's alone),
both the owner's only."""

import io

import pytest
from PIL import Image

from app.models import Agency, StoredFile
from tests.conftest import HOST_A, HOST_B, get_one, login
from tests.test_admin_settings import _form
from tests.test_pdf_logo import bill, get_pdf, images_on  # noqa: F401 - bill is a fixture


def _png(size=(400, 120), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert(mode).save(buffer, "PNG")
    return buffer.getvalue()


def _upload(client, data: bytes, filename="logo.png"):
    token = client.csrf_token("/admin/settings")
    return client.post(
        "/admin/settings/logo",
        data={"csrf_token": token, "logo": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def test_an_uploaded_logo_shows_in_the_header_and_on_the_invoice_pdf(app, client, world, bill):  # noqa: F811
    login(client, "admin")
    assert _upload(client, _png()).status_code == 303
    logo_id = get_one(app, Agency, id=world.a.id).logo_file_id
    assert get_one(app, StoredFile, id=logo_id).content_type == "image/jpeg"  # re-encoded, ours
    family = app.test_client()
    page = family.get("/login").get_data(as_text=True)  # every page, the sign-in page too
    # Beside the agency's name in the same link: the picture says nothing more (empty alt).
    assert f'<img src="/logo?v={logo_id}" alt="" width="160" height="48"> Alpha Home Care</a>' in page
    served = family.get(f"/logo?v={logo_id}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert "immutable" in served.headers["Cache-Control"] and "public" in served.headers["Cache-Control"]
    assert "no-cache" in family.get("/logo?v=0").headers["Cache-Control"]  # an old address: asks again
    assert images_on(get_pdf(family, bill)) == [(400, 120)]  # signs Margaret in
    assert f'src="/logo?v={logo_id}"' in family.get("/dashboard").get_data(as_text=True)
    # Agency B has no logo: its pages show the name alone and its /logo is 404.
    other = app.test_client()
    assert "/logo" not in other.get("/login", host=HOST_B).get_data(as_text=True)
    assert other.get(f"/logo?v={logo_id}", host=HOST_B).status_code == 404


def test_a_large_logo_is_shrunk_and_removing_it_forgets_the_file(app, client, world):
    login(client, "admin")
    assert _upload(client, _png((3000, 900), "RGBA")).status_code == 303
    logo_id = get_one(app, Agency, id=world.a.id).logo_file_id
    assert Image.open(io.BytesIO(client.get("/logo").data)).size == (512, 154)
    page = client.get("/admin/settings").get_data(as_text=True)
    assert (
        "Replace logo" in page
        and f'src="/logo?v={logo_id}" alt="" width="160" height="48"' in page
    )
    client.post_form("/admin/settings/logo", {"remove": "1"}, token_from="/admin/settings")
    assert get_one(app, Agency, id=world.a.id).logo_file_id is None
    assert get_one(app, StoredFile, id=logo_id) is None
    assert client.get("/logo").status_code == 404


@pytest.mark.parametrize(
    "data, filename, message",
    [
        (b"%PDF-1.4 a letterhead", "logo.pdf", "Choose a logo in PNG or JPEG format."),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "logo.webp", "Choose a logo in PNG or JPEG format."),
        (b"\x89PNG\r\n\x1a\n broken", "logo.png", "This picture could not be read"),
        (b"", "", "Choose a logo to upload."),
    ],
)
def test_anything_but_a_png_or_jpeg_is_refused_beside_the_field(app, client, world, data, filename, message):
    login(client, "admin")
    answer = _upload(client, data, filename)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert 'id="logo-error"' in page and message in page
    assert (
        'name="name" required type="text" value="Alpha Home Care"' in page
    )  # the settings form shown unchanged
    assert get_one(app, Agency, id=world.a.id).logo_file_id is None


@pytest.mark.parametrize(
    "host, message",
    [
        ("https://care.example.org", "without http:// or https://"),
        ("care.example.org/portal", "without a path"),
        ("care.example.org:8443", "without a port number"),
        ("care_home.example.org", "letters, digits, hyphens and dots only"),
        ("-care.example.org", "letters, digits, hyphens and dots only"),
        ("localhost", "letters, digits, hyphens and dots only"),
        ("bücher.example.org", "letters, digits, hyphens and dots only"),
        ("a" * 64 + ".example.org", "letters, digits, hyphens and dots only"),
        ("", "Enter the portal&#39;s address"),
        (HOST_B, "Another agency&#39;s portal already answers at this address."),
    ],
)
def test_the_portal_address_must_be_a_bare_host_name_of_this_agency_alone(app, client, world, host, message):
    login(client, "admin")
    answer = client.post_form("/admin/settings", _form(host=host))
    assert answer.status_code == 422 and message in answer.get_data(as_text=True)
    assert get_one(app, Agency, id=world.a.id).host == HOST_A


def test_a_new_portal_address_is_saved_in_lower_case_and_the_office_continues_there(app, client, world):
    login(client, "admin")
    page = client.get("/admin/settings").get_data(as_text=True)
    assert f'value="{HOST_A}"' in page and "e-mails" in page  # says the mail links use it
    answer = client.post_form("/admin/settings", _form(host="  Care.Example.ORG "))
    assert answer.status_code == 303
    assert (
        answer.headers["Location"].startswith("http://care.example.org")
        and "/admin/settings" in (answer.headers["Location"])
    )
    assert get_one(app, Agency, id=world.a.id).host == "care.example.org"
    assert client.get("/login", host="care.example.org").status_code == 200  # the portal answers there


def test_an_old_settings_form_without_the_address_keeps_it(app, client, world):
    login(client, "admin")
    data = _form()
    data.pop("host", None)
    assert client.post_form("/admin/settings", data).status_code == 303
    assert get_one(app, Agency, id=world.a.id).host == HOST_A


def test_office_staff_and_families_get_404(app, client, world, make):
    make.user(world.a, "carolwhite", role="staff", name="Carol White")
    for username in ("carolwhite", "margaretjones"):
        other = app.test_client()
        login(other, username)
        assert other.get("/admin/settings").status_code == 404
        token = other.csrf_token("/profile")
        answer = other.post(
            "/admin/settings/logo",
            data={"csrf_token": token, "logo": (io.BytesIO(_png()), "logo.png")},
            content_type="multipart/form-data",
        )
        assert answer.status_code == 404
    assert get_one(app, Agency, id=world.a.id).logo_file_id is None
