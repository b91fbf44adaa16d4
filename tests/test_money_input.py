"""Money typed by a person (app/web/forms.py): read strictly into integer cents, or refused with the
reason beside the field; never a float, never a 500."""

import pytest

from app.web.forms import cents_text, parse_cents


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("125.50", 12550), ("$1,234.5", 123450), ("40", 4000), (" 0.01 ", 1), ("1,000,000.00", 100_000_000)],
)
def test_amounts_people_type_are_read_exactly(app, typed, cents):
    with app.test_request_context():
        assert parse_cents(typed) == cents


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "-5",
        "$-5",
        "0",
        "0.00",
        "0.001",
        "1.999",
        "NaN",
        "nan",
        "Infinity",
        "inf",
        "1e309",
        "1e3",
        "١٢",
        "１２",
        "1,23",
        "12,34.5",
        "1.2.3",
        "12 34",
        "1000000.01",  # above a million: a typing slip
        "99999999999999999999",
        "9" * 30,
        "$",
        ".",
        "0x10",
        "½",
    ],
)
def test_anything_else_is_refused_with_a_reason(app, typed):
    with app.test_request_context():
        with pytest.raises(ValueError) as refused:
            parse_cents(typed)
    assert str(refused.value)


def test_cents_come_back_as_typed(app):
    assert cents_text(12550) == "125.50" and cents_text(5) == "0.05" and cents_text(100000) == "1000.00"
