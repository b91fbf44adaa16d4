"""/profile/picture: a JPEG, PNG or WebP re-encoded without metadata, kept private to its owner;
anything else refused beside the field with nothing stored."""

import io
import re
import zipfile
from pathlib import Path

import pytest
from PIL import ExifTags, Image, PngImagePlugin
from sqlalchemy import func, select

from app.models import AuditEvent, StoredFile, User
from tests.conftest import get_one, in_app, login, recorded_sql


def picture(fmt="PNG", size=(300, 200), mode="RGB", **save):
    image = Image.linear_gradient("L").resize(size).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def jpeg_with_gps_and_orientation() -> bytes:
    """A 300×200 camera JPEG that says "turn me 90°" and where it was taken."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (41.0, 52.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (87.0, 37.0, 40.0)
    data = picture("JPEG", exif=exif.tobytes())
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the test's premise
    return data


def upload(client, data: bytes, filename="me.png", htmx=False, token=None):
    token = token or client.csrf_token("/profile/picture")
    headers = {"X-CSRFToken": token, "HX-Request": "true"} if htmx else {}
    form = {"picture": (io.BytesIO(data), filename)}
    if not htmx:
        form["csrf_token"] = token
    return client.post("/profile/picture", data=form, headers=headers, content_type="multipart/form-data")


def stored_files(app) -> int:
    with in_app(app) as session:
        return session.scalar(select(func.count()).select_from(StoredFile))


def files_on_disk(app) -> int:
    return sum(1 for path in Path(app.config["STORAGE_DIR"]).rglob("*") if path.is_file())


def picture_error(html):
    match = re.search(r'<p id="picture-error" class="error">([^<]*)</p>', html)
    return match.group(1) if match else None


@pytest.fixture
def margaret(client, world):
    login(client, "margaretjones")
    return world.margaret


# --- accepted ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_a_real_picture_is_accepted_and_re_encoded(app, client, margaret, fmt):
    original = picture(fmt, size=(1200, 900))
    response = upload(client, original, f"me.{fmt.lower()}")
    assert response.status_code == 303 and response.location == "/profile/picture"
    page = client.get("/profile/picture").get_data(as_text=True)
    assert "Your picture is saved." in page and "Remove picture" in page
    user = get_one(app, User, id=margaret.id)
    stored = get_one(app, StoredFile, id=user.photo_file_id)
    assert stored.content_type == "image/jpeg"
    served = client.get(f"/profile/picture/image?v={stored.id}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.data != original
    image = Image.open(io.BytesIO(served.data))
    assert image.format == "JPEG" and image.size == (512, 384)  # at most 512×512, same shape
    assert f'src="/profile/picture/image?v={stored.id}"' in page
    assert get_one(app, AuditEvent, action="profile.picture_changed").actor_id == margaret.id


def test_exif_is_gone_and_the_orientation_applied(app, client, margaret):
    original = jpeg_with_gps_and_orientation()
    assert upload(client, original, "IMG_0001.JPG").status_code == 303
    data = client.get("/profile/picture/image").data
    image = Image.open(io.BytesIO(data))
    assert image.size == (200, 300)  # turned upright
    assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
    assert b"Exif" not in data and b"PhoneMaker" not in data


def test_a_transparent_png_is_flattened(app, client, margaret):
    assert upload(client, picture("PNG", mode="RGBA")).status_code == 303
    image = Image.open(io.BytesIO(client.get("/profile/picture/image").data))
    assert image.mode == "RGB"


def test_upload_with_htmx_swaps_the_fragment(app, client, margaret):
    response = upload(client, picture(), htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<section class="card" id="profile-picture">')
    assert "Your picture is saved." in html and "/profile/picture/image?v=" in html


def test_the_page_works_without_javascript(client, margaret):
    html = client.get("/profile/picture").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and 'action="/profile/picture"' in html
    assert 'accept="image/jpeg,image/png,image/webp"' in html
    assert "You have no profile picture yet." in html and "Remove picture" not in html


def test_a_new_picture_replaces_the_old_one(app, client, margaret):
    upload(client, picture(size=(100, 100)))
    first = get_one(app, User, id=margaret.id).photo_file_id
    upload(client, picture(size=(120, 100)))
    second = get_one(app, User, id=margaret.id).photo_file_id
    assert second != first
    assert get_one(app, StoredFile, id=first) is None and stored_files(app) == 1


# --- private to its owner ------------------------------------------------------------------------


def test_the_picture_is_served_to_its_owner_only(app, client, world, margaret):
    upload(client, picture())
    own = client.get("/profile/picture/image")
    assert own.status_code == 200
    assert own.headers["Cache-Control"].startswith("private")
    assert "no-store" not in own.headers["Cache-Control"]
    other = app.test_client()
    login(other, "susanjones")
    assert other.get("/profile/picture/image").status_code == 404  # the URL names nobody else
    staff = app.test_client()
    login(staff, "admin")
    assert staff.get("/profile/picture/image").status_code == 404
    anonymous = app.test_client().get("/profile/picture/image")
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login")


def test_remove_picture(app, client, margaret):
    upload(client, picture())
    response = client.post_form("/profile/picture/remove", token_from="/profile/picture", follow=True)
    assert "Your picture is removed." in response.get_data(as_text=True)
    assert get_one(app, User, id=margaret.id).photo_file_id is None
    assert stored_files(app) == 0
    assert client.get("/profile/picture/image").status_code == 404
    assert get_one(app, AuditEvent, action="profile.picture_removed") is not None
    again = client.post_form("/profile/picture/remove", token_from="/profile/picture", htmx=True)
    assert again.status_code == 200 and "You have no picture to remove." in again.get_data(as_text=True)


# --- refused, nothing stored ---------------------------------------------------------------------


def _png_zip_polyglot() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("index.html", "<html><script>alert(1)</script></html>")
    return picture() + archive.getvalue()


def _png_with_html_chunk() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<html><body><script>alert(document.cookie)</script></body></html>")
    return picture(pnginfo=info)


def _bomb() -> bytes:
    """10000×10000 pixels (100 megapixels) of one colour: a few kilobytes of PNG."""
    buffer = io.BytesIO()
    Image.new("1", (10000, 10000)).save(buffer, "PNG")
    assert len(buffer.getvalue()) < 100_000
    return buffer.getvalue()


def _big_file() -> bytes:
    return picture() + b"\0" * (5 * 1024 * 1024)


NOT_A_PICTURE = "Choose a photo in JPEG, PNG or WebP format."
UNREADABLE = "This picture could not be read; the file may be damaged or cut short. Try another one."
HIDDEN = "This file contains more than a picture. Save it again as a photo and try once more."
REFUSED = [
    (
        "svg",
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "a.svg",
        NOT_A_PICTURE,
    ),
    (
        "svg-as-png",
        lambda: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
        "a.png",
        NOT_A_PICTURE,
    ),
    ("text-renamed", lambda: b"Dear office,\nthis is not a picture.\n", "photo.png", NOT_A_PICTURE),
    ("gif", lambda: picture("GIF"), "a.gif", NOT_A_PICTURE),
    ("empty", lambda: b"", "a.png", NOT_A_PICTURE),
    ("bomb", _bomb, "bomb.png", "more than 25 megapixels"),
    ("too-large", _big_file, "big.png", "The picture is larger than 5 MB. Choose a smaller one."),
    ("png-zip", _png_zip_polyglot, "a.png", HIDDEN),
    ("png-html", _png_with_html_chunk, "a.png", HIDDEN),
    ("png-html-tail", lambda: picture() + b"<!doctype html><p>hi", "a.png", HIDDEN),
    ("truncated-jpeg", lambda: picture("JPEG", size=(600, 400))[:1500], "a.jpg", UNREADABLE),
    ("jpeg-header-only", lambda: b"\xff\xd8\xff\xe0" + b"\0" * 20, "a.jpg", UNREADABLE),
    ("truncated-png", lambda: picture("PNG", size=(600, 400))[:-40], "a.png", UNREADABLE),
]


@pytest.mark.parametrize(
    ("data", "filename", "message"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_refused_beside_the_field_and_nothing_stored(app, client, margaret, data, filename, message):
    files_before = files_on_disk(app)
    for htmx in (False, True):
        response = upload(client, data(), filename, htmx=htmx)
        html = response.get_data(as_text=True)
        assert response.status_code == 422, response.status
        assert message in (picture_error(html) or ""), html[-800:]
        assert ("<html" in html) is not htmx
    assert get_one(app, User, id=margaret.id).photo_file_id is None
    assert stored_files(app) == 0 and files_on_disk(app) == files_before
    assert get_one(app, AuditEvent, action="profile.picture_changed") is None


def test_no_file_chosen(client, margaret):
    token = client.csrf_token("/profile/picture")
    response = client.post("/profile/picture", data={"csrf_token": token}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert picture_error(response.get_data(as_text=True)) == "Choose a photo to upload."


def test_an_upload_past_the_request_limit_is_413_not_500(app, client, margaret):
    response = upload(client, b"\xff\xd8\xff" + b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    assert response.status_code == 413
    assert "That file is too large." in response.get_data(as_text=True)
    assert stored_files(app) == 0


def test_a_refused_picture_keeps_the_one_there_was(app, client, margaret):
    upload(client, picture())
    kept = get_one(app, User, id=margaret.id).photo_file_id
    assert upload(client, b"GIF89a not really").status_code == 422
    assert get_one(app, User, id=margaret.id).photo_file_id == kept


def test_staff_get_404(client, world):
    login(client, "admin")
    assert client.get("/profile/picture").status_code == 404
    assert upload(client, picture()).status_code == 404


def test_the_pages_cost_at_most_ten_statements(app, client, margaret):
    """Pages and a first upload: at most ten. Replacing or removing a picture also forgets the old
    file (one check of every owner column, the delete, the look at the disk after the commit):
    twelve, whatever the data size."""
    token = client.csrf_token("/profile/picture")
    with recorded_sql(app) as empty:
        assert client.get("/profile/picture").status_code == 200
    with recorded_sql(app) as saved:
        assert upload(client, picture(), token=token).status_code == 303
    with recorded_sql(app) as shown:
        assert client.get("/profile/picture").status_code == 200
    with recorded_sql(app) as served:
        assert client.get("/profile/picture/image").status_code == 200
    with recorded_sql(app) as replaced:
        assert upload(client, picture(size=(90, 90)), token=token).status_code == 303
    with recorded_sql(app) as removed:
        data = {"csrf_token": token}
        assert client.post("/profile/picture/remove", data=data).status_code == 303
    for statements in (empty, saved, shown, served):
        assert len(statements) <= 10, statements
    for statements in (replaced, removed):
        assert len(statements) <= 12, statements
