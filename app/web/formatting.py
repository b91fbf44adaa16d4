"""Jinja filters: money from integer cents, and dates and times in the viewer's time zone and language.

Dates go through Flask-Babel with one CLDR pattern per named style and language, so the English
wording stays exactly as before ("Thursday, November 26") while Spanish reads naturally
("jueves, 26 de noviembre"). A time shown in a zone other than the agency's carries that zone's
friendly name ("9:00 AM Eastern time"), so a son in Florida never mistakes his mother's clock
for his own. Money is shown in the agency's currency, in the number format of that currency's
country where the viewer's language has one (see `money`): the demo's US dollars read $1,234.56
in English and in Spanish.
"""

import re
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, localedata
from babel.dates import get_day_names
from babel.numbers import format_currency, get_currency_precision
from flask import current_app, g, has_app_context
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user
from markupsafe import Markup, escape

from app.models.visit import VISIT_STATUS_LABELS
from app.services.calendar import WEEK_START
from app.services.payments import METHOD_LABELS
from app.web.zones import zone_label

# Named styles → CLDR date patterns (https://unicode.org/reports/tr35/tr35-dates.html), per language.
# A language without its own table uses the English one. Spanish keeps "9:00 a. m." on one line
# (a no-break space; CLDR puts a narrow one inside "a. m.").
PATTERNS = {
    "en": {
        "time": "h:mm a",  # 9:00 AM
        "datetime": "EEE MMM d, h:mm a",  # Thu Nov 26, 9:00 AM
        "date": "MMM d, y",  # Nov 26, 2026
        "date_time": "MMM d, y h:mm a",  # Nov 26, 2026 9:00 AM
        "weekday_date": "EEE MMM d, y",  # Thu Nov 26, 2026
        "day": "EEEE, MMMM d",  # Thursday, November 26
        "full_day": "EEEE, MMMM d, y",  # Thursday, November 26, 2026
        "long_date": "MMMM d, y",  # November 26, 2026
        "month": "MMMM y",  # November 2026
        # A week: (first day, last day), joined by " – ".
        "week_same_month": ("MMMM d", "d, y"),  # November 22 – 28, 2026
        "week_same_year": ("MMM d", "MMM d, y"),  # Nov 29 – Dec 5, 2026
        "week": ("MMM d, y", "MMM d, y"),  # Dec 27, 2026 – Jan 2, 2027
    },
    "es": {
        "time": "h:mm\u00a0a",  # 9:00 a. m.
        "datetime": "EEE d MMM, h:mm\u00a0a",  # jue 26 nov, 9:00 a. m.
        "date": "d MMM y",  # 26 nov 2026
        "date_time": "d MMM y, h:mm\u00a0a",  # 26 nov 2026, 9:00 a. m.
        "weekday_date": "EEE d MMM y",  # jue 26 nov 2026
        "day": "EEEE, d 'de' MMMM",  # jueves, 26 de noviembre
        "full_day": "EEEE, d 'de' MMMM 'de' y",  # jueves, 26 de noviembre de 2026
        "long_date": "d 'de' MMMM 'de' y",  # 26 de noviembre de 2026
        "month": "MMMM 'de' y",  # noviembre de 2026
        "week_same_month": ("d", "d 'de' MMMM 'de' y"),  # 22 – 28 de noviembre de 2026
        "week_same_year": ("d MMM", "d MMM y"),  # 29 nov – 5 dic 2026
        "week": ("d MMM y", "d MMM y"),  # 27 dic 2026 – 2 ene 2027
    },
}
# Styles that show a clock time, and so may need the zone after them.
TIMED_STYLES = {"time", "datetime", "date_time"}


# Money --------------------------------------------------------------------------------------------
DEFAULT_CURRENCY = "USD"  # Agency.currency's default
# The country whose way of writing amounts a currency follows: the first two letters of its ISO 4217
# code (USD → US, JPY → JP, GBP → GB, MXN → MX), except where that names no country. The euro has
# no single home: Ireland is the euro country that writes English (€1,234.56), and a language with
# no Irish form (Spanish) writes euros its own way (1.234,56 €).
CURRENCY_TERRITORIES = {"EUR": "IE"}


@lru_cache(maxsize=256)
def money_locale(language: str, currency: str) -> Locale:
    """The locale an amount in `currency` is written in for a reader of `language` — the one rule,
    deterministic and independent of the data: `<language>_<the currency's country>` when CLDR has
    that locale (es + USD → es_US "$1,234.56", en + USD → en_US, en + EUR → en_IE "€1,234.56",
    es + MXN → es_MX), otherwise the reader's language alone (es + EUR → es "1.234,56 €",
    en + JPY → en "¥1,234"). The symbol and the grouping therefore follow the currency's country
    whenever the reader's language is spoken there, and the reader's own habits otherwise."""
    territory = CURRENCY_TERRITORIES.get(currency, currency[:2])
    candidate = f"{language}_{territory}"
    if territory.isalpha() and localedata.exists(candidate):
        return Locale.parse(candidate)
    return Locale.parse(language)


def _viewer_language() -> str:
    locale = get_locale() if has_app_context() else None
    if locale is not None:
        return locale.language
    default = current_app.config.get("BABEL_DEFAULT_LOCALE", "en") if has_app_context() else "en"
    return Locale.parse(default).language


def money(cents: int | None, agency=None, *, currency: str | None = None) -> str:
    """Integer minor units of a currency as an amount: `12345` → "$123.45".

    The currency is `currency`, else `agency.currency`, else the request's agency's (`g.agency`),
    else US dollars; pass the agency where there is no request of that agency (mail rendered
    for the outbox, `amount|money(agency)` in a template). The stored number counts the
    currency's minor unit (cents; whole yen for JPY, fils — thousandths — for BHD), scaled by
    CLDR's precision for the currency, exactly (Decimal, never float). It is written by
    `money_locale` for the viewer's language; a negative amount carries a minus sign
    ("-$12.00"), never brackets."""
    if not currency:
        agency = agency if agency is not None else (g.get("agency") if has_app_context() else None)
        currency = getattr(agency, "currency", None) or DEFAULT_CURRENCY
    currency = currency.upper()
    if isinstance(cents, float):
        raise TypeError("money takes integer minor units, never a float")
    cents = int(cents or 0)
    # Exact however large the number: enough digits for this one (Decimal's default keeps 28).
    with localcontext(prec=len(str(abs(cents))) + 8):
        amount = Decimal(cents).scaleb(-get_currency_precision(currency))
        return format_currency(amount, currency, locale=money_locale(_viewer_language(), currency))


# Dates and times -----------------------------------------------------------------------------------
def agency_zone_name() -> str:
    agency = g.get("agency")
    return agency.time_zone if agency else "UTC"


def viewer_zone() -> ZoneInfo:
    name = None
    if current_user and current_user.is_authenticated:
        name = current_user.time_zone
    return ZoneInfo(name or agency_zone_name())


def zone_note(zone: ZoneInfo) -> str:
    """The friendly name of `zone` when times must say their zone (the viewer's own zone differs
    from the agency's), else ""."""
    if viewer_zone().key == agency_zone_name():
        return ""
    return zone_label(zone.key)


def _pattern(style: str) -> str | tuple[str, str]:
    locale = get_locale()
    table = PATTERNS.get(locale.language if locale else "en", PATTERNS["en"])
    return table[style]


def when(
    value: date | datetime | None, style: str = "datetime", zone: ZoneInfo | None = None, zoned: bool = True
) -> str:
    """A date or an instant in the request's language; an instant is shown in `zone`, by default
    the viewer's (their own time zone, else the agency's). A clock time is followed by its zone's
    name when the viewer's zone is not the agency's; `zoned=False` leaves it off where the same
    sentence names the zone once (the start of "9:00 AM – 11:00 AM Eastern time")."""
    if value is None:
        return ""
    pattern = _pattern(style)
    if isinstance(value, datetime):
        zone = zone or viewer_zone()
        # Already in the right zone: Flask-Babel must not move it to its own default (UTC).
        text = format_datetime(value.astimezone(zone), pattern, rebase=False)
        note = zone_note(zone) if zoned and style in TIMED_STYLES else ""
        return f"{text} {note}" if note else text
    return format_date(value, pattern)


def week_span(first: date, last: date) -> str:
    """A week's title, "Nov 29 – Dec 5, 2026", shortened when both ends share the month or year."""
    if first.year != last.year:
        style = "week"
    elif first.month != last.month:
        style = "week_same_year"
    else:
        style = "week_same_month"
    start_pattern, end_pattern = _pattern(style)
    return f"{format_date(first, start_pattern)} – {format_date(last, end_pattern)}"


def period_title(period) -> str:
    """A calendar period's heading in the request's language: "November 2026",
    "Nov 29 – Dec 5, 2026", "Monday, November 30, 2026"."""
    if period.view == "month":
        return when(period.start, "month")
    if period.view == "week":
        return week_span(period.start, period.end - timedelta(days=1))
    return when(period.start, "full_day")


def weekday_names() -> list[str]:
    """Short weekday names in the request's language, in calendar order (Sunday first)."""
    names = get_day_names("abbreviated", locale=get_locale() or "en")
    return [names[(WEEK_START + n) % 7] for n in range(7)]


def initials(name: str) -> str:
    """ "Ana Torres" → "AT": stands in for a caregiver's photo."""
    parts = [p for p in name.split() if p]
    return "".join(p[0] for p in parts[:1] + parts[-1:]).upper() if parts else "?"


def visit_status(status: str) -> str:
    return str(VISIT_STATUS_LABELS.get(status, status.replace("_", " ").capitalize()))


def payment_method(method: str) -> str:
    return str(METHOD_LABELS.get(method, method.capitalize()))


# A web address someone typed: http or https (any case), a host that starts with a letter, a digit
# or "[" (an IPv6 address), then up to the next space, angle bracket, quote or bidirectional
# control (which would let the shown address read differently from the link). Closing punctuation
# is usually the sentence's ("see https://example.org."), not the address's — except a closing
# bracket the address opened itself (https://en.wikipedia.org/wiki/Mercury_(planet)).
_BIDI_CONTROLS = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
_WEB_ADDRESS = re.compile(rf"\bhttps?://(?:[^\W_]|\[)[^\s<>\"'{_BIDI_CONTROLS}]*", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"
_OPENING = {")": "(", "]": "[", "}": "{"}


def _address_end(address: str) -> str:
    """The address without the sentence's closing punctuation after it."""
    while address and address[-1] in _TRAILING:
        last = address[-1]
        if last in _OPENING and address.count(_OPENING[last]) >= address.count(last):
            break  # the address's own bracket, opened inside it
        address = address[:-1]
    return address


def linkify(text: str | None) -> Markup:
    """Plain text made safe for a page, its web addresses clickable. Everything is escaped; only
    http(s) addresses with a host become links, and those give the other site no handle on our
    page, no referrer (a thread's address) and no ranking."""
    if not text:
        return Markup("")
    parts, last = [], 0
    for match in _WEB_ADDRESS.finditer(text):
        address = _address_end(match.group())
        parts.append(escape(text[last : match.start()]))
        parts.append(Markup('<a href="{0}" rel="noopener nofollow noreferrer">{0}</a>').format(address))
        last = match.start() + len(address)
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def init_formatting(app) -> None:
    for function in (money, when, period_title, initials, visit_status, payment_method, linkify):
        app.add_template_filter(function)
    app.add_template_global(zone_label)
