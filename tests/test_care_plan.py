"""The care / service plan: the client, a legal representative the agency ticked, and staff see it;
nobody else does — not on /care-plan, not as a link or count, and not one sentence of it anywhere
an emergency contact or a payer can reach (a crawl of everything they can open, PDFs and the
calendar feed included). Every view is in the client's record log. The office edits the plan;
each save keeps the previous version with who saved it and when, and a save from an older copy
answers 409.
"""

import gzip
import io
import json
import re
from collections import Counter, deque
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from pypdf import PdfReader
from pypdf.errors import PdfReadError as PdfError
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from app.models import (
    Agency,
    AuditEvent,
    Caregiver,
    CarePlan,
    CarePlanTask,
    CarePlanVersion,
    Client,
    ClientLink,
    Task,
    User,
    Visit,
    VisitTask,
    utcnow,
)
from app.services import calendar_feed
from app.services.care_plans import history, save_care_plan
from app.services.links import agency_url
from app.services.record_views import RECORD_VIEWED
from tests.conftest import HOST_A, HOST_B, get_one, in_app, login, recorded_sql, set_columns
from tests.test_routes import build_graph

MARGARET_PLAN = {
    "goals": "Margaret stays safely in her own home. She keeps up her morning routine.",
    "frequency": "Weekdays from nine until noon",
    "special_instructions": "The spare key is with the neighbour at number 420.\n"
    "Margaret likes the radio on during breakfast.",
    "notes": {
        "Bathing": "Shower chair is in the hall closet; help her step in and out.",
        "Meal preparation": "Porridge with honey, never with raisins.",
        "Medication reminder": "",
    },
}
HAROLD_PLAN = {
    "goals": "Harold keeps active and eats a proper supper.",
    "frequency": "Monday, Wednesday and Friday afternoons",
    "special_instructions": "Harold is hard of hearing on the left side.",
    "notes": {"Companionship": "Cards or a walk to the park when the weather allows."},
}
ALICE_PLAN = {
    "goals": "Alice keeps living independently.",
    "frequency": "Weekly",
    "special_instructions": "The cat must not go out onto the balcony.",
    "notes": {"Companionship": "Read the newspaper together."},
}
TASK_NAMES = ("Bathing", "Meal preparation", "Medication reminder", "Companionship", "Laundry")


# --- data ----------------------------------------------------------------------------------------


def save(app, client_id, actor_id, *, goals, frequency, special_instructions, notes, expected="current"):
    """Save a plan through the service, as the office does; task names → notes."""
    with in_app(app) as session:
        client = session.get(Client, client_id)
        agency = session.get(Agency, client.agency_id)
        actor = session.get(User, actor_id)
        by_name = {t.name: t for t in session.scalars(select(Task).where(Task.agency_id == agency.id)).all()}
        if expected == "current":
            plan = session.scalar(select(CarePlan).where(CarePlan.client_id == client_id))
            expected = plan.version if plan else None
        plan, changed = save_care_plan(
            agency,
            actor,
            client,
            goals=goals,
            frequency=frequency,
            special_instructions=special_instructions,
            tasks=[(by_name[name], text) for name, text in notes.items()],
            expected_version=expected,
        )
        session.commit()
        return plan.id, changed


@pytest.fixture
def tasks(make, world):
    made = {name: make.task(world.a, name) for name in TASK_NAMES}
    made["beta"] = make.task(world.b, "Companionship")
    return made


@pytest.fixture
def plans(app, world, tasks):
    """Margaret's and Harold's plans, saved by Sam (the owner); Alice's in agency B."""
    margaret = save(app, world.client_a.id, world.staff_a.id, **MARGARET_PLAN)[0]
    harold = save(app, world.client_a2.id, world.staff_a.id, **HAROLD_PLAN)[0]
    alice = save(app, world.client_b.id, world.staff_b.id, **ALICE_PLAN)[0]
    return type("Plans", (), {"margaret": margaret, "harold": harold, "alice": alice})()


@pytest.fixture
def carol(make, world):
    return make.user(world.a, "carolwhite", role="staff", name="Carol White")


def signed_in(app, username, host=HOST_A):
    other = app.test_client()
    assert login(other, username, host=host).status_code == 303
    return other


def text_of(response) -> str:
    return unescape(response.get_data(as_text=True))


def sentences(plan: dict) -> list[str]:
    """What must never reach someone who may not see the plan: every sentence of the goals, the
    special instructions and the per-visit notes, and the frequency."""
    found = [plan["frequency"]]
    for text in (plan["goals"], plan["special_instructions"], *plan["notes"].values()):
        found += [s.strip(" .;") for s in re.split(r"(?<=[.;!?])\s+|\n", text or "")]
    return [s for s in found if len(s) >= 12]


def views(app, **filters):
    with in_app(app) as session:
        return session.scalars(
            select(AuditEvent).filter_by(action=RECORD_VIEWED, **filters).order_by(AuditEvent.id)
        ).all()


# --- the portal page and its print view ----------------------------------------------------------


def test_the_client_reads_her_plan(app, client, world, plans):
    login(client, "margaretjones")
    response = client.get("/care-plan")
    page = text_of(response)
    assert response.status_code == 200
    for sentence in sentences(MARGARET_PLAN):
        assert sentence in page, sentence
    assert "<strong>Bathing</strong><br>Shower chair is in the hall closet" in page
    assert "<strong>Medication reminder</strong></li>" in page  # a task with no note
    assert "Laundry" not in page  # not on her plan
    assert "Last updated " in page and " by Sam Rivera" in page
    assert 'href="/care-plan/print?client=' in page
    assert "Harold" not in page  # nobody else's plan
    assert len(gzip.compress(response.data)) <= 14 * 1024


def test_the_print_view_is_one_plain_page(app, client, world, plans):
    login(client, "margaretjones")
    response = client.get("/care-plan/print")
    page = text_of(response)
    assert response.status_code == 200
    assert "<script" not in page and "hx-" not in page
    assert "<h1>Care plan of Margaret Jones</h1>" in page
    assert re.search(r'<link rel="stylesheet" href="/static/css/care-plan-print\.[0-9a-f]{12}\.css">', page)
    assert "app." not in page  # not the screen stylesheet: no navigation, no header bar
    assert "Alpha Home Care" in page and "Printed " in page and " by Sam Rivera" in page
    for sentence in sentences(MARGARET_PLAN):
        assert sentence in page, sentence


def test_htmx_gets_the_plan_fragment(client, world, plans):
    login(client, "margaretjones")
    response = client.get("/care-plan", htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and body.lstrip().startswith('<div id="care-plan">')
    assert "Porridge with honey" in body


def test_a_ticked_legal_representative_reads_the_plan(client, world, plans):
    login(client, "paulsmith")
    page = text_of(client.get("/care-plan"))
    for sentence in sentences(HAROLD_PLAN):
        assert sentence in page, sentence
    assert "Margaret" not in page
    assert client.get("/care-plan/print").status_code == 200
    assert client.get(f"/care-plan?client={world.client_a2.id}").status_code == 200
    assert client.get(f"/care-plan?client={world.client_a.id}").status_code == 404


def test_someone_with_two_plans_picks_the_client(app, client, make, world, plans):
    make.link(world.paul, world.client_a, "legal_representative", may_view_care_plan=True)
    login(client, "paulsmith")
    page = text_of(client.get("/care-plan"))
    assert 'name="client"' in page  # the switch
    margaret = text_of(client.get(f"/care-plan?client={world.client_a.id}"))
    assert "Porridge with honey" in margaret and "hard of hearing" not in margaret
    # The choice is remembered, and the print view follows it.
    assert "Porridge with honey" in text_of(client.get("/care-plan/print"))


def test_a_client_without_a_plan_is_told_to_ask_the_office(app, client, world, tasks):
    set_columns(app, Agency, world.a.id, contact_phone="(312) 555-0100")
    login(client, "margaretjones")
    response = client.get("/care-plan")
    page = text_of(response)
    assert response.status_code == 200
    assert "There is no care plan here yet." in page
    assert 'href="tel:(312) 555-0100"' in page
    assert views(app, client_id=world.client_a.id) == []  # nothing was shown, nothing to log
    assert "There is no care plan here yet." in text_of(client.get("/care-plan/print"))


@pytest.mark.parametrize("path", ["/care-plan", "/care-plan/print"])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize(
    ("username", "unticked"),
    [("susanjones", False), ("robertjones", False), ("paulsmith", True), ("admin", False)],
    ids=["emergency-contact", "payer", "unticked-legal-representative", "staff"],
)
def test_nobody_else_gets_the_plan(app, client, world, plans, username, unticked, path, htmx):
    if unticked:
        link = get_one(app, ClientLink, user_id=world.paul.id)
        set_columns(app, ClientLink, link.id, may_view_care_plan=False)
    login(client, username)
    for url in (path, f"{path}?client={world.client_a.id}", f"{path}?client={world.client_a2.id}"):
        response = client.get(url, htmx=htmx)
        assert response.status_code == 404, (username, url)
        body = text_of(response)
        assert "Porridge" not in body and "hard of hearing" not in body
    if username != "admin":
        assert not re.search(r'(href|hx-get|action)="/care-plan', text_of(client.get("/dashboard")))


def test_another_agencys_plan_is_404(client, world, plans):
    login(client, "margaretjones")
    assert client.get(f"/care-plan?client={world.client_b.id}").status_code == 404
    assert client.get(f"/care-plan/print?client={world.client_b.id}").status_code == 404
    other = signed_in(client.application, "alicebrown", host=HOST_B)
    assert other.get("/care-plan", host=HOST_B).status_code == 200
    assert other.get(f"/care-plan?client={world.client_a.id}", host=HOST_B).status_code == 404
    staff = signed_in(client.application, "admin")
    assert staff.get(f"/admin/care-plans/{world.client_b.id}").status_code == 404
    assert staff.get(f"/admin/care-plans/{world.client_b.id}/history").status_code == 404


def test_every_view_is_recorded(app, client, world, plans):
    login(client, "margaretjones")
    client.get("/care-plan")
    client.get("/care-plan/print")
    signed_in(app, "paulsmith").get("/care-plan")
    staff = signed_in(app, "admin")
    staff.get(f"/admin/care-plans/{world.client_a.id}")
    staff.get(f"/admin/care-plans/{world.client_a.id}/history")
    staff.get("/admin/care-plans")  # a list of names: no plan shown
    seen = [
        (e.actor_id, e.client_id, e.target_type, e.target_id, e.details["kind"], e.details.get("how", "page"))
        for e in views(app)
    ]
    m, h = plans.margaret, plans.harold
    assert seen == [
        (world.margaret.id, world.client_a.id, "CarePlan", m, "care_plan", "page"),
        (world.margaret.id, world.client_a.id, "CarePlan", m, "care_plan", "print"),
        (world.paul.id, world.client_a2.id, "CarePlan", h, "care_plan", "page"),
        (world.staff_a.id, world.client_a.id, "CarePlan", m, "care_plan", "page"),
        (world.staff_a.id, world.client_a.id, "CarePlan", m, "care_plan", "page"),
    ]
    # The client's "who viewed my record" log names them.
    log = text_of(client.get(f"/profile/access?client={world.client_a.id}"))
    assert "viewed the care plan" in log


def test_the_dashboard_links_the_plan_without_its_text(client, world, plans):
    login(client, "margaretjones")
    page = text_of(client.get("/dashboard"))
    assert f'href="/care-plan?client={world.client_a.id}"' in page
    assert '<span class="badge">3</span>' in page  # three tasks
    assert all(sentence not in page for sentence in sentences(MARGARET_PLAN))


# --- nothing of the plan reaches anyone else: a crawl --------------------------------------------


class _Links(HTMLParser):
    """What a browser (or htmx) would fetch with GET from a page: each href, each hx-get (as htmx
    asks for it: a fragment), and each choice of a GET form's select (the client switch)."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, bool]] = []
        self._form: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("href") and not (tag == "link" and a.get("rel") == "stylesheet"):
            self.urls.append((a["href"], False))
        if a.get("hx-get"):
            self.urls.append((a["hx-get"], True))
        if tag == "form":
            self._form = a.get("action") if (a.get("method") or "get").lower() == "get" else None
        elif tag == "select" and self._form is not None:
            self._select = a.get("name")
        elif tag == "option" and self._form is not None and self._select and a.get("value"):
            self.urls.append((f"{self._form}?{urlencode({self._select: a['value']})}", False))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _readable(response) -> str:
    kind = response.mimetype
    if kind == "application/pdf":
        try:
            return " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(response.data)).pages)
        except PdfError:  # a stored file that only claims to be a PDF: read its bytes
            return response.data.decode("latin-1")
    if kind == "text/calendar":
        unfolded = response.get_data(as_text=True).replace("\r\n ", "").replace("\n ", "")
        return unfolded.replace("\\n", "\n").replace("\\,", ",").replace("\\;", ";")
    if kind.startswith("text/") or kind in ("application/json", "image/svg+xml"):
        return unescape(response.get_data(as_text=True))
    return ""  # images: no text to leak


def crawl(client, starts, host=HOST_A, limit=200, per_path=8):
    """GET every same-host URL reachable from `starts`, pages and htmx fragments (bounded);
    {(url, htmx): (status, type, text)}."""
    queue, seen, found, paths = deque((url, False) for url in starts), set(), {}, Counter()
    while queue and len(found) < limit:
        url, htmx = queue.popleft()
        parts = urlsplit(url)
        if (url, htmx) in seen or parts.netloc not in ("", host):
            continue
        seen.add((url, htmx))
        path = parts.path
        if path == "/logout" or path.startswith("/static/") or paths[path, htmx] >= per_path:
            continue
        paths[path, htmx] += 1
        local = parts._replace(scheme="", netloc="").geturl()
        response = client.get(local, host=host, htmx=htmx)
        assert response.status_code < 500, (url, htmx, response.status)
        found[local, htmx] = (response.status_code, response.mimetype, _readable(response))
        if response.mimetype == "text/html":
            parser = _Links()
            parser.feed(response.get_data(as_text=True))
            for link, by_htmx in parser.urls:
                if not link.startswith(("mailto:", "tel:", "data:", "javascript:")):
                    queue.append((urljoin(local, link).split("#")[0], by_htmx))
    return found


def _leaks(found, plan_texts) -> list[tuple[str, str]]:
    flat = {url: re.sub(r"\s+", " ", text) for url, (_s, _k, text) in found.items()}
    return [
        (url, sentence)
        for url, text in flat.items()
        for sentence in plan_texts
        if re.sub(r"\s+", " ", sentence) in text
    ]


def _fill_records(app, world, tasks):
    """Everything an emergency contact or a payer may open for Margaret and Harold: visits with the
    plan's tasks done and refused, notes, a signature, invoices and a payment, documents, a thread,
    a schedule request, on top of the plans themselves."""
    for user, client in ((world.margaret, world.client_a), (world.harold, world.client_a2)):
        plan = get_one(app, CarePlan, client_id=client.id)
        with in_app(app) as session:  # build_graph brings its own plan: make room for it
            session.delete(session.get(CarePlan, plan.id))
            session.commit()
        build_graph(app, world.a, client, user, world.staff_a)
        with in_app(app) as session:
            session.delete(session.scalar(select(CarePlan).where(CarePlan.client_id == client.id)))
            session.commit()
    save(app, world.client_a.id, world.staff_a.id, **MARGARET_PLAN)
    save(app, world.client_a2.id, world.staff_a.id, **HAROLD_PLAN)
    now = utcnow()
    with in_app(app) as session:
        ana = Caregiver(agency_id=world.a.id, first_name="Ana", last_name="Torres")
        session.add(ana)
        session.flush()
        for client in (world.client_a, world.client_a2):
            for days in (-1, -8, 1, 3):
                starts = now + timedelta(days=days)
                visit = Visit(
                    agency_id=world.a.id,
                    client_id=client.id,
                    caregiver_id=ana.id,
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=3),
                    status="completed" if days < 0 else "scheduled",
                    clock_in_at=starts if days < 0 else None,
                    clock_out_at=starts + timedelta(hours=3) if days < 0 else None,
                    caregiver_note="A good visit; we had a chat over coffee." if days < 0 else None,
                )
                session.add(visit)
                session.flush()
                for name in ("Bathing", "Meal preparation", "Companionship"):
                    done = days < 0 and name != "Meal preparation"
                    session.add(
                        VisitTask(
                            agency_id=world.a.id,
                            visit_id=visit.id,
                            task_id=tasks[name].id,
                            status=("done" if done else "refused") if days < 0 else "planned",
                            refusal_reason=None if done or days >= 0 else "Client preferred to rest",
                        )
                    )
        session.commit()


@pytest.mark.parametrize("username", ["susanjones", "robertjones"])
def test_no_plan_sentence_reaches_an_emergency_contact_or_a_payer(app, client, world, tasks, plans, username):
    _fill_records(app, world, tasks)
    user = {"susanjones": world.susan, "robertjones": world.robert}[username]
    set_columns(app, User, user.id, large_text=True)  # the reading settings change no rule
    with in_app(app) as session:
        feed = calendar_feed.issue_token(session.get(User, user.id))
        agency = session.get(Agency, world.a.id)
        with app.test_request_context(base_url=f"http://{HOST_A}"):
            feed_url = agency_url(agency, "schedule.feed", token=feed)
        session.commit()
    login(client, username)
    found = crawl(client, ["/dashboard", feed_url])
    kinds = Counter(kind for _s, kind, _t in found.values())
    assert len(found) >= 25, sorted(found)  # the crawl really went round the portal
    assert kinds["application/pdf"] >= 1 and kinds["text/calendar"] == 1, kinds
    assert any(url.startswith("/schedule?") for url, _htmx in found)
    assert any(htmx for _url, htmx in found)  # htmx fragments too (the calendar's views, the badge)
    assert not [url for url, _htmx in found if urlsplit(url).path.startswith("/care-plan")]
    assert _leaks(found, sentences(MARGARET_PLAN) + sentences(HAROLD_PLAN)) == []
    assert [e for e in views(app, actor_id=user.id) if e.details["kind"] == "care_plan"] == []


def test_the_crawl_finds_the_plan_where_it_may(app, client, world, tasks, plans):
    """The control: the same crawl, as the client herself, reaches the plan and its print view and
    finds its sentences — so the crawl above would have seen a leak."""
    _fill_records(app, world, tasks)
    login(client, "margaretjones")
    found = crawl(client, ["/dashboard"])
    assert (f"/care-plan?client={world.client_a.id}", False) in found
    assert (f"/care-plan/print?client={world.client_a.id}", False) in found
    leaked = {sentence for _url, sentence in _leaks(found, sentences(MARGARET_PLAN))}
    assert leaked == set(sentences(MARGARET_PLAN))


def test_the_demo_emergency_contact_and_payer_never_see_a_plan_sentence(app):
    """The same crawl over the demo (`flask seed-demo`), as Susan (Margaret's daughter, emergency
    contact) and Robert (the payer of Margaret and Harold): not a sentence of either plan."""
    from app.demo import seed_demo

    with in_app(app) as session:
        seed_demo("small")
        session.commit()
        rows = session.execute(
            select(CarePlan, Agency.host).join(Agency, Agency.id == CarePlan.agency_id)
        ).all()
        demo_plans = [
            {
                "goals": plan.goals,
                "frequency": plan.frequency,
                "special_instructions": plan.special_instructions,
                "notes": {row.task.name: row.per_visit_notes for row in plan.tasks},
            }
            for plan, host in rows
            if host == "sunrise.localhost"
        ]
    assert len(demo_plans) == 2
    forbidden = [sentence for plan in demo_plans for sentence in sentences(plan)]
    for username in ("susanjones", "robertjones"):
        client = app.test_client()
        assert login(client, username, "porchlight-demo", host="sunrise.localhost").status_code == 303
        found = crawl(client, ["/dashboard"], host="sunrise.localhost", limit=150)
        assert len(found) >= 20, username
        assert not [url for url, _htmx in found if urlsplit(url).path.startswith("/care-plan")], username
        assert _leaks(found, forbidden) == [], username


# --- the office: edit, history, conflicts --------------------------------------------------------


def _form(app, world, client_id, tasks, **changes):
    """The edit form as a browser posts it: every task row, the ticked ones with their notes."""
    plan = get_one(app, CarePlan, client_id=client_id)
    data = {"version": str(plan.version) if plan else "0"}
    current = dict(MARGARET_PLAN, **changes)
    data.update(
        goals=current["goals"],
        frequency=current["frequency"],
        special_instructions=current["special_instructions"],
    )
    for index, name in enumerate(sorted(n for n in TASK_NAMES)):
        data[f"tasks-{index}-task_id"] = str(tasks[name].id)
        if name in current["notes"]:
            data[f"tasks-{index}-included"] = "y"
            data[f"tasks-{index}-per_visit_notes"] = current["notes"][name]
    return data


def test_the_office_edits_and_the_previous_version_is_kept(app, client, world, tasks, plans, carol):
    before = get_one(app, CarePlan, id=plans.margaret)
    login(client, "carolwhite")  # office staff, not the owner
    form = client.get(f"/admin/care-plans/{world.client_a.id}")
    page = text_of(form)
    assert form.status_code == 200
    assert (
        "Porridge with honey, never with raisins." in page
        and 'name="version" type="hidden" value="1"' in page
    )
    notes = dict(MARGARET_PLAN["notes"], Laundry="Towels on Fridays.")
    del notes["Bathing"]
    response = client.post_form(
        f"/admin/care-plans/{world.client_a.id}",
        _form(
            app, world, world.client_a.id, tasks, goals="Margaret gets stronger after her fall.", notes=notes
        ),
        follow=True,
    )
    assert response.status_code == 200
    assert "Care plan of Margaret Jones saved." in text_of(response)
    plan = get_one(app, CarePlan, id=plans.margaret)
    assert (plan.version, plan.goals, plan.updated_by_id) == (
        2,
        "Margaret gets stronger after her fall.",
        carol.id,
    )
    with in_app(app) as session:
        rows = session.scalars(select(CarePlanTask).where(CarePlanTask.care_plan_id == plan.id)).all()
        assert {(r.task.name, r.per_visit_notes) for r in rows} == {
            ("Meal preparation", "Porridge with honey, never with raisins."),
            ("Medication reminder", None),
            ("Laundry", "Towels on Fridays."),
        }
        (old,) = session.scalars(select(CarePlanVersion)).all()
        assert (old.version, old.goals, old.saved_by_id) == (1, MARGARET_PLAN["goals"], world.staff_a.id)
        assert old.saved_at == before.updated_at
        assert {t["name"]: t["per_visit_notes"] for t in old.tasks} == {
            "Bathing": MARGARET_PLAN["notes"]["Bathing"],
            "Meal preparation": MARGARET_PLAN["notes"]["Meal preparation"],
            "Medication reminder": None,
        }
        saved = session.scalars(select(AuditEvent).where(AuditEvent.action == "care_plan.saved")).all()[-1]
    assert (saved.actor_id, saved.client_id, saved.target_id) == (carol.id, world.client_a.id, plan.id)
    assert saved.details == {"fields": ["goals", "tasks"], "version": 2}
    assert "Margaret" not in json.dumps(saved.details)  # names of fields, never the text

    history_page = text_of(client.get(f"/admin/care-plans/{world.client_a.id}/history"))
    assert "Version 2 (now)" in history_page and "by Carol White" in history_page
    assert "Version 1" in history_page and "by Sam Rivera" in history_page
    assert MARGARET_PLAN["goals"] in history_page and "Margaret gets stronger after her fall." in history_page

    # The family reads the new plan, saved by Carol.
    portal = text_of(signed_in(app, "margaretjones").get("/care-plan"))
    assert "Margaret gets stronger after her fall." in portal and " by Carol White" in portal
    assert "Shower chair" not in portal


def test_a_save_from_an_older_copy_is_409(app, client, world, tasks, plans):
    login(client, "admin")
    stale = _form(app, world, world.client_a.id, tasks, goals="First change.")
    fresh = client.post_form(f"/admin/care-plans/{world.client_a.id}", stale)
    assert fresh.status_code == 303
    again = client.post_form(f"/admin/care-plans/{world.client_a.id}", dict(stale, goals="Second change."))
    assert again.status_code == 409
    assert "Someone else changed this at the same time" in text_of(again)
    plan = get_one(app, CarePlan, id=plans.margaret)
    assert (plan.version, plan.goals) == (2, "First change.")
    with in_app(app) as session:
        assert session.scalar(select(func.count(CarePlanVersion.id))) == 1


def test_two_offices_making_the_first_plan_at_once(app, client, world, tasks, carol):
    login(client, "admin")
    other = signed_in(app, "carolwhite")
    path = f"/admin/care-plans/{world.client_a2.id}"
    data = _form(app, world, world.client_a2.id, tasks)
    assert data["version"] == "0"
    assert "No care plan yet" in text_of(client.get(path))
    assert client.post_form(path, data).status_code == 303
    assert other.post_form(path, dict(data, goals="Carol's idea.")).status_code == 409
    plan = get_one(app, CarePlan, client_id=world.client_a2.id)
    assert (plan.version, plan.goals, plan.updated_by_id) == (1, MARGARET_PLAN["goals"], world.staff_a.id)
    assert "No earlier versions" in text_of(client.get(f"{path}/history"))


def test_saving_nothing_new_keeps_no_version(app, client, world, tasks, plans):
    login(client, "admin")
    response = client.post_form(
        f"/admin/care-plans/{world.client_a.id}", _form(app, world, world.client_a.id, tasks), follow=True
    )
    assert "Nothing changed." in text_of(response)
    assert get_one(app, CarePlan, id=plans.margaret).version == 1
    with in_app(app) as session:
        assert session.scalar(select(func.count(CarePlanVersion.id))) == 0


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"frequency": "x" * 201}, "frequency", "Use at most 200 characters (this has 201)."),
        ({"frequency": "Weekdays\r\nBcc: eve@example.com"}, "frequency", "Keep this on one line"),
        ({"goals": "g" * 4001}, "goals", "Use at most 4000 characters (this has 4001)."),
        (
            {"notes": {"Bathing": "n" * 301}},
            "tasks-0-per_visit_notes",
            "Use at most 300 characters (this has 301).",
        ),
        (
            {"notes": {"Bathing": "Shower"}, "untick": "Bathing"},
            "tasks-0-per_visit_notes",
            "Tick the task to keep this note, or clear the note.",
        ),
    ],
    ids=["frequency-too-long", "frequency-line-break", "goals-too-long", "note-too-long", "note-unticked"],
)
def test_bad_input_is_422_beside_the_field(app, client, world, tasks, plans, changes, field, message):
    untick = changes.pop("untick", None)
    data = _form(app, world, world.client_a.id, tasks, **changes)
    if untick:
        data.pop("tasks-0-included")
    login(client, "admin")
    response = client.post_form(f"/admin/care-plans/{world.client_a.id}", data)
    page = text_of(response)
    assert response.status_code == 422
    assert re.search(rf'<p id="{re.escape(field)}-error" class="error">{re.escape(message)}', page), page[
        -3000:
    ]
    assert get_one(app, CarePlan, id=plans.margaret).version == 1
    with in_app(app) as session:  # the form's page, and the plan shown again beside the errors
        viewed = select(AuditEvent).where(AuditEvent.action == "record.viewed")
        assert [e.details["kind"] for e in session.scalars(viewed)] == ["care_plan", "care_plan"]


def test_a_task_of_another_agency_is_refused(app, client, world, tasks, plans):
    data = _form(app, world, world.client_a.id, tasks)
    data["tasks-9-task_id"] = str(tasks["beta"].id)
    data["tasks-9-included"] = "y"
    login(client, "admin")
    response = client.post_form(f"/admin/care-plans/{world.client_a.id}", data)
    assert response.status_code == 422
    assert "The list of tasks changed meanwhile." in text_of(response)
    assert get_one(app, CarePlan, id=plans.margaret).version == 1


def test_a_task_no_longer_offered_stays_on_the_plan(app, client, world, tasks, plans):
    set_columns(app, Task, tasks["Bathing"].id, is_active=False)
    login(client, "admin")
    page = text_of(client.get(f"/admin/care-plans/{world.client_a.id}"))
    assert 'Bathing <span class="muted">(no longer offered)</span>' in page
    response = client.post_form(
        f"/admin/care-plans/{world.client_a.id}", _form(app, world, world.client_a.id, tasks, goals="New.")
    )
    assert response.status_code == 303
    with in_app(app) as session:
        names = session.scalars(
            select(Task.name)
            .join(CarePlanTask, CarePlanTask.task_id == Task.id)
            .where(CarePlanTask.care_plan_id == plans.margaret)
        ).all()
    assert "Bathing" in names
    # An inactive task that is on no plan is not offered.
    assert "Laundry" in page
    set_columns(app, Task, tasks["Laundry"].id, is_active=False)
    assert "Laundry" not in text_of(client.get(f"/admin/care-plans/{world.client_a.id}"))


def test_the_office_finds_the_client_by_name(app, client, make, world, plans):
    for n in range(30):
        make.client(world.a, f"Zelda Number{n:02d}")
    login(client, "admin")
    first = text_of(client.get("/admin/care-plans"))
    assert "32 clients" in first and "Page 1 of 2" in first
    assert "Jones, Margaret" in first and "Saved " in first
    found = client.get("/admin/care-plans?q=harold", htmx=True)
    body = text_of(found)
    assert "<html" not in body and "1 client" in body and "Smith, Harold" in body and "Margaret" not in body
    assert "Page 2 of 2" in text_of(client.get("/admin/care-plans?page=2"))
    assert client.get("/admin/care-plans?page=3").status_code == 404
    assert "No active client is called that." in text_of(client.get("/admin/care-plans?q=nobody"))


@pytest.mark.parametrize("username", ["margaretjones", "paulsmith", "susanjones", "robertjones"])
def test_portal_users_get_404_under_admin_care_plans(client, world, plans, username):
    login(client, username)
    for path in (
        "/admin/care-plans",
        f"/admin/care-plans/{world.client_a.id}",
        f"/admin/care-plans/{world.client_a.id}/history",
    ):
        assert client.get(path).status_code == 404, path


def test_office_staff_see_care_plans_on_the_office_home(client, world, carol):
    login(client, "carolwhite")
    assert 'href="/admin/care-plans"' in client.get("/admin/").get_data(as_text=True)


def test_history_comes_a_page_at_a_time(app, client, world, tasks, plans):
    for n in range(12):
        save(app, world.client_a.id, world.staff_a.id, **dict(MARGARET_PLAN, goals=f"Goal number {n}."))
    login(client, "admin")
    first = text_of(client.get(f"/admin/care-plans/{world.client_a.id}/history"))
    assert "Version 13 (now)" in first and "Version 12" in first and "Version 3" in first
    assert "Version 2<" not in first and "Older" in first
    second = text_of(client.get(f"/admin/care-plans/{world.client_a.id}/history?page=2"))
    assert "Version 2<" in second and "Version 1<" in second and MARGARET_PLAN["goals"] in second
    assert "(now)" not in second and "Newer" in second
    assert client.get(f"/admin/care-plans/{world.client_a.id}/history?page=3").status_code == 404


# --- the service ---------------------------------------------------------------------------------


def test_the_service_refuses_an_older_copy_and_lists_history_newest_first(app, world, tasks, plans):
    save(app, world.client_a.id, world.staff_a.id, **dict(MARGARET_PLAN, goals="Second."))
    with pytest.raises(StaleDataError):
        save(app, world.client_a.id, world.staff_a.id, **dict(MARGARET_PLAN, goals="Third."), expected=1)
    with pytest.raises(StaleDataError):
        save(app, world.client_a.id, world.staff_a.id, **dict(MARGARET_PLAN, goals="Third."), expected=None)
    save(app, world.client_a.id, world.staff_a.id, **dict(MARGARET_PLAN, goals="Third."))
    with in_app(app) as session:
        versions = history(session.get(CarePlan, plans.margaret))
        assert [(v.version, v.goals) for v in versions] == [(2, "Second."), (1, MARGARET_PLAN["goals"])]
        assert session.get(CarePlan, plans.margaret).version == 3


def test_only_the_tasks_changing_is_a_new_version(app, world, tasks, plans):
    notes = dict(MARGARET_PLAN["notes"], Bathing="Bath on Sundays instead.")
    _plan, changed = save(app, world.client_a.id, world.staff_a.id, **dict(MARGARET_PLAN, notes=notes))
    assert changed == ["tasks"]
    assert get_one(app, CarePlan, id=plans.margaret).version == 2


# --- bounded work --------------------------------------------------------------------------------


def _grow(app, world, tasks, plan_id, extra_tasks=60, versions=40):
    """A plan of many tasks and a long history, inserted in bulk."""
    with in_app(app) as session:
        made = [Task(agency_id=world.a.id, name=f"Task {n:03d}") for n in range(extra_tasks)]
        session.add_all(made)
        session.flush()
        session.add_all(
            CarePlanTask(
                agency_id=world.a.id, care_plan_id=plan_id, task_id=t.id, per_visit_notes=f"Note {t.name}"
            )
            for t in made
        )
        now = utcnow()
        session.add_all(
            CarePlanVersion(
                agency_id=world.a.id,
                care_plan_id=plan_id,
                version=-n,
                goals=f"Old goals {n}",
                frequency="Daily",
                special_instructions="Old",
                tasks=[{"task_id": tasks["Bathing"].id, "name": "Bathing", "per_visit_notes": "Old note"}],
                saved_at=now - timedelta(days=n + 1),
                saved_by_id=world.staff_a.id if n % 2 else None,
            )
            for n in range(versions)
        )
        for n in range(40):
            session.add(Client(agency_id=world.a.id, first_name="Many", last_name=f"Client{n:02d}"))
        session.commit()


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("margaretjones", "/care-plan"),
        ("margaretjones", "/care-plan/print"),
        ("admin", "/admin/care-plans"),
        ("admin", "/admin/care-plans?q=jones"),
        ("admin", "/admin/care-plans/{client}"),
        ("admin", "/admin/care-plans/{client}/history"),
        ("admin", "/admin/care-plans/{client}/history?page=2"),
    ],
)
def test_care_plan_pages_cost_at_most_ten_statements_whatever_the_data(
    app, client, world, tasks, plans, username, path
):
    for n in range(11):  # a history of two pages to begin with
        save(app, world.client_a.id, world.staff_a.id, **dict(MARGARET_PLAN, goals=f"Goal {n}."))
    login(client, username)
    url = path.format(client=world.client_a.id)
    with recorded_sql(app) as few:
        assert client.get(url).status_code == 200
    _grow(app, world, tasks, plans.margaret)
    with recorded_sql(app) as many:
        response = client.get(url)
        assert response.status_code == 200
    assert len(few) == len(many) <= 10, many
    if path == "/care-plan":
        assert "Note Task 059" in text_of(response)
