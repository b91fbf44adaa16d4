"""Walks over every route in `app.url_map`: nothing is open by accident, nothing crosses a fence.

The lists are built from the url_map, so a new route is tested the day it is added:

- ROUTE INVENTORY: outside a short public list, an anonymous request is sent to sign in.
- CROSS-AGENCY WALK: every route taking an object id, given the id of agency B's object while
  signed in on agency A, answers 404. Object ids are mapped from the argument name (OBJECT_KINDS);
  an argument name nobody mapped fails the test, so whoever adds the route says what it is.
- CROSS-CLIENT WALK: the same for another client of the same agency, and `?client=<not mine>`.
- Staff get 404 on portal pages and portal users get 404 under /admin/.
- Per-user section switches and relationship ceilings close a section's URLs (404) and take it
  off the dashboard.

Pages still marked "not in this version" go through the same lookups, so every walk is strict.
"""

import io
import re
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from PIL import Image
from sqlalchemy import select

from app import create_app
from app.models import (
    Agency,
    CalendarFeedToken,
    Caregiver,
    CarePlan,
    CarePlanTask,
    ClientCaregiver,
    ClientLead,
    ClientLink,
    Conversation,
    ConversationRead,
    Document,
    DocumentCategory,
    Invitation,
    Invoice,
    InvoiceLine,
    LeadAttachment,
    Message,
    Payment,
    ScheduleRequest,
    Signature,
    Task,
    Visit,
    VisitSeries,
    VisitTask,
    utcnow,
)
from app.services import storage
from app.web.access import AGENCY_FREE_ENDPOINTS
from tests.conftest import HOST_A, Factory, build_world, csrf_token, get_one, in_app, login

# Widening this list must be a deliberate change: the views marked @public must be exactly these.
PUBLIC = {
    "static",
    "health.healthz",
    "auth.login",
    "auth.welcome",
    "auth.forgot",
    "auth.forgot_question",
    "auth.reset",
    "auth.email_link",
    "auth.link_sign_in",
    "auth.two_step",
    "schedule.feed",
    "profile.confirm_email",  # the link mailed to a new address: its signed one-time token is the key
    "auth.logo",  # the agency's logo in every page's header, sign-in pages too
    "profile.accept_invitation",  # a family invitation's one-time link: its signed token is the key
    "invoices.stripe_webhook",  # Stripe's calls: its signature (STRIPE_WEBHOOK_SECRET) is the key
}
# Public, but only meaningful after the password step: without one it sends the visitor to sign in.
PUBLIC_AFTER_PASSWORD = {"auth.two_step"}
ADMIN_BLUEPRINTS = {"admin"}
PORTAL_BLUEPRINTS = {
    "dashboard",
    "schedule",
    "invoices",
    "signatures",
    "profile",
    "messages",
    "careplan",
    "documents",
}
# Portal pages that are about the user, not about one client: `?client=` means nothing there.
CLIENT_AGNOSTIC = {
    "profile.contact",
    "profile.picture",
    "profile.picture_image",
    "profile.settings",
    "messages.unread_count",
}

# URL argument name → the kind of object it names (a key of the object graph built below).
OBJECT_KINDS = {
    "client": "client",
    "client_id": "client",
    "user_id": "user",
    "link_id": "link",
    "caregiver_id": "caregiver",
    "task_id": "task",
    "visit_id": "visit",
    "visit_task_id": "visit_task",
    "signature_id": "signature",
    "invoice_id": "invoice",
    "line_id": "invoice_line",
    "invoice_line_id": "invoice_line",
    "payment_id": "payment",
    "document_id": "document",
    "category_id": "category",
    "conversation_id": "conversation",
    "thread_id": "conversation",
    "message_id": "message",
    "request_id": "schedule_request",
    "schedule_request_id": "schedule_request",
    "care_plan_id": "care_plan",
    "plan_id": "care_plan",
    "lead_id": "lead",
    "attachment_id": "lead_attachment",
    "feed_id": "feed_token",
    "token_id": "feed_token",
    "invitation_id": "invitation",
    "series_id": "series",
}
# A bare `<int:id>` means the blueprint's own object.
BARE_ID_KINDS = {
    "invoices": "invoice",
    "documents": "document",
    "messages": "conversation",
    "signatures": "visit",
}
# Not object ids even though they may be ints (none yet). Add here with a reason.
NOT_OBJECT_ARGS: dict[str, str] = {}

ARG_RE = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


# --- reading the url_map ------------------------------------------------------------------------

# A throwaway app (no database touched) so parametrisation happens at collection time.
_MAP_APP = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://")


def _method(rule) -> str:
    methods = rule.methods - {"HEAD", "OPTIONS"}
    if "GET" in methods:
        return "GET"
    if "POST" in methods:
        return "POST"
    return sorted(methods)[0]


def _arguments(rule) -> list[tuple[str, str]]:
    return [(m["name"], m["converter"] or "string") for m in ARG_RE.finditer(rule.rule)]


def _blueprint(rule) -> str:
    return rule.endpoint.rpartition(".")[0]


def _object_kind(rule, name: str, converter: str) -> str | None:
    """The object kind an argument names, None when it is no object id; fails for an unknown name."""
    if name in NOT_OBJECT_ARGS:
        return None
    if name in OBJECT_KINDS:
        return OBJECT_KINDS[name]
    if name == "id" and _blueprint(rule) in BARE_ID_KINDS:
        return BARE_ID_KINDS[_blueprint(rule)]
    if converter == "int" or name == "id" or name.endswith("_id"):
        pytest.fail(
            f"{rule.endpoint} {rule.rule}: URL argument {name!r} looks like an object id but test_routes.py "
            "does not know its kind; add it to OBJECT_KINDS (and the object graph) or NOT_OBJECT_ARGS"
        )
    return None


def _takes_object_id(rule) -> bool:
    return any(
        converter == "int" or name == "id" or name.endswith("_id") or name in OBJECT_KINDS
        for name, converter in _arguments(rule)
    )


def _rules(predicate=lambda rule: True):
    rules = sorted(_MAP_APP.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
    return [pytest.param(r.endpoint, r.rule, id=f"{r.endpoint}:{r.rule}") for r in rules if predicate(r)]


def _rule(app, endpoint, rule_text):
    for rule in app.url_map.iter_rules(endpoint):
        if rule.rule == rule_text:
            return rule
    raise AssertionError(f"{endpoint} {rule_text} is not in the app's url_map")


SAMPLE = {"int": 1, "float": 1.5, "uuid": "00000000-0000-4000-8000-000000000001", "path": "sample/x"}


def _url(rule, ids=None, query=None) -> str:
    """The rule's path with object ids from `ids` (kind → id) and harmless samples elsewhere."""

    def value(match):
        name, converter = match["name"], match["converter"] or "string"
        kind = _object_kind(rule, name, converter) if ids is not None else None
        if kind is not None:
            if kind not in ids:
                pytest.fail(f"the object graph has no {kind!r} for {rule.endpoint}")
            return str(ids[kind])
        if converter == "any":
            return re.search(r"any\(([^,)]+)", match.group(0)).group(1).strip("'\" ")
        return str(SAMPLE.get(converter, "sample"))

    path = ARG_RE.sub(value, rule.rule)
    return f"{path}?{query}" if query else path


def _is_login_redirect(response) -> bool:
    return (
        response.status_code in (302, 303) and urlsplit(response.headers.get("Location", "")).path == "/login"
    )


def _request(client, method, url, *, token=None, htmx=False):
    if method == "GET":
        return client.get(url, htmx=htmx)
    headers = {"HX-Request": "true"} if htmx else {}
    if token:
        headers["X-CSRFToken"] = token
    return client.open(url, method=method, headers=headers, data={"csrf_token": token} if token else {})


# --- an object of every kind for a client -------------------------------------------------------


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "white").save(buffer, "PNG")
    return buffer.getvalue()


def build_graph(app, agency, client, portal_user, staff) -> dict[str, int]:
    """One object of each kind belonging to `client` (and so to its agency); kind → id."""
    now = utcnow()
    aid, cid, uid = agency.id, client.id, portal_user.id
    ids = {"client": cid, "user": uid}

    with in_app(app) as session:

        def add(kind, obj):
            session.add(obj)
            session.flush()
            if kind:
                ids[kind] = obj.id
            return obj.id

        ids["link"] = session.scalar(
            select(ClientLink.id).where(ClientLink.user_id == uid, ClientLink.client_id == cid)
        )
        photo = storage.put(agency, _png(), "image/png").id
        caregiver = add(
            "caregiver",
            Caregiver(agency_id=aid, first_name="Care", last_name=f"Giver{cid}", photo_file_id=photo),
        )
        task = add("task", Task(agency_id=aid, name="Companionship"))
        add(None, ClientCaregiver(agency_id=aid, client_id=cid, caregiver_id=caregiver))

        def visit(kind, days, **kw):
            starts = now + timedelta(days=days)
            return add(
                kind,
                Visit(
                    agency_id=aid,
                    client_id=cid,
                    caregiver_id=caregiver,
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=2),
                    **kw,
                ),
            )

        done = visit(
            "visit",
            -2,
            status="completed",
            clock_in_at=now - timedelta(days=2),
            clock_out_at=now - timedelta(days=2, hours=-2),
        )
        signed = visit("signed_visit", -3, status="completed")
        visit("upcoming_visit", 2)
        add(
            "series",
            VisitSeries(
                agency_id=aid,
                client_id=cid,
                weekdays="1,3,5",
                start_time="09:00",
                minutes=120,
                first_day=now.date(),
            ),
        )
        add("visit_task", VisitTask(agency_id=aid, visit_id=done, task_id=task, status="done"))
        add(
            "signature",
            Signature(
                agency_id=aid,
                visit_id=signed,
                signer_id=uid,
                method="typed",
                typed_name=portal_user.display_name,
                facts_hash="0" * 64,
            ),
        )
        invoice = add(
            "invoice",
            Invoice(
                agency_id=aid,
                client_id=cid,
                number=f"INV-{cid}",
                status="issued",
                total_cents=20_000,
                issued_at=now,
                due_on=date.today(),
                period_start=date.today() - timedelta(days=14),
                period_end=date.today(),
            ),
        )
        add(
            "invoice_line",
            InvoiceLine(
                agency_id=aid, invoice_id=invoice, visit_id=done, description="Visit", amount_cents=20_000
            ),
        )
        add(
            "payment",
            Payment(
                agency_id=aid, invoice_id=invoice, amount_cents=5_000, method="check", recorded_by_id=staff.id
            ),
        )
        category = add("category", DocumentCategory(agency_id=aid, name="Caregiver Forms"))
        add(
            "document",
            Document(
                agency_id=aid,
                client_id=cid,
                category_id=category,
                title="Welcome pack",
                filename="welcome.pdf",
                file_id=storage.put(agency, b"%PDF-1.4", "application/pdf").id,
            ),
        )
        conversation = add(
            "conversation", Conversation(agency_id=aid, client_id=cid, subject="Hello", started_by_id=uid)
        )
        add(
            "message",
            Message(
                agency_id=aid, conversation_id=conversation, sender_id=staff.id, body="Hello from the office"
            ),
        )
        add(
            None, ConversationRead(agency_id=aid, conversation_id=conversation, user_id=uid, last_read_at=now)
        )
        add(
            "schedule_request",
            ScheduleRequest(
                agency_id=aid,
                client_id=cid,
                requested_by_id=uid,
                starts_at=now + timedelta(days=7),
                ends_at=now + timedelta(days=7, hours=2),
                care_needed="Company for an afternoon",
            ),
        )
        care_plan = add("care_plan", CarePlan(agency_id=aid, client_id=cid, frequency="Twice a week"))
        add(None, CarePlanTask(agency_id=aid, care_plan_id=care_plan, task_id=task))
        lead = add("lead", ClientLead(agency_id=aid, first_name="Lena", last_name=f"Lead{cid}"))
        add(
            "lead_attachment",
            LeadAttachment(
                agency_id=aid,
                lead_id=lead,
                filename="note.txt",
                file_id=storage.put(agency, b"hi", "text/plain").id,
            ),
        )
        add("feed_token", CalendarFeedToken(agency_id=aid, user_id=uid, token_hash=f"{cid:064d}"))
        add(
            "invitation",
            Invitation(
                agency_id=aid,
                client_id=cid,
                invited_by_id=uid,
                first_name="Ivy",
                last_name=f"Invited{cid}",
                email=f"ivy{cid}@example.com",
                relationship_kind="emergency_contact",
                sections=["schedule"],
            ),
        )
        session.commit()
    return ids


@pytest.fixture(scope="module")
def world(module_rows):
    """The conftest world, built once for the module's hundreds of walks (each rolls back to it)."""
    return build_world(Factory(module_rows))


@pytest.fixture(scope="module")
def graphs(module_rows, world):
    """Objects for Margaret (signed in), Harold (same agency, other client) and Alice (agency B)."""
    app = module_rows
    agency_a = get_one(app, Agency, id=world.a.id)
    agency_a.payment_gateway = "stripe"  # so a pay page exists for Margaret's own invoice
    Factory(app).save(agency_a)
    return {
        "own": build_graph(app, world.a, world.client_a, world.margaret, world.staff_a),
        "other_client": build_graph(app, world.a, world.client_a2, world.harold, world.staff_a),
        "other_agency": build_graph(app, world.b, world.client_b, world.alice, world.staff_b),
    }


def _sign_in(client, username):
    assert login(client, username).status_code == 303, f"{username} could not sign in"
    return csrf_token(client, "/password/change")


# --- (a) route inventory ------------------------------------------------------------------------


def test_public_list_is_the_one_the_app_uses():
    """The @public marks (app/web/access.py) are the app's one list; this test names it again on
    purpose, so that opening a view to everyone is a change someone reviews."""
    marked = {e for e, view in _MAP_APP.view_functions.items() if getattr(view, "is_public", False)}
    assert marked | AGENCY_FREE_ENDPOINTS == PUBLIC


def test_every_route_belongs_to_a_known_area():
    unknown = {
        rule.endpoint
        for rule in _MAP_APP.url_map.iter_rules()
        if rule.endpoint not in PUBLIC
        and _blueprint(rule) not in ADMIN_BLUEPRINTS | PORTAL_BLUEPRINTS | {"auth"}
    }
    assert unknown == set(), "say in test_routes.py whether these are admin, portal or auth routes"


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize(("endpoint", "rule_text"), _rules(lambda r: r.endpoint not in PUBLIC))
def test_anonymous_request_is_sent_to_sign_in(app, client, world, endpoint, rule_text, htmx):
    rule = _rule(app, endpoint, rule_text)
    method = _method(rule)
    token = csrf_token(client, "/login") if method != "GET" else None
    response = _request(client, method, _url(rule), token=token, htmx=htmx)
    if htmx:
        assert response.status_code == 401, response.status
        assert urlsplit(response.headers.get("HX-Redirect", "")).path == "/login"
    else:
        assert _is_login_redirect(response), (response.status, response.headers.get("Location"))


@pytest.mark.parametrize(("endpoint", "rule_text"), _rules(lambda r: r.endpoint in PUBLIC))
def test_public_routes_answer_anonymous_requests_without_error(app, client, world, endpoint, rule_text):
    rule = _rule(app, endpoint, rule_text)
    response = _request(client, "GET", _url(rule))
    assert response.status_code < 500
    assert _is_login_redirect(response) == (endpoint in PUBLIC_AFTER_PASSWORD)


# --- (b) cross-agency and cross-client walks ----------------------------------------------------


def _walker(rule, world):
    area = _blueprint(rule)
    if area in ADMIN_BLUEPRINTS:
        return world.staff_a.username
    if area in PORTAL_BLUEPRINTS:
        return world.margaret.username
    pytest.fail(f"{rule.endpoint}: say in test_routes.py who may use routes of {area!r}")


def _walk(app, client, world, graphs, endpoint, rule_text, whose):
    rule = _rule(app, endpoint, rule_text)
    token = _sign_in(client, _walker(rule, world))
    method = _method(rule)
    response = _request(client, method, _url(rule, graphs[whose]), token=token)
    assert response.status_code == 404, f"{method} {_url(rule, graphs[whose])} → {response.status}"
    if method == "GET":
        # Control: the same URL with the user's own objects is not a 404, so the 404 above came
        # from the fence and not from a broken route or a user who may see nothing.
        own = client.get(_url(rule, graphs["own"]))
        assert own.status_code != 404, (
            f"{endpoint} answers 404 for the signed-in user's own objects too; fix the object graph in "
            "test_routes.py so the walk proves something"
        )


OBJECT_RULES = _rules(lambda r: r.endpoint not in PUBLIC and _takes_object_id(r))


@pytest.mark.parametrize(("endpoint", "rule_text"), OBJECT_RULES)
def test_cross_agency_object_is_404(app, client, world, graphs, endpoint, rule_text):
    _walk(app, client, world, graphs, endpoint, rule_text, "other_agency")


@pytest.mark.parametrize(
    ("endpoint", "rule_text"),
    _rules(lambda r: r.endpoint not in PUBLIC and _takes_object_id(r) and _blueprint(r) in PORTAL_BLUEPRINTS),
)
def test_cross_client_object_is_404(app, client, world, graphs, endpoint, rule_text):
    _walk(app, client, world, graphs, endpoint, rule_text, "other_client")


def test_object_graph_covers_every_mapped_kind(graphs):
    kinds = set(OBJECT_KINDS.values()) | set(BARE_ID_KINDS.values())
    for name, ids in graphs.items():
        assert kinds <= set(ids), name


CLIENT_PAGES = _rules(
    lambda r: (
        _blueprint(r) in PORTAL_BLUEPRINTS
        and r.endpoint not in PUBLIC | CLIENT_AGNOSTIC
        and _method(r) == "GET"
        and not _arguments(r)
    )
)


@pytest.mark.parametrize("whose", ["other_client", "other_agency"])
@pytest.mark.parametrize(("endpoint", "rule_text"), CLIENT_PAGES)
def test_client_query_outside_reach_is_404(app, client, world, endpoint, rule_text, whose):
    rule = _rule(app, endpoint, rule_text)
    other = {"other_client": world.client_a2, "other_agency": world.client_b}[whose]
    _sign_in(client, "margaretjones")
    assert client.get(_url(rule, query=f"client={world.client_a.id}")).status_code != 404
    response = client.get(_url(rule, query=f"client={other.id}"))
    assert response.status_code == 404, response.status


@pytest.mark.parametrize("value", ["abc", "-1", "999999", "1.5", "", "all"])
def test_malformed_client_query_is_404_not_500(client, world, value):
    _sign_in(client, "margaretjones")
    assert client.get(f"/dashboard?client={value}").status_code == 404


@pytest.mark.parametrize(
    ("endpoint", "rule_text"),
    _rules(lambda r: _blueprint(r) in PORTAL_BLUEPRINTS and r.endpoint not in PUBLIC),
)
def test_staff_get_404_on_portal_pages(app, client, world, graphs, endpoint, rule_text):
    rule = _rule(app, endpoint, rule_text)
    token = _sign_in(client, "admin")
    response = _request(client, _method(rule), _url(rule, graphs["own"]), token=token)
    if endpoint == "dashboard.index":  # the home page sends staff to their own area
        assert urlsplit(response.headers.get("Location", "")).path == "/admin/"
    else:
        assert response.status_code == 404, response.status


@pytest.mark.parametrize(("endpoint", "rule_text"), _rules(lambda r: _blueprint(r) in ADMIN_BLUEPRINTS))
@pytest.mark.parametrize("username", ["margaretjones", "robertjones", "paulsmith"])
def test_portal_users_get_404_under_admin(app, client, world, graphs, endpoint, rule_text, username):
    rule = _rule(app, endpoint, rule_text)
    token = _sign_in(client, username)
    response = _request(client, _method(rule), _url(rule, graphs["own"]), token=token)
    assert response.status_code == 404, response.status


# --- (c) section switches and relationship ceilings ---------------------------------------------

# The URL contract's paths per section; "{invoice}" is the user's own outstanding invoice.
SECTION_PATHS = {
    "schedule": [
        "/schedule",
        "/schedule/print",
        "/schedule.pdf",
        "/schedule/requests",
        "/schedule/requests/new",
    ],
    "schedule_requests": ["/schedule/requests", "/schedule/requests/new"],
    "invoices": ["/invoices", "/invoices/{invoice}", "/invoices/{invoice}.pdf"],
    "payments": ["/invoices/{invoice}/pay"],
    "signatures": ["/signatures"],
    "messages": ["/messages", "/messages/new", "/messages/unread-count"],
    "documents": ["/documents"],
    "care_plan": ["/care-plan", "/care-plan/print"],
}
SWITCH_OF = {
    "schedule": "show_schedule",
    "schedule_requests": "show_schedule_requests",
    "invoices": "show_invoices",
    "payments": "show_payments",
    "signatures": "show_signatures",
    "messages": "show_messages",
    "documents": "show_documents",
}
# Where the dashboard links to a section (href, hx-get or form action).
DASHBOARD_LINKS = {
    "schedule": "/schedule",
    "schedule_requests": "/schedule/requests",
    "invoices": "/invoices",
    "signatures": "/signatures",
    "messages": "/messages",
    "documents": "/documents",
    "care_plan": "/care-plan",
}


def _routed(app, path) -> bool:
    from werkzeug.exceptions import MethodNotAllowed, NotFound

    try:
        app.url_map.bind(HOST_A).match(urlsplit(path).path, method="GET")
    except NotFound:
        return False
    except MethodNotAllowed:
        return True
    return True


def _set_link(app, make, user, client, **values):
    link = get_one(app, ClientLink, user_id=user.id, client_id=client.id)
    if link is None:
        return
    for name, value in values.items():
        setattr(link, name, value)
    make.save(link)


def _links_to(html, path) -> bool:
    return re.search(rf'(?:href|hx-get|action)="{re.escape(path)}(?:["?#/.])', html) is not None


def _section_cases():
    cases = []
    for section, paths in SECTION_PATHS.items():
        for path in paths:
            cases.append(pytest.param(section, path, id=f"{section}:{path}"))
    return cases


def _fill(path, graphs):
    return path.format(invoice=graphs["own"]["invoice"])


@pytest.mark.parametrize(("section", "path"), [c for c in _section_cases() if c.values[0] in SWITCH_OF])
def test_switched_off_section_answers_404(app, client, make, world, graphs, section, path):
    url = _fill(path, graphs)
    if not _routed(app, url):
        pytest.skip(f"{path} is not built yet")
    _sign_in(client, "margaretjones")
    before = client.get(url)
    assert before.status_code != 404, f"{url} is 404 even with {section} switched on"
    _set_link(app, make, world.margaret, world.client_a, **{SWITCH_OF[section]: False})
    after = client.get(url)
    assert after.status_code == 404, after.status


@pytest.mark.parametrize("section", [s for s in SWITCH_OF if s in DASHBOARD_LINKS])
def test_switched_off_section_leaves_the_dashboard(app, client, make, world, graphs, section):
    _sign_in(client, "margaretjones")
    html = client.get("/dashboard").get_data(as_text=True)
    if section != "schedule_requests":  # the dashboard need not link to the request list
        assert _links_to(html, DASHBOARD_LINKS[section]), f"the dashboard has no {section} link to begin with"
    _set_link(app, make, world.margaret, world.client_a, **{SWITCH_OF[section]: False})
    response = client.get("/dashboard")
    assert response.status_code == 200
    assert not _links_to(response.get_data(as_text=True), DASHBOARD_LINKS[section])


# (who, link changes, section that must be closed). Ceilings from DESIGN.md: an emergency contact
# never sees the care plan and sees invoices only when ticked; a payer sees schedule, invoices
# (billed to them), payments and messages only; a legal representative sees the care plan only
# when ticked.
CEILING_CASES = [
    ("susanjones", {}, "care_plan"),
    ("susanjones", {"may_view_invoices": False}, "invoices"),
    ("susanjones", {}, "payments"),
    ("robertjones", {}, "care_plan"),
    ("robertjones", {}, "signatures"),
    ("robertjones", {}, "documents"),
    ("robertjones", {}, "schedule_requests"),
    ("paulsmith", {"may_view_care_plan": False}, "care_plan"),
]


@pytest.mark.parametrize(
    ("username", "changes", "section"),
    CEILING_CASES,
    ids=[f"{u}-{s}{'-untick' if c else ''}" for u, c, s in CEILING_CASES],
)
def test_relationship_ceiling_closes_section(app, client, make, world, graphs, username, changes, section):
    user = {u.username: u for u in (world.susan, world.robert, world.paul)}[username]
    for linked_client in (world.client_a, world.client_a2):
        _set_link(app, make, user, linked_client, **changes)
    _sign_in(client, username)
    urls = [_fill(p, graphs) for p in SECTION_PATHS[section]]
    built = [url for url in urls if _routed(app, url)]
    if not built:
        pytest.skip(f"no {section} page is built yet")
    for url in built:
        response = client.get(url)
        assert response.status_code == 404, f"{username} {url} → {response.status}"
    if section in DASHBOARD_LINKS:
        html = client.get("/dashboard").get_data(as_text=True)
        assert not _links_to(html, DASHBOARD_LINKS[section])


def test_ticked_sections_are_open(client, world):
    """The other side of the ceilings: the ticks open what they promise."""
    _sign_in(client, "paulsmith")
    assert client.get("/care-plan").status_code == 200
    client.post_form("/logout", token_from="/password/change")
    _sign_in(client, "susanjones")
    assert client.get("/invoices").status_code == 200
    html = client.get("/dashboard").get_data(as_text=True)
    assert _links_to(html, "/invoices")
