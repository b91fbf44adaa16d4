"""The office's caregivers: add, edit, deactivate and reactivate, the photo (re-encoded as the
profile picture is), the history of changes, the searched and paged list; what families read of
them on the "who is coming today" card."""

import io
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import insert

from app.models import AuditEvent, Caregiver, StoredFile
from tests.conftest import HOST_B, get_one, in_app, login, recorded_sql


def _data(**overrides):
    data = {
        "first_name": "Lucia",
        "last_name": "Mendez",
        "phone": "555-0199",
        "email": "lucia@example.com",
        "bio": "Ten years of home care; loves gardening.",
        "languages": "English, Spanish",
        "external_id": "HR-12",
    }
    data.update(overrides)
    return data


def _png(size=(900, 600)) -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def _upload(client, url, data: bytes, filename="photo.png"):
    token = client.csrf_token(url.removesuffix("/photo"))
    return client.post(
        url,
        data={"csrf_token": token, "photo": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def test_add_edit_and_read_the_history(app, client, world):
    login(client, "admin")
    answer = client.post_form("/admin/caregivers/new", _data(), follow=True)
    assert answer.status_code == 200 and "Caregiver added." in answer.get_data(as_text=True)
    lucia = get_one(app, Caregiver, last_name="Mendez")
    assert (lucia.agency_id, lucia.languages, lucia.is_active) == (world.a.id, "English, Spanish", True)
    url = f"/admin/caregivers/{lucia.id}"
    answer = client.post_form(url, _data(phone="555-0123", bio="New bio."), follow=True)
    assert "Details saved." in answer.get_data(as_text=True)
    page = client.get(url).get_data(as_text=True)
    history = page.split("History of changes")[1]
    assert "Details changed" in history and "phone, short bio" in history and "Caregiver added" in history
    assert history.index("Details changed") < history.index("Caregiver added")  # newest first
    assert "Sam Rivera" in history
    assert "555-0123" not in history and "555-0199" not in history  # names of fields, never values
    again = client.post_form(url, _data(phone="555-0123", bio="New bio."), follow=True)
    assert "Nothing changed." in again.get_data(as_text=True)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("first_name", "", "Enter the first name."),
        ("email", "not-an-address", "Enter an e-mail address like name@example.com."),
        ("external_id", "a b<script>", "Use letters, digits and"),
        ("languages", "x" * 201, "Field cannot be longer than 200 characters."),
    ],
)
def test_bad_details_are_refused_beside_the_field(app, client, world, field, value, message):
    login(client, "admin")
    answer = client.post_form("/admin/caregivers/new", _data(**{field: value}))
    assert answer.status_code == 422 and message in answer.get_data(as_text=True)
    assert get_one(app, Caregiver, last_name="Mendez") is None


def test_an_external_id_is_the_agencys_once(client, world, make):
    make.caregiver(world.a, "Old Record", external_id="HR-12")
    make.caregiver(world.b, "Other Agency", external_id="HR-13")
    login(client, "admin")
    answer = client.post_form("/admin/caregivers/new", _data())
    assert answer.status_code == 422 and "Another caregiver already has this id." in answer.get_data(
        as_text=True
    )
    assert client.post_form("/admin/caregivers/new", _data(external_id="HR-13")).status_code == 303


def test_deactivate_and_reactivate(app, client, world, make):
    from app.services import caregivers

    ana = make.caregiver(world.a, "Ana Torres")
    make.visit(world.client_a, datetime(2030, 1, 1, 9, tzinfo=ZoneInfo("UTC")), caregiver_id=ana.id)
    login(client, "admin")
    url = f"/admin/caregivers/{ana.id}"
    answer = client.post_form(f"{url}/active", {"active": "0"}, token_from=url, follow=True)
    assert "Caregiver deactivated" in answer.get_data(as_text=True)
    assert get_one(app, Caregiver, id=ana.id).is_active is False
    with in_app(app):
        from app.models import Agency, Visit

        assert ana.id not in [c.id for c in caregivers.choices(get_one(app, Agency, id=world.a.id))]
        assert get_one(app, Visit, client_id=world.client_a.id).caregiver_id == ana.id  # kept
    assert "Torres" not in client.get("/admin/caregivers").get_data(as_text=True)
    assert "Torres" in client.get("/admin/caregivers?status=inactive").get_data(as_text=True)
    assert client.post_form(f"{url}/active", {"active": "maybe"}, token_from=url).status_code == 422
    client.post_form(f"{url}/active", {"active": "1"}, token_from=url)
    assert get_one(app, Caregiver, id=ana.id).is_active is True
    history = client.get(url).get_data(as_text=True).split("History of changes")[1]
    assert history.index("Caregiver reactivated") < history.index("Caregiver deactivated")


def test_photo_upload_is_re_encoded_served_to_the_office_and_removable(app, client, world, make):
    ana = make.caregiver(world.a, "Ana Torres")
    login(client, "admin")
    url = f"/admin/caregivers/{ana.id}/photo"
    assert client.get(url).status_code == 404  # no photo yet
    answer = _upload(client, url, _png())
    assert answer.status_code == 303
    stored_id = get_one(app, Caregiver, id=ana.id).photo_file_id
    assert stored_id is not None
    served = client.get(url)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(served.data)).size) <= 512  # ours, resized
    assert f"/admin/caregivers/{ana.id}/photo?v={stored_id}" in client.get(
        f"/admin/caregivers/{ana.id}"
    ).get_data(as_text=True)
    refused = _upload(client, url, b"%PDF-1.4 not a picture", "cv.pdf")
    assert refused.status_code == 422
    assert 'id="photo-error"' in refused.get_data(as_text=True)
    assert get_one(app, Caregiver, id=ana.id).photo_file_id == stored_id
    empty = _upload(client, url, b"", "")
    assert empty.status_code == 422 and "Choose a photo to upload." in empty.get_data(as_text=True)
    client.post_form(url, {"remove": "1"}, token_from=f"/admin/caregivers/{ana.id}")
    assert get_one(app, Caregiver, id=ana.id).photo_file_id is None
    assert get_one(app, StoredFile, id=stored_id) is None
    with in_app(app) as session:
        actions = session.scalars(
            AuditEvent.__table__.select()
            .with_only_columns(AuditEvent.action)
            .where(AuditEvent.target_type == "Caregiver", AuditEvent.target_id == ana.id)
        ).all()
    assert actions.count("caregiver.photo_changed") == 2


def test_families_see_bio_languages_and_the_photo_on_the_today_card(app, client, world, make):
    ana = make.caregiver(world.a, "Ana Torres", bio="Loves gardening.", languages="English, Spanish")
    office = app.test_client()
    login(office, "admin")
    _upload(office, f"/admin/caregivers/{ana.id}/photo", _png())
    chicago = ZoneInfo("America/Chicago")
    make.visit(
        world.client_a, datetime.combine(datetime.now(chicago).date(), time(14), chicago), caregiver_id=ana.id
    )
    login(client, "margaretjones")
    page = client.get("/dashboard").get_data(as_text=True)
    card = page[page.index("Who is coming today") :]
    assert "Speaks English, Spanish" in card and "Loves gardening." in card
    assert f'src="/schedule/caregivers/{ana.id}/photo"' in card
    assert client.get(f"/schedule/caregivers/{ana.id}/photo").mimetype == "image/jpeg"


def test_the_list_searches_and_pages_in_a_few_statements(app, client, world):
    login(client, "admin")
    with recorded_sql(app) as few:
        assert client.get("/admin/caregivers").status_code == 200
    with in_app(app) as session:
        session.execute(
            insert(Caregiver),
            [
                {
                    "agency_id": world.a.id,
                    "first_name": f"Bulk{n:03d}",
                    "last_name": "Carer",
                    "is_active": True,
                }
                for n in range(300)
            ],
        )
        session.commit()
    with recorded_sql(app) as many:
        answer = client.get("/admin/caregivers?q=bulk&page=2")
        assert answer.status_code == 200
    assert len(many) == len(few) <= 10, many
    page = answer.get_data(as_text=True)
    assert "300 caregivers" in page and "Page 2 of 6" in page
    fragment = client.get("/admin/caregivers?q=Bulk007", htmx=True).get_data(as_text=True)
    assert fragment.startswith('<section id="admin-caregivers"') and "Carer, Bulk007" in fragment
    assert client.get("/admin/caregivers?page=99").status_code == 404
    assert client.get("/admin/caregivers?q=%00%ff").status_code in (200, 400)
    ana = get_one(app, Caregiver, first_name="Bulk001")
    with recorded_sql(app) as one:
        assert client.get(f"/admin/caregivers/{ana.id}").status_code == 200
    assert len(one) <= 10, one


def test_another_agencys_caregiver_is_404_and_portal_users_are_kept_out(app, client, world, make):
    theirs = make.caregiver(world.b, "Bea Carer")
    login(client, "admin")
    assert client.get(f"/admin/caregivers/{theirs.id}").status_code == 404
    assert client.get(f"/admin/caregivers/{theirs.id}/photo").status_code == 404
    url = f"/admin/caregivers/{theirs.id}/active"
    assert client.post_form(url, {"active": "0"}, token_from="/admin/caregivers").status_code == 404
    family = app.test_client()
    login(family, "margaretjones")
    for path in ("/admin/caregivers", "/admin/caregivers/new"):
        assert family.get(path).status_code in (302, 404)
    other = app.test_client()
    login(other, "admin", host=HOST_B)
    assert other.get(f"/admin/caregivers/{theirs.id}", host=HOST_B).status_code == 200
