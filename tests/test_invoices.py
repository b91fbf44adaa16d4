"""Invoices in the portal (issue 9, items 1–3): `/invoices`, `/invoices/<id>` (page and dialog),
`/invoices/<id>.pdf`, and "question this line" — who sees which invoice, the amounts on each,
the audit of every view, and the cost in SQL statements whatever the number of invoices."""

import io
import re
from datetime import UTC, datetime, timedelta

import pypdf
import pytest
from sqlalchemy import select

from app.auth import policies
from app.models import AuditEvent, ClientLink, Conversation, InvoiceLine, Payment, User, utcnow
from tests.conftest import in_app, login, recorded_sql, set_columns


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def cents(amount: str) -> int:
    return int(amount.replace("$", "").replace(",", "").replace(".", ""))


def cents_of_lines(text: str) -> list[int]:
    """The amount of each line of an invoice PDF: every row ends "<rate> <amount>"."""
    table = text[text.index("Amount") : text.index("Total $")]
    return [cents(amount) for _rate, amount in re.findall(r"(\$[\d,]+\.\d\d) (\$[\d,]+\.\d\d)", table)]


def cents_after(text: str, label: str) -> int:
    return cents(re.search(rf"{label} (\$[\d,]+\.\d\d)", text).group(1))


def html_of(response) -> str:
    return response.get_data(as_text=True)


def add_line(make, invoice, description, amount_cents, *, visit=None, minutes=None, rate_cents=0):
    return make.save(
        InvoiceLine(
            agency_id=invoice.agency_id,
            invoice_id=invoice.id,
            visit_id=visit.id if visit else None,
            description=description,
            billed_minutes=minutes,
            rate_cents=rate_cents,
            amount_cents=amount_cents,
        )
    )


def add_payment(make, invoice, amount_cents, method="check", when=None):
    return make.save(
        Payment(
            agency_id=invoice.agency_id,
            invoice_id=invoice.id,
            amount_cents=amount_cents,
            method=method,
            received_at=when or datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
        )
    )


@pytest.fixture
def bills(make, world):
    """Margaret's own invoices (billed to nobody), Robert's for both his clients, and others'."""
    b = type("Bills", (), {})()
    now = utcnow()
    visit = make.visit(
        world.client_a,
        datetime(2026, 11, 2, 15, 0, tzinfo=UTC),
        hours=2,
        status="completed",
        clock_in_at=datetime(2026, 11, 2, 15, 10, tzinfo=UTC),
        clock_out_at=datetime(2026, 11, 2, 17, 25, tzinfo=UTC),
    )
    b.paid = make.invoice(
        world.client_a, "INV-1001", 9000, status="paid", paid_cents=9000, issued_at=now - timedelta(days=30)
    )
    b.outstanding = make.invoice(
        world.client_a, "INV-1002", 12550, paid_cents=2550, issued_at=now - timedelta(days=2)
    )
    b.line_visit = add_line(
        make, b.outstanding, "Personal care visit", 6550, visit=visit, minutes=135, rate_cents=2900
    )
    b.line_extra = add_line(make, b.outstanding, "Mileage", 6000, rate_cents=6000)
    add_payment(make, b.paid, 9000)
    b.payment = add_payment(make, b.outstanding, 2550, method="card")
    b.draft = make.invoice(world.client_a, "INV-DRAFT", 777, status="draft")
    b.void = make.invoice(world.client_a, "INV-VOID", 4400, status="void", issued_at=now - timedelta(days=10))
    b.robert_a = make.invoice(
        world.client_a, "INV-R1", 31000, billed_to=world.robert, issued_at=now - timedelta(days=5)
    )
    b.robert_a2 = make.invoice(
        world.client_a2, "INV-R2", 42000, billed_to=world.robert, issued_at=now - timedelta(days=4)
    )
    b.harold = make.invoice(world.client_a2, "INV-H1", 5000)
    b.alice = make.invoice(world.client_b, "BETA-1", 6600)
    return b


def test_the_list_shows_paid_and_outstanding_with_amounts_never_drafts(client, world, bills):
    login(client, "margaretjones")
    response = client.get("/invoices")
    assert response.status_code == 200
    html = html_of(response)
    for number in ("INV-1001", "INV-1002", "INV-VOID"):
        assert number in html
    assert "INV-DRAFT" not in html and "INV-R1" not in html and "INV-H1" not in html
    assert "$90.00" in html and "$125.50" in html and "$100.00" in html  # paid, total, balance
    assert "Total due: $100.00" in html
    assert "Paid" in html and "Partly paid" in html and "Void" in html
    assert html.index("INV-1002") < html.index("INV-VOID") < html.index("INV-1001"), "newest first"
    detail = f"/invoices/{bills.outstanding.id}"
    assert f'hx-get="{detail}"' in html and 'hx-target="#invoice-dialog"' in html


def test_detail_as_a_page_and_as_a_dialog(client, world, bills):
    login(client, "margaretjones")
    url = f"/invoices/{bills.outstanding.id}"
    page = client.get(url)
    assert page.status_code == 200
    html = html_of(page)
    assert "<html" in html and "Invoice INV-1002" in html
    for amount in ("$125.50", "$25.50", "$100.00", "$65.50", "$60.00", "$29.00"):
        assert amount in html
    assert "Personal care visit" in html and "Mileage" in html
    # Scheduled 2 h, clocked 2 h 15 min (differs), billed 2 h 15 min (= clocked: not marked).
    assert "9:00 AM – 11:00 AM" in html and "(2 h)" in html
    assert "in 9:10 AM" in html and "out 11:25 AM" in html and "(2 h 15 min)" in html
    assert html.count("<mark>") == 1 and "differs from the schedule" in html
    assert "Card" in html  # the payment's method
    assert "Pay" not in re.sub(r"Paid|Payments|payments", "", html)  # no Pay button in this version
    fragment = client.get(url, htmx=True)
    assert fragment.status_code == 200
    text = html_of(fragment)
    assert "<html" not in text and "<dialog" in text and "$125.50" in text and "Mileage" in text


def test_the_pdf_carries_the_same_amounts_and_the_lines_add_up(client, make, world, bills):
    lucja = make.client(world.a, "Łucja Nowak")
    make.link(world.margaret, lucja, "self")
    invoice = make.invoice(lucja, "INV-Ł1", 12550, paid_cents=2550)
    add_line(make, invoice, "Personal care visit", 6550, minutes=135, rate_cents=2900)
    add_line(make, invoice, "Mileage", 6000, rate_cents=6000)
    add_payment(make, invoice, 2550, method="card")
    login(client, "margaretjones")
    response = client.get(f"/invoices/{invoice.id}.pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == 'inline; filename="INV--1.pdf"'
    text = pdf_text(response.data)
    assert "alpha" in text.lower() and "INV-Ł1" in text and "Łucja Nowak" in text
    for amount in ("$125.50", "$25.50", "$100.00", "$65.50", "$60.00"):
        assert amount in text
    assert cents_of_lines(text) == [6550, 6000]
    assert sum(cents_of_lines(text)) == cents_after(text, "Total") == 12550
    assert cents_after(text, "Balance") == 10000
    page_pdf = pdf_text(client.get(f"/invoices/{bills.outstanding.id}.pdf").data)
    assert "Margaret Jones" in page_pdf and "$125.50" in page_pdf and "$100.00" in page_pdf


def _paths(invoice) -> list[str]:
    return [f"/invoices/{invoice.id}", f"/invoices/{invoice.id}.pdf"]


def test_a_client_gets_404_for_other_clients_and_other_agencies(client, world, bills):
    login(client, "margaretjones")
    for invoice in (bills.harold, bills.robert_a, bills.robert_a2, bills.draft, bills.alice):
        for path in _paths(invoice):
            assert client.get(path).status_code == 404, path
    assert client.get(f"/invoices?client={world.client_a2.id}").status_code == 404
    assert client.get(f"/invoices?client={world.client_b.id}").status_code == 404
    for path in _paths(bills.outstanding):
        assert client.get(path).status_code == 200, path


def test_the_other_agency_sees_none_of_it(client, world, bills):
    login(client, "alicebrown", host="beta.localhost")
    for path in _paths(bills.outstanding):
        assert client.get(path, host="beta.localhost").status_code == 404
    assert client.get(f"/invoices/{bills.alice.id}", host="beta.localhost").status_code == 200


def test_a_payer_sees_the_invoices_of_both_clients_billed_to_them(client, world, bills):
    login(client, "robertjones")
    html = html_of(client.get("/invoices"))
    assert "INV-R1" in html and "INV-R2" in html
    assert "Margaret Jones" in html and "Harold Smith" in html  # whose invoice each is
    assert "Total due: $730.00" in html
    for number in ("INV-1001", "INV-1002", "INV-H1", "INV-VOID", "BETA-1"):
        assert number not in html  # billed to nobody (the client themself), or another agency's
    only_harold = html_of(client.get(f"/invoices?client={world.client_a2.id}"))
    assert "INV-R2" in only_harold and "INV-R1" not in only_harold
    for invoice in (bills.robert_a, bills.robert_a2):
        for path in _paths(invoice):
            assert client.get(path).status_code == 200, path
    for invoice in (bills.outstanding, bills.harold):
        for path in _paths(invoice):
            assert client.get(path).status_code == 404, path


def test_an_emergency_contact_needs_the_tick_and_sees_only_the_clients_own(app, client, make, world, bills):
    login(client, "susanjones")
    html = html_of(client.get("/invoices"))
    assert "INV-1002" in html and "INV-R1" not in html
    detail = html_of(client.get(f"/invoices/{bills.outstanding.id}"))
    assert "$100.00" in detail
    assert "Question this line" not in detail  # view and download only
    assert "/pay" not in detail and ">Pay<" not in detail
    assert client.get(f"/invoices/{bills.robert_a.id}").status_code == 404
    token = client.csrf_token(f"/invoices/{bills.outstanding.id}")
    refused = client.post(
        f"/invoices/{bills.outstanding.id}/lines/{bills.line_visit.id}/question",
        data={"body": "Why?", "csrf_token": token},
    )
    assert refused.status_code == 404
    with in_app(app) as session:
        link = session.scalar(select(ClientLink).filter_by(user_id=world.susan.id))
        link.may_view_invoices = False
        session.commit()
    for path in ["/invoices", *_paths(bills.outstanding)]:
        assert client.get(path).status_code == 404, path


def _ask(client, bills, body="Why 2 h 15 min when 2 h were booked?", **kw):
    return client.post_form(
        f"/invoices/{bills.outstanding.id}/lines/{bills.line_visit.id}/question",
        {"body": body},
        token_from=f"/invoices/{bills.outstanding.id}",
        **kw,
    )


def test_question_this_line_opens_a_thread_the_office_sees(app, client, world, bills):
    login(client, "margaretjones")
    response = _ask(client, bills)
    assert response.status_code == 303
    with in_app(app) as session:
        thread = session.scalar(
            select(Conversation).where(Conversation.invoice_line_id == bills.line_visit.id)
        )
        assert thread is not None and thread.subject == "Question about invoice INV-1002, line 1"
        assert thread.started_by_id == world.margaret.id and not thread.is_private
        thread_id = thread.id
    assert response.headers["Location"].endswith(f"/messages/{thread_id}")
    html = html_of(client.get(f"/invoices/{bills.outstanding.id}"))
    assert "Question asked — see Messages" in html and f'href="/messages/{thread_id}"' in html
    assert html.count("Question this line") == 1  # the other line can still be questioned
    client.post_form("/logout", token_from="/password/change")
    login(client, "admin")
    inbox = html_of(client.get("/admin/messages"))
    assert "Question about invoice INV-1002, line 1" in inbox


def test_a_payers_question_is_private_and_others_do_not_see_it(app, client, make, world, bills):
    line = add_line(make, bills.robert_a, "Visit", 31000)
    login(client, "robertjones")
    response = client.post_form(
        f"/invoices/{bills.robert_a.id}/lines/{line.id}/question",
        {"body": "Is this right?"},
        token_from=f"/invoices/{bills.robert_a.id}",
    )
    assert response.status_code == 303
    with in_app(app) as session:
        thread = session.scalar(select(Conversation).where(Conversation.invoice_line_id == line.id))
        assert thread.is_private
    assert "Question asked — see Messages" in html_of(client.get(f"/invoices/{bills.robert_a.id}"))


def test_a_question_needs_text_within_the_limit(app, client, world, bills):
    login(client, "margaretjones")
    empty = _ask(client, bills, body="  ")
    assert empty.status_code == 422 and "Write your question about this line." in html_of(empty)
    long = _ask(client, bills, body="x" * 2001)
    assert long.status_code == 422 and "under 2000 characters" in html_of(long)
    # A line of another invoice, or of an invoice out of reach, answers 404.
    wrong_line = client.post_form(
        f"/invoices/{bills.paid.id}/lines/{bills.line_visit.id}/question",
        {"body": "?"},
        token_from=f"/invoices/{bills.paid.id}",
    )
    assert wrong_line.status_code == 404
    with in_app(app) as session:
        assert session.scalar(select(Conversation)) is None


def test_every_view_is_audited_and_shows_in_the_who_viewed_log(app, client, world, bills):
    login(client, "susanjones")
    assert client.get(f"/invoices/{bills.outstanding.id}").status_code == 200
    assert client.get(f"/invoices/{bills.outstanding.id}.pdf").status_code == 200
    assert client.get("/invoices").status_code == 200  # the list shows no record: no event
    with in_app(app) as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "record.viewed").order_by(AuditEvent.id)
        ).all()
        assert [(e.details["kind"], e.details.get("how", "page"), e.details["label"]) for e in events] == [
            ("invoice", "page", "INV-1002"),
            ("invoice", "pdf", "INV-1002"),
        ]
        assert all(e.actor_id == world.susan.id and e.client_id == world.client_a.id for e in events)
    client.post_form("/logout", token_from="/password/change")
    login(client, "margaretjones")
    log = html_of(client.get("/profile/access"))
    assert "Susan Jones viewed invoice INV-1002 on " in log


def _many(make, world, count):
    for n in range(count):
        make.invoice(world.client_a, f"BULK-{count}-{n}", 1000 + n)
        make.invoice(world.client_a2, f"BULKR-{count}-{n}", 1000 + n, billed_to=world.robert)


@pytest.mark.parametrize("username", ["margaretjones", "robertjones"])
def test_pages_cost_at_most_ten_statements_whatever_the_data(app, client, make, world, bills, username):
    login(client, username)
    invoice = bills.outstanding if username == "margaretjones" else bills.robert_a
    urls = ["/invoices", f"/invoices/{invoice.id}", f"/invoices/{invoice.id}.pdf", "/invoices?page=1"]
    _many(make, world, 3)
    few = {}
    for url in urls:
        with recorded_sql(app) as statements:
            assert client.get(url).status_code == 200
        few[url] = len(statements)
    _many(make, world, 300)
    for url in urls:
        with recorded_sql(app) as statements:
            assert client.get(url).status_code == 200
        assert len(statements) == few[url] <= 10, (url, statements)


def test_paginated_twenty_a_page(client, make, world):
    for n in range(45):
        make.invoice(world.client_a, f"P-{n:03d}", 100, issued_at=utcnow() - timedelta(hours=n))
    login(client, "margaretjones")
    first = html_of(client.get("/invoices"))
    assert "P-000" in first and "P-019" in first and "P-020" not in first
    assert "Page 1 of 3" in first and "Total due: $45.00" in first
    third = html_of(client.get("/invoices?page=3"))
    assert "P-044" in third and "P-039" not in third
    assert client.get("/invoices?page=4").status_code == 404
    fragment = client.get("/invoices?page=2", htmx=True)
    assert "<html" not in html_of(fragment) and "P-020" in html_of(fragment)


@pytest.mark.parametrize(
    "path",
    [
        "/invoices?page=0",
        "/invoices?page=-1",
        "/invoices?page=abc",
        "/invoices?page=99999999999999999999",
        "/invoices?page=%D9%A7",
        "/invoices?client=abc",
        "/invoices?client=0",
        "/invoices?client=99999999999999999999",
        "/invoices?client=%27%20or%201=1",
        "/invoices/0",
        "/invoices/99999999999999999999",
        "/invoices/-1",
        "/invoices/abc",
        "/invoices/1.5",
        "/invoices/99999999999999999999.pdf",
        "/invoices/%00",
    ],
)
def test_hostile_ids_pages_and_clients_never_fail(client, world, bills, path):
    login(client, "margaretjones")
    assert client.get(path).status_code < 500


def test_hostile_question_posts_never_fail(client, world, bills):
    login(client, "margaretjones")
    for path in (
        f"/invoices/{bills.outstanding.id}/lines/99999999999999999999/question",
        f"/invoices/{bills.outstanding.id}/lines/0/question",
        f"/invoices/99999999999/lines/{bills.line_visit.id}/question",
    ):
        response = client.post_form(path, {"body": "?"}, token_from=f"/invoices/{bills.outstanding.id}")
        assert response.status_code == 404, path
    assert _ask(client, bills, body="\x00bad").status_code < 500


def test_pages_stay_under_14_kb_compressed(client, make, world, bills):
    import gzip

    for n in range(30):
        add_line(make, bills.outstanding, f"Visit {n}", 100, rate_cents=100)
    for n in range(30):
        make.invoice(world.client_a, f"S-{n:03d}", 100)
    login(client, "margaretjones")
    for path in ("/invoices", f"/invoices/{bills.outstanding.id}"):
        assert len(gzip.compress(client.get(path).data)) <= 14 * 1024, path


def test_who_may_question_an_invoice(world, bills):
    def link(kind, **flags):
        switches = dict.fromkeys(policies._SWITCHES.values(), True) | {"may_view_invoices": False} | flags
        return ClientLink(
            client_id=world.client_a.id, user_id=world.robert.id, relationship_kind=kind, **switches
        )

    mine = bills.outstanding
    assert policies.can_question_invoice(link("self"), mine)
    assert policies.can_question_invoice(link("legal_representative"), mine)
    assert not policies.can_question_invoice(link("emergency_contact", may_view_invoices=True), mine)
    assert not policies.can_question_invoice(link("self", show_messages=False), mine)
    assert not policies.can_question_invoice(link("payer"), mine)  # not billed to this payer
    assert policies.can_question_invoice(link("payer"), bills.robert_a)
    assert not policies.can_question_invoice(link("self"), bills.draft)


def test_payment_methods_are_named_in_the_readers_language(app, client, world, bills):
    set_columns(app, User, world.margaret.id, language="es")
    login(client, "margaretjones")
    page = html_of(client.get(f"/invoices/{bills.outstanding.id}"))
    assert "Tarjeta" in page and "Card" not in page
    paid = client.get(f"/invoices/{bills.paid.id}.pdf")
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(paid.data)).pages)
    assert "Cheque" in text and "Check" not in text


def test_a_payers_dashboard_lists_the_five_most_recent_billed_to_them_for_every_client(
    client, make, world, bills
):
    now = utcnow()
    make.invoice(
        world.client_a2,
        "INV-R3",
        1000,
        billed_to=world.robert,
        status="paid",
        paid_cents=1000,
        issued_at=now - timedelta(days=1),
    )
    for n in range(4):  # older ones, the oldest of which falls off the five
        make.invoice(
            world.client_a, f"INV-OLD{n}", 500, billed_to=world.robert, issued_at=now - timedelta(days=40 + n)
        )
    login(client, "robertjones")
    html = html_of(client.get(f"/dashboard?client={world.client_a.id}"))
    shown = re.findall(r">(INV-[A-Z0-9]+)</a>", html)
    assert shown == ["INV-R3", "INV-R2", "INV-R1", "INV-OLD0", "INV-OLD1"], "newest first, five, paid too"
    assert "Harold Smith" in html and "Margaret Jones" in html and "Paid" in html
    assert "6 outstanding" in html  # R1, R2 and the four old ones; not the paid R3
    assert "INV-1002" not in html and "INV-H1" not in html  # not billed to him


def test_a_30_line_invoice_pdf_with_the_logo_carries_every_line(client, make, world):
    """A long invoice: 30 lines, each from a visit (scheduled and clocked times under it), and the
    logo; every line prints and they add up. (Its render time, 150 ms in the issue, is measured
    outside the suite: one render on this shared 2-core machine varies too much for a test.)"""
    from tests.test_pdf_logo import drawn_logo, give_logo

    give_logo(client.application, make, world.a, drawn_logo())
    invoice = make.invoice(world.client_a, "INV-30", 30 * 5800, paid_cents=5800)
    for day in range(30):
        starts = datetime(2026, 11, 1, 15, 0, tzinfo=UTC) + timedelta(days=day)
        visit = make.visit(
            world.client_a,
            starts,
            status="completed",
            clock_in_at=starts,
            clock_out_at=starts + timedelta(hours=2),
        )
        add_line(make, invoice, f"Care visit {day + 1}", 5800, visit=visit, minutes=120, rate_cents=2900)
    add_payment(make, invoice, 5800)
    login(client, "margaretjones")
    text = pdf_text(client.get(f"/invoices/{invoice.id}.pdf").data)
    assert cents_of_lines(text) == [5800] * 30
    assert cents_after(text, "Total") == 30 * 5800 and cents_after(text, "Balance") == 29 * 5800
    assert "Care visit 30" in text and text.count("Clocked") == 30
