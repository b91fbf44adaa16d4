"""English and Spanish: the page speaks the signed-in user's language (else the browser's), the
catalog translates every marked string, and English pages read exactly as before.

What is asserted is what a user reads: headings, buttons, dates and month names, validation
messages and error pages, the mail they receive and their calendar feed.
"""

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from sqlalchemy import select

from app.models import OutboxMail, User
from tests.conftest import PASSWORD, deliver_resets, in_app, login

ROOT = Path(__file__).resolve().parents[1]
SPANISH_PO = ROOT / "app" / "translations" / "es" / "LC_MESSAGES" / "messages.po"
# "9:00 a. m.": a no-break space before CLDR's Spanish "a. m." (itself with a narrow no-break space).
A_M = "\u00a0a.\u202fm."
# 9:00 AM on Thursday 26 November 2026 in Chicago (the agencies' zone, UTC-6).
NOV_26_9AM_CHICAGO = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def page(response) -> str:
    return unescape(response.get_data(as_text=True))


def speaks(app, user, language):
    with in_app(app) as session:
        session.get(User, user.id).language = language
        session.commit()


@pytest.fixture
def spanish(app, world):
    """Margaret reads the portal in Spanish; everyone else keeps English."""
    speaks(app, world.margaret, "es")
    return world.margaret


@pytest.fixture
def visit(make, world):
    """Margaret's visit with Ana on 26 November 2026, and one in two days (upcoming, in the feed)."""
    ana = make.caregiver(world.a, "Ana Torres")
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    make.visit(world.client_a, soon, caregiver_id=ana.id)
    return make.visit(world.client_a, NOV_26_9AM_CHICAGO, caregiver_id=ana.id)


def catalog():
    with SPANISH_PO.open("rb") as handle:
        return read_po(handle, locale="es")


# --- the catalog ---------------------------------------------------------------------------------


def test_every_msgid_has_a_spanish_translation_and_none_is_fuzzy():
    spanish = catalog()
    assert not spanish.fuzzy, "the catalog header is marked fuzzy: pybabel compile would skip it"
    messages = [m for m in spanish if m.id]
    assert len(messages) > 300
    untranslated = [
        m.id for m in messages if not all(m.string if isinstance(m.string, tuple) else [m.string])
    ]
    assert untranslated == []
    assert [m.id for m in messages if m.fuzzy] == []


def test_translations_keep_every_placeholder():
    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalog().check()]
    assert problems == []


def test_the_catalog_holds_every_string_marked_in_the_code():
    """A string marked after the last `make translations` would show in English to everyone."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, "_l": None}  # what `make translations` extracts
    marked = {
        message[0] if isinstance(message, tuple) else message
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords
        )
    }
    in_catalog = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog() if m.id}
    assert marked - in_catalog == set(), "run `make translations` and translate the new strings"


def test_compiled_catalog_is_built_for_the_tests(compiled_translations):
    assert (compiled_translations / "es" / "LC_MESSAGES" / "messages.mo").stat().st_size > 1000


# --- pages ---------------------------------------------------------------------------------------


def test_sign_in_page_follows_the_browsers_language(client, world):
    spanish = page(client.get("/login", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}))
    assert '<html lang="es">' in spanish
    assert "<h1>Iniciar sesión</h1>" in spanish
    assert "Nombre de usuario" in spanish and "¿Olvidó su contraseña?" in spanish
    english = page(client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}))
    assert '<html lang="en">' in english and "<h1>Sign in</h1>" in english
    # No preference among ours: English.
    assert "<h1>Sign in</h1>" in page(client.get("/login", headers={"Accept-Language": "fr"}))


def test_wrong_password_is_explained_in_spanish(client, world):
    response = client.post_form(
        "/login", {"username": "margaretjones", "password": "not it"}, headers={"Accept-Language": "es"}
    )
    assert response.status_code == 422
    assert "El nombre de usuario y la contraseña no coinciden." in page(response)


def test_spanish_user_sees_the_dashboard_in_spanish(client, world, spanish, visit):
    login(client, "margaretjones")
    html = page(client.get("/dashboard", headers={"Accept-Language": "en"}))  # the setting wins
    assert '<html lang="es">' in html
    assert "<h1>Mi Alpha Home Care</h1>" in html
    assert "Próximas visitas" in html and "Configuración personal" in html
    assert "Cerrar sesión" in html and "Sign out" not in html
    # The upcoming visit: "jue 28 nov, 9:00 a. m. – 11:00 a. m." (Spanish day and month abbreviations).
    assert re.search(
        r"<strong>[a-záé]{3} \d{1,2} [a-z]{3,4}, \d{1,2}:\d\d\u00a0[ap]\.\u202fm\.</strong>", html
    )


def test_english_user_still_sees_english(client, world, spanish, visit):
    login(client, "susanjones")
    html = page(client.get("/dashboard", headers={"Accept-Language": "es"}))  # the setting wins
    assert '<html lang="en">' in html
    assert "<h1>My Alpha Home Care</h1>" in html and "Upcoming visits" in html
    assert re.search(r"<strong>[A-Z][a-z]{2} [A-Z][a-z]{2} \d{1,2}, \d{1,2}:\d\d [AP]M</strong>", html)
    month = page(client.get("/schedule?view=month&date=2026-11-26"))
    assert "November 2026" in month and "Thursday, November 26" in month


def test_schedule_names_months_and_days_in_spanish(client, world, spanish, visit):
    login(client, "margaretjones")
    month = page(client.get("/schedule?view=month&date=2026-11-26"))
    assert "<h1>Mi calendario</h1>" in month
    assert "<h2>noviembre de 2026</h2>" in month
    assert "jueves, 26 de noviembre" in month and "Thursday" not in month
    assert f"9:00{A_M} – 11:00{A_M}" in month
    assert ">Mes</a>" in month and ">Semana</a>" in month and ">Día</a>" in month
    assert "Programada" in month
    week = page(client.get("/schedule?view=week&date=2026-11-30"))
    assert "29 nov – 5 dic 2026" in week and "No hay visitas." in week
    day = page(client.get("/schedule?view=day&date=2026-12-01"))
    assert "martes, 1 de diciembre de 2026" in day and "No hay visitas este día." in day
    fragment = page(client.get("/schedule?view=month&date=2027-01-10", htmx=True))
    assert "<html" not in fragment and "No hay visitas en enero de 2027." in fragment


def test_query_errors_are_explained_in_spanish(client, world, spanish):
    login(client, "margaretjones")
    response = client.get("/schedule?date=2026-02-30")
    assert response.status_code == 400
    assert "Esa fecha no existe. Las fechas se escriben AAAA-MM-DD" in page(response)


def test_short_password_is_refused_in_spanish(client, world, spanish):
    login(client, "margaretjones")
    response = client.post_form(
        "/password/change",
        {"current_password": PASSWORD, "new_password": "too short", "confirm_password": "too short"},
    )
    assert response.status_code == 422
    html = page(response)
    assert "Use al menos 15 caracteres." in html
    assert "Contraseña nueva" in html and "Use at least" not in html


def test_error_page_in_spanish(client, world, spanish):
    login(client, "margaretjones")
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = page(response)
    assert "<h1>No encontramos esa página.</h1>" in html and "Error 404." in html
    assert "Ir a la página de inicio" in html
    english = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert "No encontramos" in page(english)  # a signed-in user's setting beats the browser


def test_anonymous_error_page_follows_the_browser(client, world):
    assert "We could not find that page." in page(client.get("/static/nope.css"))
    response = client.get("/login/nope", headers={"Accept-Language": "es"})
    assert response.status_code == 404 and "No encontramos esa página." in page(response)


def test_choosing_spanish_in_settings_switches_the_portal(app, client, world):
    login(client, "margaretjones")
    response = client.post_form("/profile/settings", {"language": "es", "time_zone": ""}, follow=True)
    html = page(response)
    assert '<html lang="es">' in html and "<h1>Configuración personal</h1>" in html
    assert "Verificación en dos pasos" in html


def test_spanish_labels_are_escaped_like_english_ones(client, world):
    """Lazy labels print through Jinja's escaping: an apostrophe stays an entity in the HTML."""
    login(client, "admin")
    response = client.post_form("/admin/settings", {"version": "1", "name": ""})
    assert response.status_code == 422
    assert "Enter the agency&#39;s name." in response.get_data(as_text=True)


# --- mail and feed -------------------------------------------------------------------------------


def test_reset_mail_is_written_in_the_recipients_language(app, client, world, spanish):
    client.post_form(
        "/password/forgot",
        {"username": "margaretjones", "method": "email"},
        headers={"Accept-Language": "en"},
    )
    deliver_resets(app)
    with in_app(app) as session:
        mail = session.scalar(select(OutboxMail).where(OutboxMail.to_address == world.margaret.email))
    assert mail.subject == "Restablezca su contraseña del portal de Alpha Home Care"
    assert mail.body_text.startswith("Hola, Margaret:\n\n")
    assert "Funciona una sola vez:" in mail.body_text


def test_office_mail_stays_in_the_offices_language(app, client, world, spanish):
    login(client, "margaretjones")
    client.post_form(
        "/schedule/requests/new",
        {
            "date": (datetime.now(UTC) + timedelta(days=3)).date().isoformat(),
            "start_time": "10:00",
            "end_time": "11:00",
            "care_needed": "Ayuda con el baño",
        },
    )
    with in_app(app) as session:
        mail = session.scalar(select(OutboxMail).where(OutboxMail.to_address == world.a.contact_email))
    assert mail.subject == "New schedule request for Margaret Jones"


def test_calendar_feed_speaks_the_subscribers_language(client, world, spanish, visit):
    login(client, "margaretjones")
    html = client.post_form("/profile/settings/calendar-feed", token_from="/profile/settings").get_data(
        as_text=True
    )
    path = re.search(r'id="feed-url"[^>]*value="http://[^/]+([^"]+)"', html).group(1)
    body = client.application.test_client().get(path).get_data(as_text=True)
    assert "SUMMARY:Visita de cuidado — Ana" in body
    assert "X-WR-CALNAME:Visitas de Alpha Home Care" in body
