"""Shift signatures: a completed visit is signed by typed name (no JavaScript needed) or with a
drawing; the stored hash of the visit's facts is re-checked when shown; a change through
update_visit voids the signature with the reason; who may sign; the signed record as PDF; the
shift signatures report; 404 outside reach; bounded SQL."""

import base64
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from app.models import AuditEvent, Signature, User, Visit, VisitTask
from app.services import signatures, visits
from tests.conftest import in_app, login, recorded_sql, set_columns

START = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)  # 9:00 in Chicago


def body(response) -> str:
    return response.get_data(as_text=True)


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages)


def completed(make, client, starts=START, caregiver=None, task=None):
    visit = make.visit(
        client,
        starts,
        hours=2,
        status="completed",
        clock_in_at=starts + timedelta(minutes=5),
        clock_out_at=starts + timedelta(minutes=125),
        caregiver_id=caregiver.id if caregiver else None,
    )
    if task is not None:
        make.save(VisitTask(agency_id=client.agency_id, visit_id=visit.id, task_id=task.id, status="done"))
    return visit


@pytest.fixture
def shifts(make, world):
    world.ana = make.caregiver(world.a, "Ana Torres")
    world.bathing = make.task(world.a, "Bathing")
    world.visit = completed(make, world.client_a, caregiver=world.ana, task=world.bathing)
    world.harold_visit = completed(make, world.client_a2)
    world.other_agency_visit = completed(make, world.client_b)
    return world


def reviewed_on(page) -> str:
    """The facts hash the sign page sends back with the form (a browser posts it unseen)."""
    found = re.search(r'name="reviewed" value="([0-9a-f]{64})"', page)
    return found.group(1) if found else ""


def sign(client, visit_id, name="Margaret Jones", drawing=""):
    """Sign as a browser does: read the page, then send the form with its hidden facts hash."""
    reviewed = reviewed_on(body(client.get(f"/signatures/{visit_id}")))
    data = {"typed_name": name, "drawing": drawing, "reviewed": reviewed}
    return client.post_form(f"/signatures/{visit_id}", data)


def test_the_client_signs_by_typed_name_without_javascript(app, client, shifts):
    login(client, "margaretjones")
    listing = client.get("/signatures")
    assert listing.status_code == 200 and "1 visit waiting for a signature" in body(listing)
    page = client.get(f"/signatures/{shifts.visit.id}")
    text = body(page)
    assert "Ana Torres" in text and "Bathing" in text and "Sign the visit record" in text
    answer = sign(client, shifts.visit.id, name="  margaret   JONES ")
    assert answer.status_code == 303
    shown = body(client.get(f"/signatures/{shifts.visit.id}"))
    assert "Signed" in shown and "Sign the visit record" not in shown
    assert "0 visits waiting for a signature" in body(client.get("/signatures"))
    with in_app(app) as session:
        signature = session.scalars(select(Signature)).one()
        visit = session.get(Visit, shifts.visit.id)
        assert signature.method == "typed" and signature.relationship_kind == "self"
        assert signature.facts_hash == signatures.facts_hash(visit)
        assert signature.ip_address and signature.user_agent
        actions = session.scalars(select(AuditEvent.action)).all()
        assert "visit.signed" in actions and "record.viewed" in actions
    # Signed once: a second signature is refused.
    assert sign(client, shifts.visit.id).status_code == 422


@pytest.mark.parametrize(
    "name, drawing, message",
    [
        ("", "", "Type your full name to sign"),
        ("Susan Jones", "", "as it is on your account: Margaret Jones"),
        ("Margaret Jones", "data:image/gif;base64,R0lGOD", "drawing could not be read"),
        ("Margaret Jones", "data:image/png;base64,@@@", "drawing could not be read"),
        ("Margaret Jones", "data:image/png;base64," + "A" * 500_000, "drawing could not be read"),
        (
            "Margaret Jones",
            "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\nnot").decode(),
            "drawing could not be read",
        ),
    ],
)
def test_bad_signatures_answer_422_beside_the_name(app, client, shifts, name, drawing, message):
    login(client, "margaretjones")
    answer = sign(client, shifts.visit.id, name, drawing)
    assert answer.status_code == 422 and message in body(answer)
    with in_app(app) as session:
        assert session.scalars(select(Signature)).all() == []


def png_drawing() -> str:
    image = Image.new("RGBA", (300, 120), (255, 255, 255, 0))
    for x in range(20, 280):
        image.putpixel((x, 60 + (x % 7)), (0, 0, 0, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def test_a_drawn_signature_is_stored_and_printed(app, client, shifts):
    login(client, "margaretjones")
    assert sign(client, shifts.visit.id, drawing=png_drawing()).status_code == 303
    with in_app(app) as session:
        signature = session.scalars(select(Signature)).one()
        assert signature.method == "drawn" and signature.drawing_file_id is not None
    pdf = client.get(f"/signatures/{shifts.visit.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.data))
    text = pdf_text(pdf.data)
    assert "Margaret Jones" in text and signature.facts_hash[:16] in text.replace(" ", "")
    images = [name for page in reader.pages for name in (page.images or [])]
    assert images


def test_a_change_through_update_visit_voids_the_signature_visibly(app, client, shifts):
    login(client, "margaretjones")
    assert sign(client, shifts.visit.id).status_code == 303
    with app.test_request_context(), in_app(app) as session:
        from flask import g

        from app.models import Agency, User

        g.agency = session.get(Agency, shifts.a.id)
        visit = session.get(Visit, shifts.visit.id)
        staff = session.get(User, shifts.staff_a.id)
        changed = visits.update_visit(
            g.agency, staff, visit, clock_out_at=visit.clock_out_at + timedelta(minutes=30)
        )
        assert changed == ["clock_out_at"]
        session.commit()
    page = body(client.get(f"/signatures/{shifts.visit.id}"))
    assert "voided on" in page and "because the clock-out time changed" in page
    assert "Sign the visit record" in page  # asked again
    assert "1 visit waiting for a signature" in body(client.get("/signatures"))
    assert sign(client, shifts.visit.id).status_code == 303


def test_a_change_made_around_the_service_shows_when_the_hash_is_checked(app, client, shifts):
    login(client, "margaretjones")
    assert sign(client, shifts.visit.id).status_code == 303
    set_columns(app, Visit, shifts.visit.id, clock_in_at=START)
    page = body(client.get(f"/signatures/{shifts.visit.id}"))
    assert "the visit record changed since" in page and "Sign the visit record" in page


def test_who_may_sign(app, client, make, shifts):
    # The emergency contact sees the record but may not sign unless the agency ticks it.
    login(client, "susanjones")
    page = client.get(f"/signatures/{shifts.visit.id}")
    assert page.status_code == 200 and "Sign the visit record" not in body(page)
    assert sign(client, shifts.visit.id, "Susan Jones").status_code == 404
    from app.models import ClientLink

    with in_app(app) as session:
        link = session.scalars(select(ClientLink).where(ClientLink.user_id == shifts.susan.id)).one()
        link.may_sign_visits = True
        session.commit()
    assert sign(client, shifts.visit.id, "Susan Jones").status_code == 303
    with in_app(app) as session:
        assert session.scalars(select(Signature.relationship_kind)).one() == "emergency_contact"
    client.post_form("/logout", token_from="/dashboard")
    # The payer has no signatures section; Paul (Harold's legal rep) signs Harold's visit.
    login(client, "robertjones")
    assert client.get("/signatures").status_code == 404
    assert client.get(f"/signatures/{shifts.visit.id}").status_code == 404
    client.post_form("/logout", token_from="/dashboard")
    login(client, "paulsmith")
    assert sign(client, shifts.harold_visit.id, "Paul Smith").status_code == 303


def test_other_clients_and_agencies_visits_are_404(client, make, shifts):
    scheduled = make.visit(shifts.client_a, START + timedelta(days=30))
    login(client, "margaretjones")
    for visit_id in (shifts.harold_visit.id, shifts.other_agency_visit.id, scheduled.id, 2147483647):
        assert client.get(f"/signatures/{visit_id}").status_code == 404
        assert client.get(f"/signatures/{visit_id}.pdf").status_code == 404
        assert sign(client, visit_id).status_code == 404
    assert client.get(f"/signatures?client={shifts.client_a2.id}").status_code == 404


def test_the_report_page_and_pdf(app, client, shifts):
    login(client, "margaretjones")
    sign(client, shifts.visit.id)
    page = client.get("/signatures/report?start=2026-11-01&end=2026-11-30")
    assert page.status_code == 200
    text = body(page)
    assert "Ana Torres" in text and "Bathing" in text and "2 h" in text and "not billed yet" in text
    pdf = client.get("/signatures/report.pdf?start=2026-11-01&end=2026-11-30")
    assert pdf.status_code == 200 and "Ana Torres" in pdf_text(pdf.data)
    for start, end, message in [
        ("2026-11-30", "2026-11-01", "must end on or after"),
        ("2026-01-01", "2026-12-31", "at most 93 days"),
        ("2026-02-30", "2026-03-01", "Enter a real date"),
    ]:
        bad = client.get(f"/signatures/report?start={start}&end={end}")
        assert bad.status_code == 422 and message in body(bad)
    assert client.get("/signatures/report").status_code == 200  # last month by default


def test_pages_cost_at_most_ten_statements_whatever_the_data(app, client, make, shifts):
    login(client, "margaretjones")
    urls = [
        "/signatures",
        f"/signatures/{shifts.visit.id}",
        "/signatures/report?start=2026-09-01&end=2026-11-30",
    ]
    counts = {}
    for size in (2, 60):
        for n in range(size):
            completed(
                make,
                shifts.client_a,
                START - timedelta(days=n + 1),
                caregiver=shifts.ana,
                task=shifts.bathing,
            )
        for url in urls:
            with recorded_sql(app) as statements:
                assert client.get(url).status_code == 200
            counts.setdefault(url, []).append(len(statements))
    for url, (few, many) in counts.items():
        assert few == many <= 10, (url, few, many)


def test_the_office_reads_the_same_report(app, client, make, shifts):
    make.user(shifts.a, "carolwhite", role="staff", name="Carol White")
    login(client, "carolwhite")
    page = client.get(f"/admin/signatures/report?client={shifts.client_a.id}&start=2026-11-01&end=2026-11-30")
    assert page.status_code == 200 and "Ana Torres" in body(page)
    pdf = client.get(
        f"/admin/signatures/report.pdf?client={shifts.client_a.id}&start=2026-11-01&end=2026-11-30"
    )
    assert pdf.status_code == 200 and "Ana Torres" in pdf_text(pdf.data)
    assert client.get(f"/admin/signatures/report?client={shifts.client_b.id}").status_code == 404
    assert client.get("/admin/signatures/report").status_code == 404
    client.post_form("/logout", token_from="/admin/")
    login(client, "margaretjones")
    assert client.get(f"/admin/signatures/report?client={shifts.client_a.id}").status_code == 404


def test_the_report_shows_fees_only_to_those_who_see_the_invoices(app, client, make, shifts):
    from app.models import ClientLink, Invoice, InvoiceLine

    invoice = make.invoice(shifts.client_a, "INV-7", 6400)
    make.save(
        InvoiceLine(
            agency_id=shifts.a.id,
            invoice_id=invoice.id,
            visit_id=shifts.visit.id,
            description="Visit",
            billed_minutes=120,
            rate_cents=3200,
            amount_cents=6400,
        )
    )
    url = "/signatures/report?start=2026-11-01&end=2026-11-30"
    login(client, "margaretjones")
    assert "$64.00" in body(client.get(url))
    client.post_form("/logout", token_from="/dashboard")
    with in_app(app) as session:
        link = session.scalars(select(ClientLink).where(ClientLink.user_id == shifts.susan.id)).one()
        link.may_view_invoices = False
        session.commit()
    login(client, "susanjones")
    page = body(client.get(url))
    assert "Ana Torres" in page and "$64.00" not in page and "Fee" not in page
    assert Invoice  # the invoice exists; only the viewer's reach hides it


def test_a_damaged_drawing_is_refused_not_a_500(client, shifts):
    good = base64.b64decode(png_drawing().split(",", 1)[1])
    at = good.index(b"IDAT") + 12
    login(client, "margaretjones")
    for damaged in (
        good[:at] + bytes(b ^ 0x5A for b in good[at : at + 40]) + good[at + 40 :],
        good[: len(good) // 2],
    ):
        answer = sign(
            client, shifts.visit.id, drawing="data:image/png;base64," + base64.b64encode(damaged).decode()
        )
        assert answer.status_code == 422 and "drawing could not be read" in body(answer)


def test_a_record_changed_while_reading_is_not_signed(app, client, shifts):
    login(client, "margaretjones")
    reviewed = reviewed_on(body(client.get(f"/signatures/{shifts.visit.id}")))
    set_columns(app, Visit, shifts.visit.id, clock_out_at=START + timedelta(minutes=140))
    answer = client.post_form(
        f"/signatures/{shifts.visit.id}", {"typed_name": "Margaret Jones", "reviewed": reviewed}
    )
    assert answer.status_code == 422 and "changed while you were reading" in body(answer)


def test_a_signature_needs_the_facts_the_signer_read(client, shifts):
    login(client, "margaretjones")
    for reviewed in ("", "0" * 64):
        answer = client.post_form(
            f"/signatures/{shifts.visit.id}", {"typed_name": "Margaret Jones", "reviewed": reviewed}
        )
        assert answer.status_code == 422 and "changed while you were reading" in body(answer)


def test_someone_signing_for_the_client_signs_in_their_own_name_and_is_named_so(app, client, shifts):
    login(client, "paulsmith")
    set_columns(app, User, shifts.paul.id, first_name="Harold", last_name="Smith")  # renamed himself
    answer = sign(client, shifts.harold_visit.id, "Harold Smith")
    assert answer.status_code == 422 and "only the client signs as the client" in body(answer)
    set_columns(app, User, shifts.paul.id, first_name="Paul", last_name="Smith")
    assert sign(client, shifts.harold_visit.id, "Paul Smith").status_code == 303
    shown = body(client.get(f"/signatures/{shifts.harold_visit.id}"))
    assert "by Paul Smith, legal representative (typed name)" in shown
    record = pdf_text(client.get(f"/signatures/{shifts.harold_visit.id}.pdf").data)
    assert "Signed by Paul Smith, legal representative" in record
