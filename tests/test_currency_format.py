"""`money`: integer minor units in the agency's currency, written the way that currency's country
writes it when the viewer's language is spoken there (the demo's dollars read $1,234.56 in English
and in Spanish), exact however large; on pages, in the invoice PDF and in the receipt mail (which
is rendered without a request, so the agency is passed explicitly)."""

import io

import pypdf
import pytest
from flask import g
from flask_babel import force_locale
from sqlalchemy import select

from app.models import Agency, Invoice, InvoiceLine, OutboxMail, User
from app.services.payments.manual import record_manual_payment
from app.web.formatting import money, money_locale
from tests.conftest import in_app, login, set_columns

NBSP = "\u00a0"


def in_language(app, language, cents, **kw):
    with app.app_context(), force_locale(language):
        return money(cents, **kw)


@pytest.mark.parametrize(
    ("language", "currency", "cents", "shown"),
    [
        ("en", "USD", 123456, "$1,234.56"),
        ("es", "USD", 123456, "$1,234.56"),  # DESIGN.md: the demo shows $1,234.56 in Spanish too
        ("en", "EUR", 123456, "€1,234.56"),
        ("es", "EUR", 123456, f"1.234,56{NBSP}€"),
        ("en", "GBP", 123456, "£1,234.56"),
        ("es", "MXN", 123456, "$1,234.56"),
        ("en", "JPY", 1234, "¥1,234"),  # no minor unit: the column holds whole yen
        ("es", "JPY", 123456, f"123.456{NBSP}JPY"),
        ("en", "BHD", 1234567, "BHD1,234.567"),  # three digits: the column holds fils
        ("en", "usd", 5, "$0.05"),
    ],
)
def test_amounts_in_each_currency_and_language(app, language, currency, cents, shown):
    assert in_language(app, language, cents, currency=currency) == shown


@pytest.mark.parametrize(
    ("language", "currency", "cents", "shown"),
    [
        ("en", "USD", -123456, "-$1,234.56"),
        ("es", "USD", -5, "-$0.05"),
        ("en", "EUR", -123456, "-€1,234.56"),
        ("es", "EUR", -123456, f"-1.234,56{NBSP}€"),
        ("en", "JPY", -1234, "-¥1,234"),
    ],
)
def test_negative_amounts_carry_a_minus_sign(app, language, currency, cents, shown):
    assert in_language(app, language, cents, currency=currency) == shown


def test_zero_and_nothing_are_zero(app):
    assert in_language(app, "en", 0, currency="USD") == "$0.00"
    assert in_language(app, "es", None, currency="USD") == "$0.00"
    assert in_language(app, "en", 0, currency="JPY") == "¥0"


def test_huge_amounts_are_exact(app):
    assert in_language(app, "en", 2**31, currency="USD") == "$21,474,836.48"
    assert in_language(app, "es", 2**31 - 1, currency="USD") == "$21,474,836.47"
    assert in_language(app, "en", 2**63 - 1, currency="USD") == "$92,233,720,368,547,758.07"
    # Past Decimal's default 28 digits and past what a float holds exactly.
    assert in_language(app, "en", 10**30 + 1, currency="USD") == "$10,000,000,000,000,000,000,000,000,000.01"


def test_a_float_is_refused_rather_than_rounded():
    with pytest.raises(TypeError):
        money(12.34, currency="USD")


def test_the_rule_picks_the_currencys_country_when_the_language_has_it():
    cases = {
        ("es", "USD"): "es_US",
        ("en", "USD"): "en_US",
        ("en", "EUR"): "en_IE",
        ("es", "EUR"): "es",
        ("en", "GBP"): "en_GB",
        ("es", "MXN"): "es_MX",
        ("en", "JPY"): "en",
        ("en", "XOF"): "en",  # a currency of several countries: the reader's own way
    }
    assert {case: str(money_locale(*case)) for case in cases} == cases


def test_the_currency_comes_from_the_argument_else_the_agency_else_the_request(app):
    euro, yen = Agency(currency="EUR"), Agency(currency="JPY")
    with app.test_request_context(), force_locale("en"):
        assert money(150) == "$1.50"  # no agency at all: US dollars
        g.agency = euro
        assert money(150) == "€1.50"
        assert money(150, yen) == "¥150"
        assert money(150, yen, currency="USD") == "$1.50"
    assert money(150, euro) == "€1.50"  # no application at all: English


# --- on pages, in the PDF and in mail ---------------------------------------------------------------


@pytest.fixture
def bill(make, world):
    invoice = make.invoice(world.client_a, "INV-1002", 123456, paid_cents=2550)
    make.save(
        InvoiceLine(
            agency_id=world.a.id,
            invoice_id=invoice.id,
            description="Mileage",
            rate_cents=123456,
            amount_cents=123456,
        )
    )
    return invoice


def test_the_demo_like_agency_shows_dollars_in_spanish_too(app, client, world, bill):
    set_columns(app, User, world.margaret.id, language="es")
    login(client, "margaretjones")
    listing = client.get("/invoices").get_data(as_text=True)
    assert 'lang="es"' in listing and "$1,234.56" in listing and "$1,209.06" in listing
    detail = client.get(f"/invoices/{bill.id}").get_data(as_text=True)
    assert "$1,234.56" in detail and "$25.50" in detail


def test_pages_and_the_pdf_follow_the_agencys_currency(app, client, world, bill):
    set_columns(app, Agency, world.a.id, currency="EUR")
    login(client, "margaretjones")
    assert "€1,234.56" in client.get("/invoices").get_data(as_text=True)
    reader = pypdf.PdfReader(io.BytesIO(client.get(f"/invoices/{bill.id}.pdf").data))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "€1,234.56" in text and "€1,209.06" in text and "$" not in text
    set_columns(app, User, world.margaret.id, language="es")
    assert f"1.234,56{NBSP}€" in client.get("/invoices").get_data(as_text=True)


def test_the_receipt_mail_is_written_in_the_agencys_currency(app, world, bill):
    """Mail is rendered when it is queued, in the recipient's language — here during a request of
    another agency (US dollars), as a worker or the office of another tenant might: the receipt
    still follows the invoice's agency."""
    set_columns(app, Agency, world.a.id, currency="EUR")
    set_columns(app, User, world.margaret.id, language="es")
    with app.test_request_context(), in_app(app) as session:
        g.agency = session.get(Agency, world.b.id)
        agency = session.get(Agency, world.a.id)
        staff = session.get(User, world.staff_a.id)
        invoice = session.get(Invoice, bill.id)
        record_manual_payment(agency, staff, invoice, 100050, "check", None)
        [mail] = session.scalars(select(OutboxMail)).all()
        body = mail.body_text
        session.rollback()
    assert f"su pago de 1.000,50{NBSP}€" in body  # 100050 cents paid
    assert f"208,56{NBSP}€" in body and "$" not in body and "USD" not in body  # 123456 - 2550 - 100050
