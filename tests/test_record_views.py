"""Who viewed my record: views of the care plan, invoices, signed visit records and the caregivers'
visit notes are audit events (app/services/record_views.py), and /profile/access reads them back in
plain words, the last 90 days, in pages, in one statement.

The schedule is where notes are shown today: each calendar, printout and PDF that shows a note or a
refusal reason writes one event per client shown, not per visit, without costing a query of its own.
The invoice, care plan and signature pages are not built yet; their events are written here the way
those pages will write them.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.models import AuditEvent, ClientLink, User, Visit, VisitTask, utcnow
from app.services import audit, record_views
from app.services.record_views import (
    CARE_PLAN,
    DOCUMENT,
    INVOICE,
    PDF,
    SIGNED_VISIT,
    VISIT_NOTES,
    record_view,
)
from tests.conftest import get_one, in_app, login, recorded_sql

NOV_23_9AM_CHICAGO = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def page(response) -> str:
    return response.get_data(as_text=True)


def views(app, client_id=None) -> list[AuditEvent]:
    with in_app(app) as session:
        query = (
            select(AuditEvent).where(AuditEvent.action == record_views.RECORD_VIEWED).order_by(AuditEvent.id)
        )
        if client_id is not None:
            query = query.where(AuditEvent.client_id == client_id)
        rows = session.scalars(query).all()
        session.expunge_all()
        return rows


@pytest.fixture
def notes(make, world):
    """A completed visit of Margaret's with a caregiver note, one of Harold's with a refusal reason,
    and a completed visit of Margaret's with neither, all in the week of 23 November 2026."""
    ana = make.caregiver(world.a, "Ana Torres")
    walk = make.task(world.a, "Short walk")
    make.visit(
        world.client_a,
        NOV_23_9AM_CHICAGO,
        caregiver_id=ana.id,
        status="completed",
        caregiver_note="Margaret enjoyed the soup.",
    )
    make.visit(
        world.client_a, NOV_23_9AM_CHICAGO + timedelta(days=1), caregiver_id=ana.id, status="completed"
    )
    make.visit(
        world.client_a,
        NOV_23_9AM_CHICAGO + timedelta(days=2),
        caregiver_id=ana.id,
        status="completed",
        caregiver_note="Second note.",
    )
    harold = make.visit(world.client_a2, NOV_23_9AM_CHICAGO, caregiver_id=ana.id, status="completed")
    make.save(
        VisitTask(
            agency_id=world.a.id,
            visit_id=harold.id,
            task_id=walk.id,
            status="refused",
            refusal_reason="Too cold",
        )
    )
    return ana


# --- the service ---------------------------------------------------------------------------------


def test_record_view_writes_one_chained_event(app, world):
    with in_app(app) as session:
        record_view(INVOICE, world.susan, world.client_a.id, label="SUN-1005", how=PDF)
        session.commit()
    [event] = views(app)
    assert event.actor_id == world.susan.id and event.agency_id == world.a.id
    assert event.client_id == world.client_a.id
    assert event.details == {"kind": "invoice", "label": "SUN-1005", "how": "pdf"}
    with in_app(app):
        assert audit.verify_chain(world.a.id) is None


@pytest.mark.parametrize(("kind", "details"), [("prescription", {}), (INVOICE, {"how": "fax"})])
def test_unknown_kinds_are_a_programming_error(app, world, kind, details):
    with in_app(app), pytest.raises(ValueError):
        record_view(kind, world.susan, world.client_a.id, **details)


# --- the schedule records the notes it shows -----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "how"),
    [
        ("/schedule?view=week&date=2026-11-23", "page"),
        ("/schedule/print?view=week&date=2026-11-23", "print"),
        ("/schedule.pdf?view=week&date=2026-11-23", "pdf"),
    ],
)
def test_the_schedule_records_one_notes_view_per_client(app, client, world, notes, path, how):
    login(client, "margaretjones")
    assert client.get(path).status_code == 200
    [event] = views(app)  # two visits with notes, one event
    assert event.client_id == world.client_a.id and event.actor_id == world.margaret.id
    assert event.details == {"kind": "visit_notes", "how": how}


def test_the_schedule_by_htmx_records_too(app, client, world, notes):
    login(client, "margaretjones")
    assert client.get("/schedule?view=week&date=2026-11-23", htmx=True).status_code == 200
    assert len(views(app)) == 1


def test_a_payer_with_the_notes_tick_records_each_client_shown(app, client, make, world, notes):
    for client_id in (world.client_a.id, world.client_a2.id):
        link = get_one(app, ClientLink, user_id=world.robert.id, client_id=client_id)
        link.may_view_visit_notes = True
        make.save(link)
    login(client, "robertjones")
    assert client.get("/schedule?view=week&date=2026-11-23&client=all").status_code == 200
    assert sorted(e.client_id for e in views(app)) == sorted([world.client_a.id, world.client_a2.id])


def test_a_payer_without_the_tick_sees_no_notes_and_records_nothing(app, client, world, notes):
    login(client, "robertjones")
    html = page(client.get("/schedule?view=week&date=2026-11-23&client=all"))
    assert "Margaret enjoyed the soup." not in html and "Too cold" not in html
    assert views(app) == []


def test_a_week_without_notes_records_nothing(app, client, world, notes):
    login(client, "margaretjones")
    assert client.get("/schedule?view=week&date=2026-11-30").status_code == 200
    assert client.get("/schedule.pdf?view=day&date=2026-11-24").status_code == 200  # completed, no note
    assert views(app) == []


def test_a_refused_pdf_records_nothing(app, client, make, world, notes):
    # Over the PDF's limit the answer is a 4xx: the transaction, its audit events with it, is dropped.
    from app.blueprints.schedule import services as cal

    rows = [
        Visit(
            agency_id=world.a.id,
            client_id=world.client_a.id,
            starts_at=NOV_23_9AM_CHICAGO + timedelta(minutes=5 * n),
            ends_at=NOV_23_9AM_CHICAGO + timedelta(minutes=5 * n + 4),
            status="scheduled",
        )
        for n in range(cal.MAX_PDF_VISITS + 1)
    ]
    make.save(*rows)
    login(client, "margaretjones")
    assert client.get("/schedule.pdf?view=month&date=2026-11-01").status_code >= 400
    assert views(app) == []


def test_recording_the_notes_costs_the_schedule_no_query_per_visit(app, client, make, world, notes):
    login(client, "margaretjones")
    path = "/schedule?view=month&date=2026-11-01"
    with recorded_sql(app) as few:
        assert client.get(path).status_code == 200
    more = [
        Visit(
            agency_id=world.a.id,
            client_id=world.client_a.id,
            starts_at=NOV_23_9AM_CHICAGO - timedelta(days=10, minutes=45 * n),
            ends_at=NOV_23_9AM_CHICAGO - timedelta(days=10, minutes=45 * n - 30),
            status="completed",
            caregiver_note=f"Note {n}",
        )
        for n in range(200)
    ]
    make.save(*more)
    with recorded_sql(app) as many:
        assert client.get(path).status_code == 200
    assert len(few) == len(many), (len(few), len(many))
    assert len(many) <= 10, many
    assert len(views(app)) == 2  # one per request, the same client


# --- the log on /profile/access ------------------------------------------------------------------


def _view(app, kind, actor, client_id, *, ago=timedelta(minutes=5), **details):
    with in_app(app) as session:
        event = record_view(kind, actor, client_id, **details)
        event.created_at = (utcnow() - ago).replace(microsecond=0)
        session.commit()


def test_the_log_says_who_viewed_what_in_plain_words(app, client, world):
    _view(app, INVOICE, world.susan, world.client_a.id, label="SUN-1005", ago=timedelta(hours=5))
    _view(app, CARE_PLAN, world.staff_a, world.client_a.id, ago=timedelta(hours=4))
    _view(app, SIGNED_VISIT, world.paul, world.client_a.id, label="2026-11-23", ago=timedelta(hours=3))
    _view(app, VISIT_NOTES, world.margaret, world.client_a.id, how="print", ago=timedelta(hours=2))
    _view(app, INVOICE, world.robert, world.client_a.id, label="SUN-1006", how=PDF, ago=timedelta(hours=1))
    login(client, "margaretjones")
    html = page(client.get("/profile/access"))
    log = html[html.index('id="record-views"') :]
    lines = [
        "Robert Jones viewed invoice SUN-1006 on ",
        "You saw the caregivers&#39; visit notes in the schedule on ",
        "Paul Smith viewed the signed record of the visit of Nov 23, 2026 on ",
        "Sam from the office viewed the care plan on ",
        "Susan Jones viewed invoice SUN-1005 on ",
    ]
    positions = [log.index(line) for line in lines]
    assert positions == sorted(positions), "newest first"
    assert "(as a PDF)" in log and "(printable view)" in log


def test_the_log_keeps_to_90_days_this_client_and_this_agency(app, client, world):
    _view(app, INVOICE, world.susan, world.client_a.id, label="OLD-1", ago=timedelta(days=91))
    _view(app, INVOICE, world.susan, world.client_a.id, label="NEW-1", ago=timedelta(days=89))
    _view(app, INVOICE, world.harold, world.client_a2.id, label="HAROLD-1")
    _view(app, INVOICE, world.alice, world.client_b.id, label="ALICE-1")
    with in_app(app) as session:
        audit.record("invoice.updated", actor=world.staff_a, client_id=world.client_a.id, label="EDIT-1")
        session.commit()
    login(client, "margaretjones")
    html = page(client.get("/profile/access"))
    assert "NEW-1" in html
    for absent in ("OLD-1", "HAROLD-1", "ALICE-1", "EDIT-1"):
        assert absent not in html


def test_a_hostile_label_is_text(app, client, world):
    _view(app, INVOICE, world.susan, world.client_a.id, label='<img src=x onerror="alert(1)">')
    _view(app, SIGNED_VISIT, world.susan, world.client_a.id, label="not-a-date")
    login(client, "margaretjones")
    html = page(client.get("/profile/access"))
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "Susan Jones viewed a signed visit record on " in html


def test_the_log_pages_and_its_htmx_fragment(app, client, world):
    with in_app(app) as session:
        for n in range(45):
            event = record_view(INVOICE, world.susan, world.client_a.id, label=f"SUN-{n:03d}")
            event.created_at = (utcnow() - timedelta(minutes=100 - n)).replace(microsecond=0)
        session.commit()
    login(client, "margaretjones")
    html = page(client.get("/profile/access"))
    assert "SUN-044" in html and "SUN-025" in html and "SUN-024" not in html
    assert "Page 1 of 3" in html
    last = client.get("/profile/access?views=3", htmx=True, headers={"HX-Target": "record-views"})
    body = page(last)
    assert last.status_code == 200 and body.lstrip().startswith('<section class="card" id="record-views">')
    assert "SUN-004" in body and "SUN-000" in body and "SUN-005" not in body
    assert 'href="/profile/access?client=' in body and "views=2" in body
    assert client.get("/profile/access?views=4").status_code == 404
    assert client.get(f"/profile/access?views={2**31 - 1}").status_code == 404  # a huge offset
    assert client.get(f"/profile/access?views={2**40}").status_code == 200  # no page number: the first


@pytest.mark.parametrize("number", [3, 300])
def test_the_log_is_one_statement_whatever_its_size(app, client, world, number):
    with in_app(app) as session:
        for n in range(number):
            record_view(INVOICE, world.susan if n % 2 else world.staff_a, world.client_a.id, label=f"SUN-{n}")
        session.commit()
    login(client, "margaretjones")
    with recorded_sql(app) as statements:
        response = client.get("/profile/access")
    assert response.status_code == 200
    log_queries = [s for s in statements if "audit_events" in s]
    assert len(log_queries) == 1, log_queries
    assert "JOIN users" in log_queries[0]
    assert len(statements) <= 10, statements


# --- a form sent back with its errors shows the record again: that view is recorded too -----------


def test_refused_forms_that_show_the_record_again_are_recorded_as_views(app, client, make, world):
    from app.models import Agency, InvoiceLine, Signature
    from tests.conftest import csrf_token, set_columns

    set_columns(app, Agency, world.a.id, payment_gateway="stripe")
    visit = make.visit(world.client_a, NOV_23_9AM_CHICAGO, status="completed")
    invoice = make.invoice(world.client_a, "INV-7", 5000)
    line = make.save(
        InvoiceLine(agency_id=world.a.id, invoice_id=invoice.id, description="Visit", amount_cents=5000)
    )
    login(client, "margaretjones")
    token = csrf_token(client, "/password/change")  # a page that records nothing
    refused = {
        (SIGNED_VISIT, visit.id): (f"/signatures/{visit.id}", {"typed_name": "Somebody Else"}),
        (INVOICE, invoice.id): (f"/invoices/{invoice.id}/lines/{line.id}/question", {"body": ""}),
        ("pay", invoice.id): (f"/invoices/{invoice.id}/pay", {"amount": "1e309"}),
    }
    for (kind, target), (path, data) in refused.items():
        before = len(views(app))
        response = client.post(path, data={**data, "csrf_token": token})
        assert response.status_code == 422, path
        [event] = views(app)[before:]
        assert (event.details["kind"], event.target_id) == ("invoice" if kind == "pay" else kind, target), (
            path
        )
    assert get_one(app, Signature, visit_id=visit.id) is None  # nothing of the refused signing is kept
    before = len(views(app))
    assert client.get(f"/invoices/{invoice.id}/pay").status_code == 200  # the balance, before paying
    assert [e.target_id for e in views(app)[before:]] == [invoice.id]


def test_the_log_names_only_the_invoices_and_documents_its_reader_may_open(app, client, make, world):
    from app.models import Document, DocumentCategory, Invoice

    theirs = make.invoice(world.client_a, "SUN-2001", billed_to=world.robert)  # Robert's to pay
    own = make.invoice(world.client_a, "SUN-2002")
    pdf = make.stored_file(world.a, b"%PDF-1.4 rates", "application/pdf")
    with in_app(app) as session:
        billing = DocumentCategory(agency_id=world.a.id, name="Billing", position=1)
        session.add(billing)
        session.flush()
        rates = Document(
            agency_id=world.a.id,
            client_id=world.client_a2.id,
            category_id=billing.id,
            title="Rates and payment options",
            filename="rates.pdf",
            file_id=pdf.id,
        )
        session.add(rates)
        link = session.scalars(select(ClientLink).where(ClientLink.user_id == world.paul.id)).one()
        link.may_view_documents = True
        link.hidden_categories = [billing]  # the office keeps Billing from Paul
        session.commit()
        rates_id = rates.id
    with in_app(app) as session:
        for invoice_id, viewer in ((theirs.id, world.robert), (own.id, world.susan)):
            record_view(
                INVOICE,
                session.get(User, viewer.id),
                world.client_a.id,
                session.get(Invoice, invoice_id),
                label=session.get(Invoice, invoice_id).number,
            )
        record_view(
            DOCUMENT,
            session.get(User, world.harold.id),
            world.client_a2.id,
            session.get(Document, rates_id),
            label="Rates and payment options",
        )
        session.commit()
    login(client, "margaretjones")
    log = page(client.get("/profile/access"))
    assert "Robert Jones viewed an invoice on " in log and "SUN-2001" not in log
    assert "Susan Jones viewed invoice SUN-2002 on " in log
    paul = app.test_client()
    login(paul, "paulsmith")
    log = page(paul.get(f"/profile/access?client={world.client_a2.id}"))
    assert "Harold Smith downloaded a document on " in log and "Rates and payment options" not in log
