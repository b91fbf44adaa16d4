"""Office billing through its pages: build a draft from completed visits, edit it, issue it with the
next number, record a payment, refund it, void, the invoice PDF and a statement — as plain form
posts (following redirects, as without JavaScript) and as htmx fragments; stale forms get 409;
bad input gets 422 beside the field; office staff may bill, portal users get 404; the pages stay
within the query budget however many visits and invoices there are.
"""

import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from app.models import Agency, AuditEvent, Invoice, InvoiceLine, OutboxMail, Payment
from tests.conftest import in_app, login, recorded_sql, set_columns

NEW = "/admin/invoices/new"
VERSION_RE = re.compile(r'name="version" type="hidden" value="(\d+)"')


def body(response) -> str:
    return response.get_data(as_text=True)


def version_of(response) -> str:
    return VERSION_RE.search(body(response)).group(1)


def completed(make, client, day: int, hours=2, clocked_minutes=None, **kw):
    """A completed visit on November `day` 2026 at 15:00 UTC (9:00 in Chicago)."""
    starts = datetime(2026, 11, day, 15, 0, tzinfo=UTC)
    clocked_minutes = hours * 60 if clocked_minutes is None else clocked_minutes
    return make.visit(
        client,
        starts,
        hours=hours,
        status="completed",
        clock_in_at=starts,
        clock_out_at=starts + timedelta(minutes=clocked_minutes),
        **kw,
    )


@pytest.fixture
def billing(app, make, world):
    set_columns(app, Agency, world.a.id, default_hourly_rate_cents=3200, invoice_prefix="ALP")
    world.visits = [
        completed(make, world.client_a, 3),
        completed(make, world.client_a, 5, clocked_minutes=100),  # billed 1 h 45 min
        completed(make, world.client_a, 10),
    ]
    make.visit(world.client_a, datetime(2026, 11, 12, 15, tzinfo=UTC), status="cancelled")
    completed(make, world.client_a2, 4)  # Harold's: not on Margaret's invoice
    return world


def build(client, world, start="2026-11-01", end="2026-11-30", billed_to=""):
    path = f"{NEW}?client={world.client_a.id}"
    return client.post_form(path, {"period_start": start, "period_end": end, "billed_to": billed_to})


def staff(client, world):
    login(client, "admin")


def draft_id(app, world) -> int:
    with in_app(app) as session:
        return session.scalar(select(Invoice.id).where(Invoice.status == "draft"))


def test_staff_build_a_draft_from_the_completed_unbilled_visits(app, client, billing):
    staff(client, billing)
    found = client.get(f"{NEW}?q=jones")
    assert found.status_code == 200 and "Margaret Jones" in body(found)
    form = client.get(f"{NEW}?client={billing.client_a.id}")
    assert form.status_code == 200 and "Margaret Jones" in body(form)
    answer = build(client, billing)
    assert answer.status_code == 303
    invoice_id = draft_id(app, billing)
    assert answer.headers["Location"].endswith(f"/admin/invoices/{invoice_id}")
    page = client.get(f"/admin/invoices/{invoice_id}")
    assert page.status_code == 200
    text = body(page)
    assert "Draft invoice" in text and "$64.00" in text and "$56.00" in text
    with in_app(app) as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice.number is None
        assert [line.billed_minutes for line in invoice.lines] == [120, 105, 120]
        assert invoice.total_cents == 6400 + 5600 + 6400


def test_nothing_to_bill_and_bad_periods_answer_422_beside_the_field(client, billing):
    staff(client, billing)
    for start, end, message in [
        ("2026-10-01", "2026-10-31", "no completed, unbilled visits"),
        ("2026-11-30", "2026-11-01", "must end on or after"),
        ("2026-02-30", "2026-03-01", "Enter a real date"),
        ("1999-12-31", "2000-01-02", "between 2000 and 2099"),
        ("2026-11-01", "9999-12-31", "between 2000 and 2099"),
        ("2026-11-01\x00", "2026-11-30", ""),
    ]:
        answer = build(client, billing, start, end)
        assert answer.status_code in (400, 422), (start, end)
        assert message in body(answer)


@pytest.fixture
def draft(app, client, billing):
    staff(client, billing)
    assert build(client, billing, billed_to=str(billing.robert.id)).status_code == 303
    billing.draft_id = draft_id(app, billing)
    billing.draft_url = f"/admin/invoices/{billing.draft_id}"
    return billing


def draft_data(app, world, **changes):
    """What the draft form posts as it is shown, with `changes` on top."""
    with in_app(app) as session:
        invoice = session.get(Invoice, world.draft_id)
        data = {
            "version": str(invoice.version),
            "billed_to": str(invoice.billed_to_id or ""),
            "due_on": "",
            "notes": "",
        }
        for index, line in enumerate(invoice.lines):
            data[f"lines-{index}-line_id"] = str(line.id)
            data[f"lines-{index}-description"] = line.description
            if line.billed_minutes is not None:
                data[f"lines-{index}-minutes"] = str(line.billed_minutes)
            data[f"lines-{index}-rate"] = f"{line.rate_cents // 100}.{line.rate_cents % 100:02d}"
    data.update(changes)
    return data


def test_editing_the_draft_changes_lines_and_total(app, client, draft):
    data = draft_data(
        app,
        draft,
        **{
            "lines-0-minutes": "90",
            "lines-1-rate": "40.00",
            "lines-2-remove": "y",
            "new_description": "Mileage",
            "new_amount": "12.50",
            "notes": "Thank you",
        },
    )
    answer = client.post_form(draft.draft_url, data)
    assert answer.status_code == 303, body(answer)[:2000]
    with in_app(app) as session:
        invoice = session.get(Invoice, draft.draft_id)
        assert [(line.billed_minutes, line.amount_cents) for line in invoice.lines] == [
            (90, 4800),
            (105, 7000),
            (None, 1250),
        ]
        assert invoice.total_cents == 4800 + 7000 + 1250 and invoice.notes == "Thank you"
        assert invoice.billed_to_id == draft.robert.id


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"lines-0-minutes": "-5"}, "Enter the minutes in digits"),
        ({"lines-0-minutes": "1e3"}, "Enter the minutes in digits"),
        ({"lines-0-minutes": "٩٠"}, "Enter the minutes in digits"),
        ({"lines-0-minutes": "0"}, "between 1 and 1440"),
        ({"lines-0-rate": "NaN"}, "Enter an amount in digits"),
        ({"lines-0-rate": "1e309"}, "Enter an amount in digits"),
        ({"lines-0-rate": "-32"}, "above zero"),
        ({"lines-0-rate": "32.001"}, "at most two decimals"),
        ({"lines-0-rate": "99999999999999999999"}, "too large"),
        ({"lines-0-description": ""}, "Enter what the line is for"),
        ({"new_description": "Mileage"}, "Enter the amount of the added line"),
        ({"billed_to": "999999"}, "Choose who receives the invoice"),
        ({"due_on": "2026-13-01"}, "Enter a real date"),
        ({"lines-0-remove": "y", "lines-1-remove": "y", "lines-2-remove": "y"}, "at least one line"),
    ],
)
def test_bad_draft_input_answers_422_beside_the_field(app, client, draft, changes, message):
    answer = client.post_form(draft.draft_url, draft_data(app, draft, **changes))
    assert answer.status_code == 422 and message in body(answer)
    with in_app(app) as session:
        assert session.get(Invoice, draft.draft_id).total_cents == 6400 + 5600 + 6400


def test_a_stale_form_answers_409_and_changes_nothing(app, client, draft):
    # Lines that are not this draft's (another page's form, a forged id, one line too many): 409.
    for forged in ({"lines-0-line_id": "2147483647"}, {"lines-3-line_id": "1", "lines-3-description": "x"}):
        assert client.post_form(draft.draft_url, draft_data(app, draft, **forged)).status_code == 409
    stale = draft_data(app, draft)
    assert client.post_form(draft.draft_url, draft_data(app, draft, notes="first")).status_code == 303
    answer = client.post_form(draft.draft_url, {**stale, "notes": "second"})
    assert answer.status_code == 409
    for path in ("issue", "discard"):
        assert client.post_form(f"{draft.draft_url}/{path}", {"version": stale["version"]}).status_code == 409
    with in_app(app) as session:
        invoice = session.get(Invoice, draft.draft_id)
        assert invoice.notes == "first" and invoice.status == "draft"


def issue(client, world, notify="y"):
    page = client.get(world.draft_url)
    return client.post_form(f"{world.draft_url}/issue", {"version": version_of(page), "notify": notify})


def test_issuing_numbers_invoices_in_order_and_mails_the_payer(app, client, draft):
    answer = issue(client, draft)
    assert answer.status_code == 303
    with in_app(app) as session:
        invoice = session.get(Invoice, draft.draft_id)
        assert invoice.number == "ALP-1001" and invoice.status == "issued"
        assert invoice.due_on == date.today() + timedelta(days=14) or invoice.due_on is not None
        [mail] = session.scalars(select(OutboxMail).where(OutboxMail.to_address == draft.robert.email)).all()
        assert "ALP-1001" in mail.body_text and "$184.00" in mail.body_text
        assert "Care visit" not in mail.body_text  # the amount and number, not the lines
    # The next draft (Harold's) gets the next number; the visits already billed are not billed again.
    assert build(client, draft).status_code == 422
    harold = client.post_form(
        f"{NEW}?client={draft.client_a2.id}",
        {"period_start": "2026-11-01", "period_end": "2026-11-30", "billed_to": ""},
    )
    assert harold.status_code == 303
    draft.draft_url = harold.headers["Location"]
    assert issue(client, draft, notify="").status_code == 303
    with in_app(app) as session:
        numbers = session.scalars(select(Invoice.number).order_by(Invoice.id)).all()
        assert numbers == ["ALP-1001", "ALP-1002"]
        assert session.scalar(select(func.count(OutboxMail.id))) == 1  # not mailed when unticked


def test_the_portal_sees_an_issued_invoice_not_a_draft(app, client, draft):
    client.post("/logout", headers={"X-CSRFToken": client.csrf_token(draft.draft_url)})
    login(client, "robertjones")
    assert client.get(f"/invoices/{draft.draft_id}").status_code == 404
    client.post("/logout", headers={"X-CSRFToken": client.csrf_token("/dashboard")})
    staff(client, draft)
    issue(client, draft)
    client.post("/logout", headers={"X-CSRFToken": client.csrf_token("/admin/")})
    login(client, "robertjones")
    page = client.get(f"/invoices/{draft.draft_id}")
    assert page.status_code == 200 and "ALP-1001" in body(page)


@pytest.fixture
def issued(app, client, draft):
    assert issue(client, draft).status_code == 303
    draft.url = draft.draft_url
    return draft


def pay(client, world, amount, **extra):
    page = client.get(world.url)
    data = {
        "version": version_of(page),
        "amount": amount,
        "method": "check",
        "received_on": extra.pop("received_on", "2026-11-20"),
        "reference": "Check 1234",
    }
    return client.post_form(f"{world.url}/payments", {**data, **extra})


@pytest.mark.parametrize(
    "amount, extra, message",
    [
        ("184.01", {}, "more than the balance"),
        ("0", {}, "above zero"),
        ("Infinity", {}, "Enter an amount in digits"),
        ("１００", {}, "Enter an amount in digits"),
        ("1.234,56", {}, "Enter an amount in digits"),
        ("10", {"received_on": "2099-01-01"}, "cannot be in the future"),
        ("10", {"method": "bitcoin"}, "Not a valid choice"),
    ],
)
def test_bad_payments_answer_422(app, client, issued, amount, extra, message):
    viewed = select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "record.viewed", AuditEvent.target_id == issued.draft_id
    )
    with in_app(app) as session:
        before = session.scalar(viewed)
    answer = pay(client, issued, amount, **extra)
    assert answer.status_code == 422 and message in body(answer)
    with in_app(app) as session:
        assert session.scalar(select(func.count(Payment.id))) == 0
        # The page it was sent from and the refused form showing the invoice again: two views.
        assert session.scalar(viewed) == before + 2


def test_payment_refund_and_void(app, client, issued):
    assert pay(client, issued, "100").status_code == 303
    assert pay(client, issued, "84.00").status_code == 303
    with in_app(app) as session:
        invoice = session.get(Invoice, issued.draft_id)
        assert invoice.status == "paid" and invoice.paid_cents == 18400
        first = session.scalars(select(Payment).order_by(Payment.id)).first()
        assert first.received_at.astimezone(UTC).date() == date(2026, 11, 20)
    # Paid in full: no more payments.
    assert pay(client, issued, "1").status_code == 422
    # Void is refused while money is on the invoice.
    page = client.get(issued.url)
    refused = client.post_form(f"{issued.url}/void", {"version": version_of(page), "reason": "Wrong client"})
    assert refused.status_code == 422 and "refund them before voiding" in body(refused)
    refund_url = f"{issued.url}/payments/{first.id}/refund"
    too_much = client.post_form(refund_url, {"version": version_of(page), "amount": "100.01", "reason": "x"})
    assert too_much.status_code == 422 and "more than is left to refund" in body(too_much)
    assert (
        client.post_form(
            refund_url, {"version": version_of(page), "amount": "100", "reason": "Overcharged"}
        ).status_code
        == 303
    )
    with in_app(app) as session:
        invoice = session.get(Invoice, issued.draft_id)
        assert invoice.status == "issued" and invoice.paid_cents == 8400
    page = client.get(issued.url)
    assert "Refund" in body(page) and "Overcharged" in body(page)
    second = f"{issued.url}/payments/{first.id + 1}/refund"
    assert (
        client.post_form(
            second, {"version": version_of(page), "amount": "84", "reason": "Wrong client"}
        ).status_code
        == 303
    )
    page = client.get(issued.url)
    assert (
        client.post_form(f"{issued.url}/void", {"version": version_of(page), "reason": ""}).status_code == 422
    )
    assert (
        client.post_form(
            f"{issued.url}/void", {"version": version_of(page), "reason": "Wrong client"}
        ).status_code
        == 303
    )
    with in_app(app) as session:
        invoice = session.get(Invoice, issued.draft_id)
        assert invoice.status == "void" and invoice.void_reason == "Wrong client"
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        for action in (
            "invoice.drafted",
            "invoice.issued",
            "payment.recorded",
            "payment.refunded",
            "invoice.voided",
        ):
            assert action in actions
    # The void invoice's visits can be billed again.
    assert build(client, issued).status_code == 303


def test_htmx_answers_the_invoice_fragment(app, client, issued):
    page = client.get(issued.url)
    answer = client.post_form(
        f"{issued.url}/payments",
        {"version": version_of(page), "amount": "1e309", "method": "check", "received_on": "2026-11-20"},
        htmx=True,
    )
    assert answer.status_code == 422
    text = body(answer)
    assert text.lstrip().startswith("{#") is False and "<html" not in text and 'id="admin-invoice"' in text
    good = client.post_form(
        f"{issued.url}/payments",
        {"version": version_of(page), "amount": "10", "method": "cash", "received_on": "2026-11-20"},
        htmx=True,
    )
    assert good.status_code == 200 and good.headers["HX-Redirect"] == issued.url


def test_the_invoice_pdf_and_the_statements(app, client, issued):
    pdf = client.get(f"{issued.url}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "ALP-1001" in text and "$184.00" in text
    pay(client, issued, "50")
    for who in (f"client={issued.client_a.id}", f"payer={issued.robert.id}"):
        page = client.get(f"/admin/invoices/statement?{who}&start=2026-11-01&end=2026-12-31")
        assert page.status_code == 200, who
        assert "Invoice ALP-1001" in body(page) and "$134.00" in body(page)
        statement = client.get(f"/admin/invoices/statement.pdf?{who}&start=2026-11-01&end=2026-12-31")
        assert statement.status_code == 200 and statement.mimetype == "application/pdf"
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(statement.data)).pages)
        assert "ALP-1001" in text and "$134.00" in text
    bad = client.get(f"/admin/invoices/statement?client={issued.client_a.id}&start=2026-11-31&end=2026-12-31")
    assert bad.status_code == 422 and "Enter a real date" in body(bad)
    # Someone who pays for nobody has no statement; neither does another agency's client.
    assert client.get(f"/admin/invoices/statement?payer={issued.susan.id}").status_code == 404
    assert client.get(f"/admin/invoices/statement?client={issued.client_b.id}").status_code == 404
    assert client.get("/admin/invoices/statement").status_code == 404
    # A draft has no PDF.
    assert client.get(f"/admin/invoices/{issued.draft_id}.pdf").status_code == 200


def test_lists_filters_and_reach(app, client, make, issued):
    listing = client.get("/admin/invoices")
    assert listing.status_code == 200 and "ALP-1001" in body(listing)
    assert "ALP-1001" in body(client.get("/admin/invoices?state=outstanding&q=margaret"))
    assert "ALP-1001" not in body(client.get("/admin/invoices?state=paid"))
    assert "ALP-1001" in body(client.get("/admin/invoices?q=alp-10"))
    other = make.invoice(issued.client_b, "B-1")
    for path in (
        f"/admin/invoices/{other.id}",
        f"/admin/invoices/{other.id}.pdf",
        f"/admin/invoices?client={issued.client_b.id}",
    ):
        assert client.get(path).status_code == 404, path
    fragment = client.get("/admin/invoices?page=1", htmx=True)
    assert "<html" not in body(fragment) and 'id="admin-invoices"' in body(fragment)


def test_office_staff_bill_and_portal_users_get_404(app, client, make, billing):
    make.user(billing.a, "carolwhite", role="staff", name="Carol White")
    login(client, "carolwhite")
    assert client.get("/admin/invoices").status_code == 200
    assert build(client, billing).status_code == 303
    client.post("/logout", headers={"X-CSRFToken": client.csrf_token("/admin/")})
    login(client, "margaretjones")
    for path in ("/admin/invoices", NEW, f"/admin/invoices/{draft_id(app, billing)}"):
        assert client.get(path).status_code == 404, path


def _grow(app, world, count, invoice_ids):
    """`count` more invoices for the list, and `count` more lines and payments on the two shown."""
    with in_app(app) as session:
        for n in range(count):
            session.add(
                Invoice(
                    agency_id=world.a.id,
                    client_id=world.client_a2.id,
                    number=f"GROW-{count}-{n}",
                    status="issued",
                    period_start=date(2026, 10, 1),
                    period_end=date(2026, 10, 14),
                    issued_at=datetime(2026, 10, 15, tzinfo=UTC),
                    total_cents=1000,
                    paid_cents=0,
                )
            )
            for invoice_id in invoice_ids:
                session.add(
                    InvoiceLine(
                        agency_id=world.a.id,
                        invoice_id=invoice_id,
                        description=f"Supply {n}",
                        rate_cents=1,
                        amount_cents=1,
                    )
                )
                session.add(
                    Payment(agency_id=world.a.id, invoice_id=invoice_id, amount_cents=0, method="check")
                )
        session.commit()


def test_pages_cost_at_most_ten_statements_whatever_the_data(app, client, make, issued):
    build(client, issued)  # nothing left to bill for Margaret: Harold's draft instead
    harold = client.post_form(
        f"{NEW}?client={issued.client_a2.id}",
        {"period_start": "2026-11-01", "period_end": "2026-11-30", "billed_to": ""},
    )
    draft_url = harold.headers["Location"]
    draft = int(draft_url.rsplit("/", 1)[1])
    urls = [
        "/admin/invoices",
        "/admin/invoices?state=outstanding&q=smith",
        issued.url,
        draft_url,
        f"{issued.url}.pdf",
        f"/admin/invoices/statement?payer={issued.robert.id}&start=2026-10-01&end=2026-12-31",
    ]
    counts = {}
    for size in (3, 150):
        _grow(app, issued, size, [issued.draft_id, draft])
        for url in urls:
            with recorded_sql(app) as statements:
                assert client.get(url).status_code == 200, url
            counts.setdefault(url, []).append(len(statements))
    for url, (few, many) in counts.items():
        assert few == many <= 10, (url, few, many)


def settings_data(client, **changes):
    page = client.get("/admin/invoices/settings")
    assert page.status_code == 200
    text = body(page)
    data = {
        "version": version_of(page),
        "invoice_prefix": "ALP",
        "payment_terms_days": "14",
        "default_hourly_rate": "32.00",
    }
    for index, task_id in enumerate(
        re.findall(r'name="task_rates-\d+-task_id" type="hidden" value="(\d+)"', text)
    ):
        data[f"task_rates-{index}-task_id"] = task_id
        data[f"task_rates-{index}-rate"] = ""
    return {**data, **changes}


def test_billing_settings_and_rates_price_the_next_draft(app, client, make, billing):
    from app.models import Task, VisitTask

    nursing = make.save(Task(agency_id=billing.a.id, name="Wound care"))
    make.save(
        VisitTask(agency_id=billing.a.id, visit_id=billing.visits[0].id, task_id=nursing.id, status="done")
    )
    staff(client, billing)
    answer = client.post_form(
        "/admin/invoices/settings",
        settings_data(client, invoice_prefix="SUN", payment_terms_days="30", **{"task_rates-0-rate": "50"}),
    )
    assert answer.status_code == 303, body(answer)[:3000]
    rate = client.post_form(
        f"/admin/invoices/rates/clients/{billing.client_a.id}",
        {"hourly_rate": "40"},
        token_from=NEW + f"?client={billing.client_a.id}",
    )
    assert rate.status_code == 303
    assert build(client, billing).status_code == 303
    with in_app(app) as session:
        invoice = session.get(Invoice, draft_id(app, billing))
        # Wound care's $50 on the first visit; Margaret's own $40 on the others.
        assert [line.amount_cents for line in invoice.lines] == [10000, 7000, 8000]
        agency = session.get(Agency, billing.a.id)
        assert (agency.invoice_prefix, agency.payment_terms_days) == ("SUN", 30)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"invoice_prefix": "sun-1"}, "capital letters and digits"),
        ({"invoice_prefix": "ABCDEFGHIJKLM"}, "capital letters and digits"),
        ({"payment_terms_days": "366"}, "between 0 and 365"),
        ({"payment_terms_days": "-1"}, "in digits"),
        ({"payment_terms_days": "１４"}, "in digits"),
        ({"default_hourly_rate": "NaN"}, "Enter an amount in digits"),
        ({"task_rates-0-rate": "1e309"}, "Enter an amount in digits"),
        ({"task_rates-0-task_id": "2147483647"}, "removed meanwhile"),
    ],
)
def test_bad_billing_settings_answer_422(app, client, make, billing, changes, message):
    from app.models import Task

    make.save(Task(agency_id=billing.a.id, name="Wound care"))
    staff(client, billing)
    answer = client.post_form("/admin/invoices/settings", settings_data(client, **changes))
    assert answer.status_code == 422 and message in body(answer)
    stale = settings_data(client)
    assert (
        client.post_form(
            "/admin/invoices/settings", settings_data(client, payment_terms_days="20")
        ).status_code
        == 303
    )
    assert client.post_form("/admin/invoices/settings", stale).status_code == 409
    bad_rate = client.post_form(
        f"/admin/invoices/rates/clients/{billing.client_a.id}", {"hourly_rate": "-3"}, token_from=NEW
    )
    assert bad_rate.status_code == 422 and "above zero" in body(bad_rate)
    assert (
        client.post_form(
            f"/admin/invoices/rates/clients/{billing.client_b.id}", {"hourly_rate": "3"}, token_from=NEW
        ).status_code
        == 404
    )


def test_the_statement_link_opens_on_last_month(client, issued):
    page = client.get(f"/admin/invoices/statement?client={issued.client_a.id}")
    assert page.status_code == 200 and "Balance due" in body(page) and "error" not in body(page)


def test_the_client_and_payer_pages_link_their_statements(client, billing):
    staff(client, billing)
    statement = "/admin/invoices/statement"
    assert f'href="{statement}?client={billing.client_a.id}"' in body(
        client.get(f"/admin/clients/{billing.client_a.id}")
    )
    assert f'href="{statement}?payer={billing.robert.id}"' in body(
        client.get(f"/admin/people/{billing.robert.id}")
    )
    assert statement not in body(client.get(f"/admin/people/{billing.susan.id}"))  # not a payer


def test_the_admin_home_counts_what_needs_attention_in_one_statement(app, client, make, issued):
    set_columns(app, Invoice, issued.draft_id, due_on=date(2026, 11, 1))  # overdue
    from zoneinfo import ZoneInfo

    chicago = ZoneInfo("America/Chicago")
    noon = datetime.now(chicago).replace(hour=12, minute=0, second=0, microsecond=0)
    make.visit(issued.client_a, noon.astimezone(UTC))  # today, nobody assigned
    with recorded_sql(app) as statements:
        page = body(client.get("/admin/"))
    text = re.sub(r"\s+", " ", page)
    assert 'Invoices overdue</a> <span class="badge">1</span>' in text
    # (The unsigned count, of the last three months, is tested with dates relative to today in
    # tests/test_admin_home.py; these visits are November 2026's.)
    assert re.search(r"Today(&#39;|')s visits without a caregiver</a> <span class=\"badge\">1</span>", text)
    assert len(statements) <= 10, statements
    overdue = body(client.get("/admin/invoices?state=overdue"))
    assert "ALP-1001" in overdue
