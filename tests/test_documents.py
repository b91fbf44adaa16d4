"""Documents (DESIGN.md "Documents"): files the agency shares with a client, by the agency's
categories; downloads as attachments of the type read from the bytes; per-link category switches;
the families' uploads to an open category; the office's categories, uploads and removals.

Every lookup is fenced: another client's or agency's document, and one in a category the link
hides, answer 404 (so do hidden categories' names and counts: never shown).
"""

import gzip
import io
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, insert, select

from app.auth.policies import document_visible, may_upload_document
from app.models import Agency, AuditEvent, ClientLink, Document, DocumentCategory, StoredFile, utcnow
from app.services import documents as service
from app.services import record_views, storage
from app.services.documents import DOCX, JPEG, PDF, PNG
from config import Config
from tests.conftest import get_one, in_app, login, recorded_sql

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (3, 3), "white").save(out, "PNG")
    return out.getvalue()


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (3, 3), "white").save(out, "JPEG")
    return out.getvalue()


WORD_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    b"</Types>"
)


def docx_bytes(types: bytes = WORD_TYPES, extra: dict | None = None, document=True) -> bytes:
    """A minimal Word document: the content types, the relationships and the document part."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("_rels/.rels", b"<Relationships/>")
        if document:
            archive.writestr("word/document.xml", b"<w:document><w:body><w:p/></w:body></w:document>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def rels(*relationships: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(relationships)
        + "</Relationships>"
    ).encode()


REMOTE = 'Target="http://198.51.100.7/t.dotm"'
REMOTE_TEMPLATE = f'<Relationship Id="r1" Type="{R}/attachedTemplate" {REMOTE} TargetMode="External"/>'
DISGUISED = f'<Relationship Id="r1" Type="{R}/attachedTemplate" {REMOTE} TargetMode="&#69;xternal"/>'
MACRO_TYPE = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
RENAMED_MACRO = f'<Relationship Id="r9" Type="{MACRO_TYPE}" Target="vbaData.b1n"/>'
LINK = 'Target="https://example.org/?a=1&amp;b=2"'
WEB_LINK = f'<Relationship Id="r2" Type="{R}/hyperlink" {LINK} TargetMode="External"/>'


def zip_bytes(count=2) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for n in range(count):
            archive.writestr(f"file{n}.txt", b"x")
    return out.getvalue()


@pytest.fixture
def docs(app, make, world):
    """Agency A: "Caregiver Forms" (open to families) and "Billing"; Margaret has two forms and a
    billing document, Harold one form; agency B's Alice has one of her own."""
    ids = {}
    with in_app(app) as session:
        forms = DocumentCategory(
            agency_id=world.a.id, name="Caregiver Forms", position=1, families_may_upload=True
        )
        billing = DocumentCategory(agency_id=world.a.id, name="Billing", position=2)
        records = DocumentCategory(
            agency_id=world.b.id, name="Care Records", position=1, families_may_upload=True
        )
        session.add_all([forms, billing, records])
        session.flush()
        now = utcnow()

        def add(key, agency, client, category, title, filename, data, days_ago, content_type=PDF):
            document = Document(
                agency_id=agency.id,
                client_id=client.id,
                category_id=category.id,
                title=title,
                filename=filename,
                file_id=storage.put(agency, data, content_type).id,
                uploaded_by_id=world.staff_a.id if agency.id == world.a.id else world.staff_b.id,
                uploaded_at=now - timedelta(days=days_ago),
            )
            session.add(document)
            session.flush()
            ids[key] = document.id

        add(
            "agreement",
            world.a,
            world.client_a,
            forms,
            "Client service agreement",
            "agreement.pdf",
            PDF_BYTES,
            50,
        )
        add(
            "emergency",
            world.a,
            world.client_a,
            forms,
            "Emergency contact form",
            "emergency.pdf",
            b"%PDF-1.7 e",
            10,
        )
        add(
            "rates",
            world.a,
            world.client_a,
            billing,
            "Rates and payment options",
            "rates.pdf",
            b"%PDF-1.7 r",
            20,
        )
        add("harold", world.a, world.client_a2, forms, "Harold's agreement", "harold.pdf", b"%PDF-1.7 h", 5)
        add("alice", world.b, world.client_b, records, "Alice's record", "alice.pdf", b"%PDF-1.7 a", 5)
        ids.update(forms=forms.id, billing=billing.id, records=records.id)
        session.commit()
    return ids


def _events(app, action):
    with in_app(app) as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).all()
        session.expunge_all()
        return rows


def _hide(app, user, client, *category_ids):
    with in_app(app) as session:
        link = session.scalar(select(ClientLink).filter_by(user_id=user.id, client_id=client.id))
        link.hidden_categories = [session.get(DocumentCategory, cid) for cid in category_ids]
        session.commit()


def _document_count(app) -> int:
    with in_app(app) as session:
        return session.scalar(select(func.count(Document.id)))


# --- the portal: listing ------------------------------------------------------------------------------


def test_documents_are_listed_under_their_categories_in_the_agency_order(client, world, docs):
    login(client, "margaretjones")
    response = client.get("/documents")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.index("Caregiver Forms") < html.index("Billing")
    assert 'aria-label="2 documents">2</span>' in html and 'aria-label="1 document">1</span>' in html
    # newest first within a category
    assert html.index("Emergency contact form") < html.index("Client service agreement")
    assert html.index("Rates and payment options") > html.index("Billing")
    assert f'href="/documents/{docs["agreement"]}"' in html
    assert "Harold" not in html and "Alice" not in html and "Care Records" not in html


def test_the_dashboard_counts_documents_by_category(client, world, docs):
    login(client, "margaretjones")
    html = client.get("/dashboard").get_data(as_text=True)
    assert f'/documents?client={world.client_a.id}&amp;category={docs["forms"]}">Caregiver Forms</a>' in html
    assert 'Caregiver Forms</a> <span class="badge">2</span>' in html
    assert 'Billing</a> <span class="badge">1</span>' in html


def test_one_category_from_the_dashboard_link(client, world, docs):
    login(client, "margaretjones")
    html = client.get(f"/documents?client={world.client_a.id}&category={docs['billing']}").get_data(
        as_text=True
    )
    assert "Rates and payment options" in html and "Emergency contact form" not in html
    assert client.get(f"/documents?category={docs['records']}").status_code == 404  # another agency's
    assert client.get("/documents?category=abc").status_code == 404
    assert client.get(f"/documents?category={docs['billing']}&page=2").status_code == 404


def test_the_list_is_a_fragment_for_htmx(client, world, docs):
    login(client, "margaretjones")
    response = client.get("/documents", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and 'id="documents"' in html


def test_an_emergency_contact_sees_the_documents_and_a_payer_does_not(client, world, docs):
    login(client, "susanjones")
    assert "Client service agreement" in client.get("/documents").get_data(as_text=True)
    assert client.get(f"/documents/{docs['agreement']}").status_code == 200
    client.post_form("/logout", token_from="/dashboard")
    login(client, "robertjones")
    assert client.get("/documents").status_code == 404
    assert client.get(f"/documents/{docs['agreement']}").status_code == 404


# --- the portal: downloads ----------------------------------------------------------------------------


def test_a_download_is_an_attachment_of_the_stored_type_never_sniffed_nor_cached(client, world, docs):
    login(client, "margaretjones")
    response = client.get(f"/documents/{docs['agreement']}")
    assert response.status_code == 200
    assert response.data == PDF_BYTES
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="agreement.pdf"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    cache = response.headers["Cache-Control"]
    assert "private" in cache and "no-store" in cache and "public" not in cache
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_every_download_is_audited_and_shows_in_who_viewed_my_record(app, client, world, docs):
    login(client, "susanjones")
    client.get(f"/documents/{docs['agreement']}")
    client.get(f"/documents/{docs['agreement']}")
    events = [e for e in _events(app, record_views.RECORD_VIEWED) if e.details.get("kind") == "document"]
    assert len(events) == 2
    assert events[0].actor_id == world.susan.id and events[0].client_id == world.client_a.id
    assert events[0].target_type == "Document" and events[0].target_id == docs["agreement"]
    assert events[0].details["label"] == "Client service agreement"
    client.post_form("/logout", token_from="/dashboard")
    login(client, "margaretjones")
    html = client.get("/profile/access").get_data(as_text=True)
    assert "Susan Jones downloaded the document “Client service agreement” on" in html


@pytest.mark.parametrize("whose", ["harold", "alice"])
def test_another_clients_or_agencys_document_is_404(client, world, docs, whose):
    login(client, "margaretjones")
    assert client.get(f"/documents/{docs[whose]}").status_code == 404


def test_a_hidden_category_is_never_shown_and_its_documents_are_404(app, client, world, docs):
    _hide(app, world.margaret, world.client_a, docs["billing"])
    login(client, "margaretjones")
    html = client.get("/documents").get_data(as_text=True)
    assert "Billing" not in html and "Rates and payment options" not in html
    assert "Caregiver Forms" in html
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "Billing" not in dashboard and "Caregiver Forms" in dashboard
    assert client.get(f"/documents/{docs['rates']}").status_code == 404
    assert client.get(f"/documents?category={docs['billing']}").status_code == 404
    assert client.get(f"/documents/{docs['agreement']}").status_code == 200
    # The same category stays open for another person linked to the same client.
    client.post_form("/logout", token_from="/dashboard")
    login(client, "susanjones")
    assert client.get(f"/documents/{docs['rates']}").status_code == 200


def test_the_policies_agree_with_the_fences(app, world, docs):
    with in_app(app) as session:
        link = session.scalar(
            select(ClientLink).filter_by(user_id=world.margaret.id, client_id=world.client_a.id)
        )
        rates = session.get(Document, docs["rates"])
        harold = session.get(Document, docs["harold"])
        forms = session.get(DocumentCategory, docs["forms"])
        billing = session.get(DocumentCategory, docs["billing"])
        assert document_visible(link, rates) and not document_visible(link, harold)
        assert may_upload_document(link, forms) and not may_upload_document(link, billing)
        link.hidden_categories = [billing]
        assert not document_visible(link, rates)
        link.hidden_categories = [forms]
        assert not may_upload_document(link, forms)
        link.hidden_categories = []
        link.show_documents = False
        assert not document_visible(link, rates) and not may_upload_document(link, forms)
        session.rollback()


def test_a_non_ascii_name_is_sent_as_rfc_5987(client):
    header = service.content_disposition("Łucja.pdf", PDF)
    assert header == "attachment; filename=\"ucja.pdf\"; filename*=UTF-8''%C5%81ucja.pdf"
    assert service.content_disposition("年度報告.docx", DOCX) == (
        "attachment; filename=\"document.docx\"; filename*=UTF-8''%E5%B9%B4%E5%BA%A6%E5%A0%B1%E5%91%8A.docx"
    )
    assert service.content_disposition("notes.txt", "text/plain") == 'attachment; filename="notes.txt"'


# --- uploads: what a file is comes from its bytes ---------------------------------------------------


def _office_upload(client, world, category_id, data, filename, title="", follow=False):
    return client.post_form(
        f"/admin/documents/clients/{world.client_a.id}/upload",
        {"title": title, "category": str(category_id), "file": (io.BytesIO(data), filename)},
        token_from=f"/admin/documents/clients/{world.client_a.id}",
        follow=follow,
    )


def _newest_document(app):
    with in_app(app) as session:
        document = session.scalars(select(Document).order_by(Document.id.desc())).first()
        stored = session.get(StoredFile, document.file_id)
        session.expunge_all()
        return document, stored


@pytest.mark.parametrize(
    ("make_bytes", "filename", "kind", "stored_name"),
    [
        (lambda: PDF_BYTES, "care plan.pdf", PDF, "care plan.pdf"),
        (png_bytes, "scan.PNG", PNG, "scan.png"),
        (jpeg_bytes, "photo.jpeg", JPEG, "photo.jpeg"),
        (docx_bytes, "letter.docx", DOCX, "letter.docx"),
        (
            lambda: docx_bytes(extra={"word/_rels/document.xml.rels": rels(WEB_LINK)}),
            "with-a-link.docx",
            DOCX,
            "with-a-link.docx",
        ),
        (png_bytes, "scan.pdf", PNG, "scan.png"),  # the name lied; the bytes decide
        (lambda: PDF_BYTES, "minutes.2024", PDF, "minutes.2024.pdf"),
    ],
    ids=["pdf", "png", "jpeg", "docx", "docx-with-a-web-link", "png-named-pdf", "no-extension"],
)
def test_the_office_uploads_pdf_png_jpeg_and_docx(
    app, client, world, docs, make_bytes, filename, kind, stored_name
):
    login(client, "admin")
    data = make_bytes()
    response = _office_upload(client, world, docs["forms"], data, filename, follow=True)
    assert response.status_code == 200
    document, stored = _newest_document(app)
    assert stored.content_type == kind and stored.size_bytes == len(data)
    assert document.filename == stored_name and document.client_id == world.client_a.id
    assert document.title == stored_name.rpartition(".")[0]
    assert document.uploaded_by_id == world.staff_a.id
    # Kept by the storage service in its private directory, never under static/.
    with app.app_context():
        path = storage._path(world.a.id, stored.sha256)
    assert path.read_bytes() == data
    assert Path(app.static_folder).resolve() not in path.resolve().parents
    client.post_form("/logout", token_from="/admin/")
    login(client, "margaretjones")
    download = client.get(f"/documents/{document.id}")
    assert download.status_code == 200 and download.data == data
    assert download.headers["Content-Type"] == kind


def test_an_upload_is_audited(app, client, world, docs):
    login(client, "admin")
    _office_upload(client, world, docs["billing"], PDF_BYTES, "invoice.pdf", title="November statement")
    (event,) = _events(app, "document.uploaded")
    assert event.actor_id == world.staff_a.id and event.client_id == world.client_a.id
    assert event.details["title"] == "November statement" and event.details["content_type"] == PDF
    assert event.details["category"] == "Billing"


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"<!doctype html><html><script>alert(1)</script></html>", "invoice.pdf"),
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "setup.pdf"),
        (zip_bytes(), "archive.docx"),
        (docx_bytes(extra={"word/vbaProject.bin": b"macro"}), "macro.docx"),
        (docx_bytes(types=WORD_TYPES.replace(b"document.main", b"template.main")), "template.docx"),
        (docx_bytes(document=False), "no-body.docx"),
        (docx_bytes(extra={"word/_rels/settings.xml.rels": rels(REMOTE_TEMPLATE)}), "remote-template.docx"),
        (docx_bytes(extra={"word/_rels/settings.xml.rels": rels(DISGUISED)}), "disguised.docx"),
        (
            docx_bytes(extra={"word/_rels/document.xml.rels": rels(RENAMED_MACRO), "word/vbaData.b1n": b"x"}),
            "renamed-macro.docx",
        ),
        (
            docx_bytes(extra={"word/_rels/document.xml.rels": b'<!DOCTYPE r [<!ENTITY e "x">]><r/>'}),
            "dtd.docx",
        ),
        (zip_bytes(service.MAX_ZIP_ENTRIES + 1), "many.docx"),
        (b"PK\x03\x04" + b"\x00" * 40, "broken.docx"),
        (b"GIF89a\x01\x00\x01\x00", "picture.png"),
        (b"", "empty.pdf"),
    ],
    ids=[
        "html",
        "exe",
        "zip",
        "docm",
        "dotx",
        "no-body",
        "remote-template",
        "disguised-external",
        "renamed-macro",
        "dtd",
        "too-many-entries",
        "broken-zip",
        "gif",
        "empty",
    ],
)
def test_anything_else_is_refused_beside_the_field(app, client, world, docs, data, filename):
    login(client, "admin")
    before = _document_count(app)
    response = _office_upload(client, world, docs["forms"], data, filename)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="file-error" class="error"' in html
    assert ("empty" in html) if not data else ("This file is none of these, whatever its name says." in html)
    assert _document_count(app) == before
    assert _events(app, "document.uploaded") == []


def test_no_file_at_all_is_asked_for(app, client, world, docs):
    login(client, "admin")
    response = client.post_form(
        f"/admin/documents/clients/{world.client_a.id}/upload",
        {"title": "x", "category": str(docs["forms"])},
        token_from=f"/admin/documents/clients/{world.client_a.id}",
    )
    assert response.status_code == 422 and "Choose a file to upload." in response.get_data(as_text=True)


def test_a_file_past_the_limit_is_refused_beside_the_field(app, client, world, docs, monkeypatch):
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_BYTES", 1024)
    login(client, "admin")
    response = _office_upload(client, world, docs["forms"], PDF_BYTES + b"0" * 1024, "big.pdf")
    assert response.status_code == 422
    assert "The file is larger than 1 KB. Choose a smaller one." in response.get_data(as_text=True)
    assert _events(app, "document.uploaded") == []
    assert _office_upload(client, world, docs["forms"], PDF_BYTES, "small.pdf").status_code == 303


def test_a_request_past_the_request_limit_is_a_413_page_not_a_500(app, client, world, docs, monkeypatch):
    login(client, "admin")
    token_page = f"/admin/documents/clients/{world.client_a.id}"
    client.get(token_page)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    response = _office_upload(client, world, docs["forms"], PDF_BYTES + b"0" * 8192, "huge.pdf")
    assert response.status_code == 413
    assert "That file is too large." in response.get_data(as_text=True)


def test_the_real_limits_are_twenty_megabytes_and_the_request_leaves_room_for_the_form():
    assert Config.DOCUMENT_MAX_BYTES == 20 * 1024 * 1024
    assert Config.MAX_CONTENT_LENGTH > Config.DOCUMENT_MAX_BYTES


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../../etc/passwd", "passwd.pdf"),
        ("report\u202efdp.exe", "reportfdp.exe.pdf"),  # the right-to-left override is dropped
        ("zero\u200bwidth.pdf", "zerowidth.pdf"),
        ("semi;colon<>|?*.pdf", "semi;colon_____.pdf"),
        ("  ...hidden.pdf  ", "hidden.pdf"),
        ("CON.pdf", "_CON.pdf"),
        ("a" * 500 + ".pdf", "a" * (service.FILENAME_MAX - 4) + ".pdf"),
        ("", "document.pdf"),
    ],
    ids=[
        "dot-dot",
        "rtl-override",
        "zero-width",
        "reserved",
        "dots",
        "device",
        "long",
        "empty",
    ],
)
def test_hostile_file_names_are_stored_safely(app, client, world, docs, sent, stored):
    login(client, "admin")
    _office_upload(client, world, docs["forms"], PDF_BYTES, sent or "x", title="T")
    if not sent:
        assert service.safe_filename(sent, PDF) == stored
        return
    document, _stored = _newest_document(app)
    assert document.filename == stored
    assert len(document.filename) <= service.FILENAME_MAX
    client.post_form("/logout", token_from="/admin/")
    login(client, "margaretjones")
    disposition = client.get(f"/documents/{document.id}").headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=") and "/" not in disposition.partition("''")[0]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("line\r\nbreak.pdf", "line break.pdf"),
        ("tab\there.pdf", "tab here.pdf"),
        ("a\u2028b.pdf", "a b.pdf"),
        ("..\\..\\windows\\system32\\evil.pdf", "evil.pdf"),
        ('quote"name.pdf', "quote_name.pdf"),
        ("C:\\Users\\me\\Desktop\\form.pdf", "form.pdf"),
    ],
)
def test_line_breaks_folders_and_quotes_in_a_file_name(sent, stored):
    """The request guard lets CR, LF and tab through (text areas need them), and a browser may
    send folders or quotes (the test client cannot): the name loses them."""
    assert service.safe_filename(sent, PDF) == stored
    assert "\r" not in service.content_disposition(sent, PDF) and "\n" not in service.content_disposition(
        sent, PDF
    )


def test_a_title_with_line_breaks_or_too_long_is_refused_beside_it(app, client, world, docs):
    login(client, "admin")
    response = _office_upload(client, world, docs["forms"], PDF_BYTES, "x.pdf", title="One\r\nTwo")
    assert response.status_code == 422 and 'id="title-error"' in response.get_data(as_text=True)
    response = _office_upload(client, world, docs["forms"], PDF_BYTES, "x.pdf", title="t" * 201)
    assert response.status_code == 422 and 'id="title-error"' in response.get_data(as_text=True)


def test_a_category_of_another_agency_is_refused_beside_the_field(app, client, world, docs):
    login(client, "admin")
    response = _office_upload(client, world, docs["records"], PDF_BYTES, "x.pdf")
    assert response.status_code == 422 and "Choose a category." in response.get_data(as_text=True)
    response = _office_upload(client, world, 2**40, PDF_BYTES, "x.pdf")
    assert response.status_code == 422


# --- the families' uploads ----------------------------------------------------------------------------


def _family_upload(client, client_id, category_id, data, filename, title=""):
    prefix = f"c{category_id}"
    return client.post_form(
        f"/documents/upload?client={client_id}",
        {
            "category": str(category_id),
            f"{prefix}-title": title,
            f"{prefix}-file": (io.BytesIO(data), filename),
        },
        token_from="/documents",
    )


def test_the_page_offers_an_upload_form_only_for_open_categories(client, world, docs):
    login(client, "margaretjones")
    html = client.get("/documents").get_data(as_text=True)
    assert "Add a document to Caregiver Forms" in html and "Add a document to Billing" not in html
    assert 'enctype="multipart/form-data"' in html and f'name="c{docs["forms"]}-file"' in html


@pytest.mark.parametrize("username", ["margaretjones", "susanjones"])
def test_family_uploads_a_signed_form_to_an_open_category(app, client, world, docs, username):
    login(client, username)
    response = _family_upload(
        client, world.client_a.id, docs["forms"], PDF_BYTES, "signed form.pdf", "Signed form"
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "“Signed form” is added to Caregiver Forms." in page
    user = {"margaretjones": world.margaret, "susanjones": world.susan}[username]
    assert f"added by {user.display_name}" in page
    document, stored = _newest_document(app)
    assert document.title == "Signed form" and document.filename == "signed form.pdf"
    assert document.category_id == docs["forms"] and document.uploaded_by_id == user.id
    assert stored.content_type == PDF
    (event,) = _events(app, "document.uploaded")
    assert event.actor_id == user.id and event.client_id == world.client_a.id


def test_a_family_upload_gets_the_same_checks(app, client, world, docs):
    login(client, "margaretjones")
    before = _document_count(app)
    response = _family_upload(client, world.client_a.id, docs["forms"], b"<html></html>", "form.pdf")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="c{docs["forms"]}-file-error" class="error"' in html and "<details open>" in html
    assert _document_count(app) == before


def test_family_uploads_elsewhere_are_404(app, client, world, docs):
    login(client, "margaretjones")
    before = _document_count(app)
    assert _family_upload(client, world.client_a.id, docs["billing"], PDF_BYTES, "a.pdf").status_code == 404
    assert _family_upload(client, world.client_a.id, docs["records"], PDF_BYTES, "a.pdf").status_code == 404
    assert _family_upload(client, world.client_a2.id, docs["forms"], PDF_BYTES, "a.pdf").status_code == 404
    assert _family_upload(client, world.client_a.id, "abc", PDF_BYTES, "a.pdf").status_code == 404
    _hide(app, world.margaret, world.client_a, docs["forms"])
    assert _family_upload(client, world.client_a.id, docs["forms"], PDF_BYTES, "a.pdf").status_code == 404
    assert _document_count(app) == before


def test_a_payer_cannot_upload(client, world, docs):
    login(client, "robertjones")
    response = client.post_form(
        f"/documents/upload?client={world.client_a.id}",
        {"category": str(docs["forms"])},
        token_from="/dashboard",
    )
    assert response.status_code == 404


# --- the office ------------------------------------------------------------------------------------------


@pytest.fixture
def carol(make, world):
    return make.user(world.a, "carolwhite", role="staff", name="Carol White")


def test_office_staff_manage_documents(app, client, world, docs, carol):
    login(client, "carolwhite")
    assert client.get("/admin/").get_data(as_text=True).count('href="/admin/documents"') == 1
    assert client.get("/admin/documents").status_code == 200
    response = client.post_form(
        "/admin/documents/categories", {"new-name": "Care Records", "new-families_may_upload": "y"}
    )
    assert response.status_code == 303
    category = get_one(app, DocumentCategory, agency_id=world.a.id, name="Care Records")
    assert category.families_may_upload and category.position == 3
    assert _office_upload(client, world, category.id, PDF_BYTES, "r.pdf").status_code == 303


@pytest.mark.parametrize("username", ["margaretjones", "susanjones", "robertjones"])
def test_portal_users_get_404_under_admin_documents(client, world, docs, username):
    login(client, username)
    assert client.get("/admin/documents").status_code == 404
    assert client.get(f"/admin/documents/clients/{world.client_a.id}").status_code == 404
    assert client.get(f"/admin/documents/{docs['agreement']}").status_code == 404


def test_the_client_search_finds_by_name(client, world, docs):
    login(client, "admin")
    html = client.get("/admin/documents?q=harold").get_data(as_text=True)
    assert f'href="/admin/documents/clients/{world.client_a2.id}">Harold Smith</a>' in html
    assert "Margaret Jones" not in html and "Alice" not in html
    assert client.get("/admin/documents?q=" + "x" * 101).status_code == 200


def test_a_category_name_must_be_new_and_present(app, client, world, docs):
    login(client, "admin")
    response = client.post_form("/admin/documents/categories", {"new-name": " billing "})
    assert response.status_code == 422
    assert "There is already a category with this name." in response.get_data(as_text=True)
    assert client.post_form("/admin/documents/categories", {"new-name": ""}).status_code == 422
    assert _events(app, "document_category.added") == []


def test_rename_and_open_a_category(app, client, world, docs):
    login(client, "admin")
    prefix = f"category{docs['billing']}"
    response = client.post_form(
        f"/admin/documents/categories/{docs['billing']}",
        {f"{prefix}-name": "Invoices & billing", f"{prefix}-families_may_upload": "y"},
        token_from="/admin/documents",
    )
    assert response.status_code == 303
    category = get_one(app, DocumentCategory, id=docs["billing"])
    assert category.name == "Invoices & billing" and category.families_may_upload
    assert [e.details["after"] for e in _events(app, "document_category.renamed")] == ["Invoices & billing"]
    assert len(_events(app, "document_category.family_uploads")) == 1
    clash = client.post_form(
        f"/admin/documents/categories/{docs['billing']}",
        {f"{prefix}-name": "Caregiver Forms"},
        token_from="/admin/documents",
    )
    assert clash.status_code == 422
    client.post_form("/logout", token_from="/admin/")
    login(client, "margaretjones")
    assert "Add a document to Invoices &amp; billing" in client.get("/documents").get_data(as_text=True)


def test_move_a_category_changes_the_order_families_see(app, client, world, docs):
    login(client, "admin")
    response = client.post_form(
        f"/admin/documents/categories/{docs['billing']}/move", {"step": "up"}, token_from="/admin/documents"
    )
    assert response.status_code == 303
    order = [c.name for c, _n in _categories(app, world)]
    assert order == ["Billing", "Caregiver Forms"]
    # at the top already: nothing moves, nothing is audited
    client.post_form(
        f"/admin/documents/categories/{docs['billing']}/move", {"step": "up"}, token_from="/admin/documents"
    )
    assert len(_events(app, "document_category.moved")) == 1
    assert (
        client.post_form(
            f"/admin/documents/categories/{docs['billing']}/move",
            {"step": "sideways"},
            token_from="/admin/documents",
        ).status_code
        == 400
    )
    client.post_form("/logout", token_from="/admin/")
    login(client, "margaretjones")
    html = client.get("/documents").get_data(as_text=True)
    assert html.index("Billing") < html.index("Caregiver Forms")


def _categories(app, world):
    with in_app(app) as session:
        return service.category_counts(session.get(Agency, world.a.id))


def test_the_office_removes_a_document_and_its_file(app, client, world, docs):
    login(client, "admin")
    document = get_one(app, Document, id=docs["emergency"])
    with in_app(app) as session:
        path = storage._path(world.a.id, session.get(StoredFile, document.file_id).sha256)
        session.rollback()
    assert path.exists()
    response = client.post_form(
        f"/admin/documents/{document.id}/remove",
        {},
        token_from=f"/admin/documents/clients/{world.client_a.id}",
    )
    assert response.status_code == 303
    assert get_one(app, Document, id=document.id) is None
    assert get_one(app, StoredFile, id=document.file_id) is None
    (event,) = _events(app, "document.removed")
    assert event.details["title"] == "Emergency contact form" and event.client_id == world.client_a.id
    client.post_form("/logout", token_from="/admin/")
    login(client, "margaretjones")
    assert client.get(f"/documents/{document.id}").status_code == 404


def test_removing_one_of_two_documents_with_the_same_bytes_keeps_the_file(app, client, world, docs):
    login(client, "admin")
    _office_upload(client, world, docs["forms"], PDF_BYTES, "copy.pdf")
    copy, stored = _newest_document(app)
    client.post_form(
        f"/admin/documents/{docs['agreement']}/remove",
        {},
        token_from=f"/admin/documents/clients/{world.client_a.id}",
    )
    assert get_one(app, StoredFile, id=stored.id) is not None
    client.post_form("/logout", token_from="/admin/")
    login(client, "margaretjones")
    assert client.get(f"/documents/{copy.id}").data == PDF_BYTES


def test_the_office_download_is_audited_too(app, client, world, docs):
    login(client, "admin")
    response = client.get(f"/admin/documents/{docs['rates']}")
    assert response.status_code == 200 and response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    (event,) = [e for e in _events(app, record_views.RECORD_VIEWED) if e.details.get("kind") == "document"]
    assert event.actor_id == world.staff_a.id and event.client_id == world.client_a.id
    assert client.get(f"/admin/documents/{docs['alice']}").status_code == 404


def test_the_office_chooses_which_categories_each_person_sees(app, client, world, docs):
    login(client, "admin")
    link = get_one(app, ClientLink, user_id=world.susan.id, client_id=world.client_a.id)
    page = client.get(f"/admin/documents/clients/{world.client_a.id}").get_data(as_text=True)
    assert f'name="link{link.id}-shown" value="{docs["billing"]}" checked' in page
    payer = get_one(app, ClientLink, user_id=world.robert.id, client_id=world.client_a.id)
    assert f"link{payer.id}-shown" not in page  # a payer never sees documents: nothing to choose
    response = client.post_form(
        f"/admin/documents/clients/{world.client_a.id}/links/{link.id}",
        {f"link{link.id}-shown": [str(docs["forms"])]},
        token_from=f"/admin/documents/clients/{world.client_a.id}",
    )
    assert response.status_code == 303
    (event,) = _events(app, "client_link.document_categories")
    assert event.details["hidden"] == [docs["billing"]]
    # the payer's link, and another client's link through this client, are 404
    assert (
        client.post_form(
            f"/admin/documents/clients/{world.client_a.id}/links/{payer.id}",
            {},
            token_from=f"/admin/documents/clients/{world.client_a.id}",
        ).status_code
        == 404
    )
    harold_link = get_one(app, ClientLink, user_id=world.harold.id, client_id=world.client_a2.id)
    assert (
        client.post_form(
            f"/admin/documents/clients/{world.client_a.id}/links/{harold_link.id}",
            {},
            token_from=f"/admin/documents/clients/{world.client_a.id}",
        ).status_code
        == 404
    )
    client.post_form("/logout", token_from="/admin/")
    login(client, "susanjones")
    html = client.get("/documents").get_data(as_text=True)
    assert "Billing" not in html and "Caregiver Forms" in html
    assert client.get(f"/documents/{docs['rates']}").status_code == 404


# --- what a file is, as units ------------------------------------------------------------------------


def test_sniffing_reads_the_bytes_only():
    assert service.sniff_type(PDF_BYTES) == PDF
    assert service.sniff_type(png_bytes()) == PNG
    assert service.sniff_type(jpeg_bytes()) == JPEG
    assert service.sniff_type(docx_bytes()) == DOCX
    assert service.sniff_type(b" %PDF-1.4") is None  # not at the start
    assert service.sniff_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") is None  # a picture, not a document type
    assert service.sniff_type(b"PK\x03\x04" + b"PK\x05\x06" + b"\xff" * 30) is None  # a lying end record


# --- query counts ------------------------------------------------------------------------------------------


def _many_documents(app, world, docs, count):
    file_id = get_one(app, Document, id=docs["agreement"]).file_id
    now = utcnow()
    with in_app(app) as session:
        session.execute(
            insert(Document),
            [
                {
                    "agency_id": world.a.id,
                    "client_id": world.client_a.id if n % 4 else world.client_a2.id,
                    "category_id": docs["forms"] if n % 2 else docs["billing"],
                    "title": f"Form {n}",
                    "filename": f"form-{n}.pdf",
                    "file_id": file_id,
                    "uploaded_by_id": world.susan.id if n % 3 else world.staff_a.id,
                    "uploaded_at": now - timedelta(hours=n),
                }
                for n in range(count)
            ],
        )
        session.add_all(
            DocumentCategory(agency_id=world.a.id, name=f"Extra {n}", position=10 + n)
            for n in range(count // 20)
        )
        session.commit()


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("margaretjones", "/documents"),
        ("margaretjones", "/documents?category={billing}"),
        ("admin", "/admin/documents"),
        ("admin", "/admin/documents?q=jones"),
        ("admin", "/admin/documents/clients/{client}"),
    ],
)
def test_document_pages_cost_at_most_ten_statements_whatever_the_data(
    app, client, world, docs, username, path
):
    login(client, username)
    url = path.format(billing=docs["billing"], client=world.client_a.id)
    with recorded_sql(app) as few:
        assert client.get(url).status_code == 200
    _many_documents(app, world, docs, 300)
    with recorded_sql(app) as many:
        response = client.get(url)
        assert response.status_code == 200
    assert len(few) == len(many) <= 10, many
    assert len(gzip.compress(response.data)) < 14 * 1024


def test_the_overview_shows_the_newest_of_a_long_category_and_links_to_all(app, client, world, docs):
    _many_documents(app, world, docs, 60)
    login(client, "margaretjones")
    html = client.get("/documents").get_data(as_text=True)
    assert "All 32 documents in Caregiver Forms" in html and "All 16 documents in Billing" in html
    assert html.count('href="/documents/') == 2 * 10
    html = client.get(f"/documents?category={docs['billing']}").get_data(as_text=True)
    assert html.count('href="/documents/') == 16


def test_an_upload_by_htmx_is_sent_on_with_hx_redirect(app, client, world, docs):
    login(client, "margaretjones")
    prefix = f"c{docs['forms']}"
    response = client.post_form(
        f"/documents/upload?client={world.client_a.id}",
        {"category": str(docs["forms"]), f"{prefix}-file": (io.BytesIO(PDF_BYTES), "signed.pdf")},
        token_from="/documents",
        htmx=True,
    )
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/documents?client={world.client_a.id}"
    refused = client.post_form(
        f"/documents/upload?client={world.client_a.id}",
        {"category": str(docs["forms"]), f"{prefix}-file": (io.BytesIO(b"MZ"), "signed.pdf")},
        token_from="/documents",
        htmx=True,
    )
    assert refused.status_code == 422 and "<html" not in refused.get_data(as_text=True)


def test_adding_a_category_by_htmx_is_sent_on_with_hx_redirect(client, world, docs):
    login(client, "admin")
    response = client.post_form("/admin/documents/categories", {"new-name": "Care Records"}, htmx=True)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/admin/documents"
