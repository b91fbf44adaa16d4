"""No 500 on hostile input, on any route: ids past the database's range, control characters.

The walks are built from `app.url_map` (with the helpers of test_routes.py), so a new route is
covered the day it is added. Each route is visited by the user who may use it — office staff
under /admin/, Margaret on portal pages, nobody on public ones — so the answer comes from the
input rules (app/web/input_guard.py) and not from a fence in front of them:

- every `<int:…>` argument past 2**31-1 (PostgreSQL's integer) answers 404;
- a NUL or another control character in a query parameter, a path segment, a form field's value
  or name, or an upload's file name answers 400 with the message saying what to remove.

Both engines run this file; PostgreSQL is where a NUL used to reach the database and raise.
"""

import io
from datetime import timedelta
from urllib.parse import quote

import pytest
from werkzeug.exceptions import NotFound

from app.extensions import limiter
from app.models import ScheduleRequest, User, utcnow
from app.web.input_guard import MAX_ID
from app.web.tenancy import enter_request_scope, get_scoped_or_404, leave_request_scope
from tests.conftest import HOST_A, PASSWORD, Factory, build_world, csrf_token, get_one, login
from tests.test_routes import (
    _MAP_APP,
    ADMIN_BLUEPRINTS,
    ARG_RE,
    PUBLIC,
    SAMPLE,
    _arguments,
    _blueprint,
    _method,
    _rule,
    _rules,
    _sign_in,
)


@pytest.fixture(scope="module")
def world(module_rows):
    """The conftest world, built once for the module's walks (each test rolls back to it)."""
    return build_world(Factory(module_rows))


ADDRESS_REFUSED = "The web address contains an invisible control character (such as a NUL byte)."
FORM_REFUSED = "The form contains an invisible control character (such as a NUL byte) that cannot be stored."
HUGE_IDS = [2**31, 2**63, 2**64, 9999999999999999999999]
CONTROLS = ["\x00", "\x01"]
# Query parameters some view reads (and one none does).
QUERY_NAMES = ["q", "username", "client", "date", "view", "next", "show", "page"]
# Names of the fields the app's forms show, so each view's own form reads the hostile value.
FIELD_NAMES = [
    "username",
    "password",
    "first_name",
    "last_name",
    "email",
    "phone",
    "care_needed",
    "notes",
    "name",
    "address",
    "message_template",
    "staff_note",
    "new_password",
    "current_password",
    "answer",
    "code",
    "temporary_password",
    "date",
    "start_time",
    "end_time",
    "decision",
    "client_id",
    "body",
    "done",
    "picture",
    "relationship",
    "sections",
    "confirm_password",
]


def _walker(rule) -> str | None:
    """Who may use the route: None (anonymous) for public routes."""
    if rule.endpoint in PUBLIC:
        return None
    return "admin" if _blueprint(rule) in ADMIN_BLUEPRINTS else "margaretjones"


def _start(client, rule) -> str:
    """Sign in as the route's user; the session's CSRF token."""
    username = _walker(rule)
    return _sign_in(client, username) if username else csrf_token(client, "/login")


def _path(rule, number=1, text=None) -> str:
    """The rule's path with `number` for int arguments and `text` (or a sample) for the others."""

    def value(match):
        converter = match["converter"] or "string"
        if converter == "int":
            return str(number)
        if text is not None and converter in ("string", "path"):
            return quote(text, safe="")
        return str(SAMPLE.get(converter, "sample"))

    return ARG_RE.sub(value, rule.rule)


def _send(client, method, path, token, data=None, **kw):
    headers = {"X-CSRFToken": token}
    if method == "GET":
        return client.get(path, headers=headers, **kw)
    return client.open(path, method=method, headers=headers, data={"csrf_token": token, **(data or {})}, **kw)


def _assert_refused(response, message, what):
    assert response.status_code == 400, f"{what} → {response.status}"
    assert message in response.get_data(as_text=True), what


def _has_int(rule) -> bool:
    return any(converter == "int" for _, converter in _arguments(rule))


def _has_text(rule) -> bool:
    return any(converter in ("string", "path") for _, converter in _arguments(rule))


# --- the walk: every route, as the user who may use it ------------------------------------------


def _int_ids_are_bounded(client, rule, method, token):
    # The largest id the database holds still reaches the view (and finds nothing, or a placeholder).
    assert _send(client, method, _path(rule, MAX_ID), token).status_code < 500
    for number in HUGE_IDS:
        response = _send(client, method, _path(rule, number), token)
        assert response.status_code == 404, f"{method} {_path(rule, number)} → {response.status}"


def _query_controls_are_refused(client, rule, method, token):
    for name in QUERY_NAMES:
        for char in CONTROLS:
            response = _send(client, method, _path(rule), token, query_string={name: f"a{char}b"})
            _assert_refused(response, ADDRESS_REFUSED, f"{method} {rule.rule}?{name}={char!r}")


def _path_controls_are_refused(client, rule, method, token):
    for char in CONTROLS:
        path = _path(rule, text=f"a{char}b")
        _assert_refused(_send(client, method, path, token), ADDRESS_REFUSED, f"{method} {path!r}")


def _form_controls_are_refused(client, rule, token):
    path = _path(rule)
    for hostile in FIELD_NAMES:
        data = {name: "x\x00y" if name == hostile else "x" for name in FIELD_NAMES}
        limiter.reset()  # sign-in routes count posts; every one of these must reach the check
        _assert_refused(_send(client, "POST", path, token, data), FORM_REFUSED, f"POST {path} {hostile}")
    _assert_refused(_send(client, "POST", path, token, {"na\x00me": "x"}), FORM_REFUSED, f"POST {path} name")


def test_the_walk_covers_ids_path_text_and_forms():
    rules = list(_MAP_APP.url_map.iter_rules())
    assert sum(_has_int(r) for r in rules) >= 8
    assert sum(_has_text(r) for r in rules) >= 3
    assert sum("POST" in r.methods for r in rules) >= 10


@pytest.mark.parametrize(("endpoint", "rule_text"), _rules())
def test_hostile_input_on_every_route_is_refused_without_error(app, client, world, endpoint, rule_text):
    """One walk per route (one set of fixtures): huge ids, control characters in the query string,
    in text path segments, and in every form field's value and name."""
    rule = _rule(app, endpoint, rule_text)
    token = _start(client, rule)
    method = _method(rule)
    if _has_int(rule):
        _int_ids_are_bounded(client, rule, method, token)
    _query_controls_are_refused(client, rule, method, token)
    if _has_text(rule):
        _path_controls_are_refused(client, rule, method, token)
    if "POST" in rule.methods:
        _form_controls_are_refused(client, rule, token)


# --- ids past the database's range, where they were found --------------------------------------


def test_caregiver_photo_with_an_id_past_2_64_is_404(client, world):
    login(client, "margaretjones")
    response = client.get("/schedule/caregivers/18446744073709551616/photo")
    assert response.status_code == 404
    assert "We could not find that page." in response.get_data(as_text=True)


def test_admin_person_with_an_id_past_2_63_is_404_for_every_action(client, world):
    token = _sign_in(client, "admin")
    base = "/admin/people/9223372036854775808"
    assert client.get(base).status_code == 404
    for action in ("credentials", "lock", "reset-email", "temporary-password"):
        response = _send(client, "POST", f"{base}/{action}", token, {"temporary_password": PASSWORD})
        assert response.status_code == 404, action


def test_an_id_has_one_spelling_in_ascii_digits(client, world):
    login(client, "admin")
    own = world.staff_a.id
    assert client.get(f"/admin/people/{own}").status_code == 200
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in str(own))  # int() would read these
    assert client.get(f"/admin/people/{arabic_indic}").status_code == 404


@pytest.mark.parametrize("value", [str(2**31), str(2**63), "9" * 5000, "1_0", "١"])
def test_client_query_past_the_range_is_404(client, world, value):
    login(client, "margaretjones")
    assert client.get(f"/dashboard?client={value}").status_code == 404


@pytest.mark.parametrize("value", [str(2**31), str(2**63), "9" * 5000, "-1", " 1"])
def test_scoped_lookup_refuses_ids_past_the_range(app, world, value):
    """Ids from forms reach `get_scoped_or_404` as text; past the range it answers 404, no query."""
    with app.test_request_context("/", headers={"Host": HOST_A}):
        enter_request_scope()
        try:
            with pytest.raises(NotFound):
                get_scoped_or_404(User, value)
            assert get_scoped_or_404(User, str(world.staff_a.id)).username == "admin"
        finally:
            leave_request_scope()


def test_huge_choice_in_office_settings_is_refused_beside_the_field(app, client, world):
    token = _sign_in(client, "admin")
    data = {
        "version": "1",
        "name": "Alpha Home Care",
        "time_zone": "America/Chicago",
        "schedule_request_recipient_id": str(2**63),
        "schedule_request_horizon_days": "9" * 5000,
        "session_idle_minutes": "15",
        "payment_gateway": "none",
    }
    response = _send(client, "POST", "/admin/settings", token, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Not a valid choice." in page
    assert "Not a valid integer value." in page


def test_huge_client_choice_for_a_new_person_is_refused_beside_the_field(app, client, world):
    token = _sign_in(client, "admin")
    data = {
        "first_name": "Nora",
        "last_name": "Hill",
        "role": "portal",
        "client_id": str(2**63),
        "relationship": "self",
        "access": "temporary",
        "temporary_password": PASSWORD,
    }
    response = _send(client, "POST", "/admin/people/new", token, data)
    assert response.status_code == 422
    assert "Not a valid choice." in response.get_data(as_text=True)
    assert get_one(app, User, username="norahill") is None


# --- what the person sees, and what still passes -----------------------------------------------


def test_nul_in_the_login_name_says_what_to_remove_and_signing_in_still_works(client, world):
    response = client.post_form("/login", {"username": "margaret\x00jones", "password": PASSWORD})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<html" in page
    assert FORM_REFUSED + " Remove it and try again." in page
    assert login(client, "margaretjones").status_code == 303


def test_htmx_gets_the_message_as_a_fragment(client, world):
    response = client.post_form("/login", {"username": "\x00", "password": "x"}, htmx=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<html" not in page and 'id="error"' in page
    assert FORM_REFUSED in page


def test_the_message_is_in_spanish_for_a_spanish_browser(client, world):
    headers = {"Accept-Language": "es"}
    response = client.post_form("/login", {"username": "\x00", "password": "x"}, headers=headers)
    assert response.status_code == 400
    assert "El formulario contiene un carácter de control invisible" in response.get_data(as_text=True)
    response = client.get("/password/forgot/question?username=%00", headers=headers)
    assert response.status_code == 400
    assert "La dirección web contiene un carácter de control invisible" in response.get_data(as_text=True)


@pytest.mark.parametrize("char", ["\x7f", "\x85", "\x9f", "\x1b", "\x0b"])
def test_del_and_c1_controls_are_refused_too(client, world, char):
    response = client.post_form("/password/forgot", {"username": f"a{char}"}, token_from="/login")
    _assert_refused(response, FORM_REFUSED, repr(char))


def test_nul_in_an_upload_file_name_is_400(client, world):
    token = _sign_in(client, "margaretjones")
    png = b"\x89PNG\r\n\x1a\n"
    uploads = [(io.BytesIO(png), "fine.png"), (io.BytesIO(png), "photo\x00.png")]  # the second of two
    response = _send(client, "POST", "/profile/settings", token, {"photo": uploads})
    _assert_refused(response, FORM_REFUSED, "file name")


def test_tabs_and_line_breaks_in_multi_line_text_are_kept(app, make, client, world):
    starts = utcnow() + timedelta(days=7)
    row = make.save(
        ScheduleRequest(
            agency_id=world.a.id,
            client_id=world.client_a.id,
            requested_by_id=world.margaret.id,
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            care_needed="Company",
        )
    )
    token = _sign_in(client, "admin")
    note = "Ana will come.\r\n\tShe has a key."
    response = _send(
        client,
        "POST",
        f"/admin/schedule-requests/{row.id}",
        token,
        {"decision": "handled", "staff_note": note},
    )
    assert response.status_code == 303
    assert get_one(app, ScheduleRequest, id=row.id).staff_note == note


@pytest.mark.parametrize(
    "url",
    ["/login?next=%ff", "/password/forgot/question?username=%ff%fe", "/welcome/%ff", "/admin/people/%ff"],
)
def test_invalid_utf8_escapes_are_no_error(client, world, url):
    assert client.get(url).status_code < 500


def test_invalid_utf8_in_a_posted_form_is_no_error(client, world):
    token = csrf_token(client, "/login")
    body = f"username=%ff%fe&password=%c3&csrf_token={token}"
    response = client.post("/login", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code < 500


def test_the_refusal_page_keeps_the_agency_and_the_signed_in_header(client, world):
    login(client, "margaretjones")
    response = client.get("/schedule?view=%00")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert ADDRESS_REFUSED in html and "Alpha Home Care" in html and "Sign out" in html


@pytest.mark.parametrize("path", ["/admin/people/01", "/admin/people/" + "0" * 4000 + "1"])
def test_an_id_has_one_spelling(client, world, path):
    login(client, "admin")
    assert client.get(path).status_code == 404
    assert client.get(f"/admin/people/{world.staff_a.id}").status_code == 200


@pytest.mark.parametrize("value", ["007", "0", " 7", "7 ", "1_0"])
def test_parse_id_takes_plain_digits_only(value):
    from app.web.input_guard import parse_id

    assert parse_id(value) is None
    assert parse_id("7") == 7


def test_a_header_that_does_not_parse_is_not_a_500(client, world):
    """htmx's HX-Current-URL is the sender's to write; "http://[" does not parse as a URL."""
    from datetime import date, timedelta

    login(client, "margaretjones")
    day = (date.today() + timedelta(days=3)).isoformat()
    response = client.post_form(
        "/schedule/requests/new",
        {"date": day, "start_time": "10:00", "end_time": "12:00", "care_needed": "Help"},
        htmx=True,
        headers={"HX-Current-URL": "http://["},
    )
    assert response.status_code == 200
    assert "was sent to the office" in response.get_data(as_text=True)


@pytest.mark.parametrize("code", ["٧٧٧٧٧٧", "１２３４５６", "12 34 5٦"])
def test_two_step_codes_in_other_digits_are_just_wrong(client, world, code):
    login(client, "margaretjones")
    response = client.post_form("/two-step", {"code": code})
    assert response.status_code == 422
    assert "That code does not match." in response.get_data(as_text=True)
