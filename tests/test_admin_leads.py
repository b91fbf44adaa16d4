"""The office's client leads: add, search and page the list, assign (mailed through the outbox),
notes, files (checked from their bytes), download headers, convert into a client once."""

import io

from sqlalchemy import insert, select

from app.models import (
    AuditEvent,
    Client,
    ClientLead,
    Document,
    DocumentCategory,
    LeadAttachment,
    LeadNote,
    OutboxMail,
)
from tests.conftest import HOST_B, get_one, in_app, login, recorded_sql

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200


def _data(**overrides):
    data = {
        "first_name": "Rosa",
        "last_name": "Delgado",
        "email": "rosa@example.com",
        "phone": "555-0142",
        "address": "12 Elm Street",
        "notes": "Needs help after a hip operation, mornings.",
        "source": "A neighbour",
    }
    data.update(overrides)
    return data


def _new_lead(client):
    answer = client.post_form("/admin/leads/new", _data(), token_from="/admin/leads/new")
    assert answer.status_code == 303
    return int(answer.headers["Location"].rstrip("/").rsplit("/", 1)[-1])


def _attach(client, lead_id, data, filename):
    token = client.csrf_token(f"/admin/leads/{lead_id}")
    return client.post(
        f"/admin/leads/{lead_id}/files",
        data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def test_create_edit_search_and_note(app, client, world):
    login(client, "admin")
    lead_id = _new_lead(client)
    lead = get_one(app, ClientLead, id=lead_id)
    assert (lead.agency_id, lead.status, lead.phone) == (world.a.id, "new", "555-0142")
    url = f"/admin/leads/{lead_id}"
    answer = client.post_form(url, _data(status="contacted", phone="555-0100"), follow=True)
    assert "Details saved." in answer.get_data(as_text=True)
    assert get_one(app, ClientLead, id=lead_id).status == "contacted"
    assert client.post_form(url, _data(first_name="", status="new")).status_code == 422
    assert client.post_form(url, _data(status="converted")).status_code == 422  # only by converting
    page = client.get("/admin/leads?q=delg").get_data(as_text=True)
    assert "Delgado, Rosa" in page
    assert "Delgado" in client.get("/admin/leads?q=555-0100").get_data(as_text=True)
    assert "Delgado" in client.get("/admin/leads?q=rosa%40example").get_data(as_text=True)
    assert "Delgado" not in client.get("/admin/leads?q=nobody").get_data(as_text=True)
    assert "Delgado" not in client.get("/admin/leads?status=lost").get_data(as_text=True)
    fragment = client.get("/admin/leads?q=delg", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.startswith('<section id="admin-leads"') and "Delgado" in fragment
    assert client.post_form(f"{url}/notes", {"body": "   "}, token_from=url).status_code == 422
    answer = client.post_form(
        f"{url}/notes", {"body": "Called back; wants mornings."}, token_from=url, follow=True
    )
    assert "Called back; wants mornings." in answer.get_data(as_text=True)
    note = get_one(app, LeadNote, lead_id=lead_id)
    assert note.author_id == world.staff_a.id
    with in_app(app) as session:
        actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.agency_id == world.a.id)))
    assert {"lead.created", "lead.updated", "lead.note_added"} <= actions


def test_assign_mails_the_assignee_with_the_agency_link(app, client, world, make):
    other = make.user(world.a, "office2", role="staff", name="Olive Office", email="olive@example.com")
    gone = make.user(world.a, "office3", role="staff", name="Gone Staff", is_active=False)
    login(client, "admin")
    lead_id = _new_lead(client)
    url = f"/admin/leads/{lead_id}"
    assert client.post_form(f"{url}/assign", {"assigned_to": str(gone.id)}, token_from=url).status_code == 422
    assert (
        client.post_form(f"{url}/assign", {"assigned_to": str(world.margaret.id)}, token_from=url).status_code
        == 422
    )
    assert (
        client.post_form(f"{url}/assign", {"assigned_to": str(world.staff_b.id)}, token_from=url).status_code
        == 422
    )
    answer = client.post_form(f"{url}/assign", {"assigned_to": str(other.id)}, token_from=url)
    assert answer.status_code == 303
    assert get_one(app, ClientLead, id=lead_id).assigned_to_id == other.id
    with in_app(app) as session:
        mails = list(session.scalars(select(OutboxMail).where(OutboxMail.to_address == "olive@example.com")))
    assert len(mails) == 1
    body = mails[0].body_text
    assert "://alpha.localhost" in body and f"/admin/leads/{lead_id}" in body
    assert "Rosa Delgado" in body and "hip" not in body and "555-0142" not in body
    assert mails[0].subject == "A new enquiry was assigned to you"
    assert "Olive Office" in client.get("/admin/leads").get_data(as_text=True)


def test_files_attach_refuse_download_remove(app, client, world):
    login(client, "admin")
    lead_id = _new_lead(client)
    refused = _attach(client, lead_id, EXE, "referral.pdf")
    assert refused.status_code == 422
    assert get_one(app, LeadAttachment, lead_id=lead_id) is None
    assert _attach(client, lead_id, PDF, "../referral letter.PDF").status_code == 303
    attachment = get_one(app, LeadAttachment, lead_id=lead_id)
    assert attachment.filename == "referral letter.pdf"
    download = client.get(f"/admin/leads/{lead_id}/files/{attachment.id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Cache-Control"] == "private, no-store"
    url = f"/admin/leads/{lead_id}"
    answer = client.post_form(f"{url}/files/{attachment.id}/remove", {}, token_from=url)
    assert answer.status_code == 303
    assert get_one(app, LeadAttachment, lead_id=lead_id) is None


def test_convert_keeps_details_and_files_once(app, client, world):
    login(client, "admin")
    lead_id = _new_lead(client)
    url = f"/admin/leads/{lead_id}"
    _attach(client, lead_id, PDF, "referral.pdf")
    client.post_form(f"{url}/notes", {"body": "Daughter calls evenings."}, token_from=url)
    answer = client.post_form(f"{url}/convert", {}, token_from=url)
    assert answer.status_code == 303
    lead = get_one(app, ClientLead, id=lead_id)
    assert lead.status == "converted" and lead.converted_client_id
    assert answer.headers["Location"].endswith(f"/admin/clients/{lead.converted_client_id}")
    client_row = get_one(app, Client, id=lead.converted_client_id)
    assert (client_row.agency_id, client_row.first_name, client_row.last_name) == (
        world.a.id,
        "Rosa",
        "Delgado",
    )
    assert (client_row.email, client_row.phone, client_row.address) == (
        "rosa@example.com",
        "555-0142",
        "12 Elm Street",
    )
    document = get_one(app, Document, client_id=client_row.id)
    category = get_one(app, DocumentCategory, id=document.category_id)
    assert category.name == "Enquiry" and not category.families_may_upload
    assert document.filename == "referral.pdf"
    page = client.get(url).get_data(as_text=True)
    assert f"/admin/clients/{client_row.id}" in page and "Daughter calls evenings." in page
    assert "hip operation" in page  # the enquiry stays readable
    again = client.post_form(f"{url}/convert", {}, token_from=url)
    assert again.status_code == 409
    with in_app(app) as session:
        assert session.query(Client).filter_by(agency_id=world.a.id, last_name="Delgado").count() == 1


def test_other_agency_and_portal_users_get_404(app, client, world, make):
    with in_app(app) as session:
        lead = ClientLead(agency_id=world.b.id, first_name="Bee", last_name="Other")
        session.add(lead)
        session.commit()
        lead_id = lead.id
    login(client, "admin")
    assert client.get(f"/admin/leads/{lead_id}").status_code == 404
    assert "Other" not in client.get("/admin/leads?status=all").get_data(as_text=True)
    portal = app.test_client()
    login(portal, "margaretjones")
    assert portal.get("/admin/leads").status_code in (302, 303, 404)
    office_b = app.test_client()
    login(office_b, "admin", host=HOST_B)
    assert office_b.get(f"/admin/leads/{lead_id}", headers={"Host": HOST_B}).status_code == 200


def test_the_list_costs_few_statements_with_hundreds_of_leads(app, client, world):
    with in_app(app) as session:
        session.execute(
            insert(ClientLead),
            [
                {
                    "agency_id": world.a.id,
                    "first_name": f"Lead{i}",
                    "last_name": f"Person{i}",
                    "phone": f"555-{i:04d}",
                    "status": ("new", "contacted", "lost")[i % 3],
                    "assigned_to_id": world.staff_a.id if i % 2 else None,
                }
                for i in range(300)
            ],
        )
        session.commit()
    login(client, "admin")
    client.get("/admin/leads")
    for path in ("/admin/leads", "/admin/leads?status=all&page=3", "/admin/leads?q=person1"):
        with recorded_sql(app) as statements:
            answer = client.get(path)
        assert answer.status_code == 200
        assert len(statements) <= 10, statements
    assert "Sam Rivera" in client.get("/admin/leads?status=all").get_data(as_text=True)
