"""CSV import and export of clients, caregivers and visits: the dry-run preview with row errors,
the all-or-nothing import matched by external id (a re-import of the same file writes and audits
nothing), the CLI, the export in the same columns (round trip, formula cells neutralised, one
agency only), and the statements each costs."""

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from app.models import AuditEvent, Caregiver, Client, Signature, Visit, VisitTask
from tests.conftest import get_one, in_app, login, recorded_sql, set_columns

CLIENTS = (
    "\ufeffExternal_ID,First_Name,last_name,email,phone,address\r\n"
    "C-1,Rosa,Diaz,rosa@example.com,555-0101,1 Elm St\r\n"
    "C-2,Tom,Baker,,,\r\n"
)
CAREGIVERS = "external_id,first_name,last_name,languages\r\nHR-1,Ana,Torres,English; Spanish\r\n"
VISITS = (
    "external_id,client_external_id,caregiver_external_id,date,start,end,status,tasks\r\n"
    "V-1,C-1,HR-1,2026-03-08,01:30,03:30,scheduled,Bathing; Meals\r\n"  # across the spring change
    "V-2,C-2,,2026-07-01,22:00,06:00,,\r\n"  # a night shift
)


def _counts(app, agency_id):
    with in_app(app) as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model).where(model.agency_id == agency_id))
            for model in (Client, Caregiver, Visit, VisitTask, AuditEvent)
        )


def _send(client, kind, text, action="preview", htmx=False):
    data = text.encode() if isinstance(text, str) else text
    token = client.csrf_token("/admin/import")
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        "/admin/import",
        data={"csrf_token": token, "kind": kind, "action": action, "file": (io.BytesIO(data), "f.csv")},
        content_type="multipart/form-data",
        headers=headers,
    )


@pytest.fixture
def staff(client, world, make):
    make.task(world.a, "Bathing")
    make.task(world.a, "Meals")
    login(client, "admin")
    return client


def _import_all(client):
    for kind, text in (("clients", CLIENTS), ("caregivers", CAREGIVERS), ("visits", VISITS)):
        answer = _send(client, kind, text, "import")
        assert answer.status_code == 303, answer.get_data(as_text=True)


def test_preview_counts_and_writes_nothing_then_import_creates(app, staff, world):
    before = _counts(app, world.a.id)
    page = _send(staff, "clients", CLIENTS).get_data(as_text=True)
    assert "Would create 2, update 0, leave 0 unchanged. Problems: 0." in page
    assert _counts(app, world.a.id) == before
    answer = _send(staff, "clients", CLIENTS, "import")
    assert answer.status_code == 303
    shown = staff.get("/admin/import").get_data(as_text=True)
    assert "Imported: 2 created, 0 updated, 0 unchanged." in shown
    rosa = get_one(app, Client, external_id="C-1")
    assert (rosa.first_name, rosa.email, rosa.address, rosa.agency_id) == (
        "Rosa",
        "rosa@example.com",
        "1 Elm St",
        world.a.id,
    )
    assert get_one(app, Client, external_id="C-2").email is None


def test_reimport_of_the_same_files_changes_nothing_and_a_changed_row_updates(app, staff, world):
    _import_all(staff)
    before = _counts(app, world.a.id)
    assert before[:4] == (4, 1, 2, 2)
    visit = get_one(app, Visit, external_id="V-1")
    _import_all(staff)
    assert _counts(app, world.a.id) == before  # no rows, no audit events
    assert get_one(app, Visit, external_id="V-1").version == visit.version
    page = _send(staff, "visits", VISITS).get_data(as_text=True)
    assert "Would create 0, update 0, leave 2 unchanged. Problems: 0." in page

    changed = CLIENTS.replace("555-0101", "555-0199")
    assert "Would create 0, update 1, leave 1 unchanged" in _send(staff, "clients", changed).get_data(
        as_text=True
    )
    assert _send(staff, "clients", changed, "import").status_code == 303
    assert get_one(app, Client, external_id="C-1").phone == "555-0199"
    with in_app(app) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.agency_id == world.a.id, AuditEvent.id > 0)
        ).all()
    assert actions[-2:] == ["client.updated", "import.clients"]
    assert _counts(app, world.a.id)[:4] == before[:4]


def test_visits_times_are_the_agencys_local_times_stored_utc(app, staff, world):
    _import_all(staff)
    v1, v2 = get_one(app, Visit, external_id="V-1"), get_one(app, Visit, external_id="V-2")
    # Chicago: 01:30 CST (UTC-6), 03:30 CDT (UTC-5) on the day the clocks go forward.
    assert v1.starts_at.astimezone(UTC).replace(tzinfo=None) == datetime(2026, 3, 8, 7, 30)
    assert v1.ends_at.astimezone(UTC).replace(tzinfo=None) == datetime(2026, 3, 8, 8, 30)
    assert v2.ends_at.astimezone(UTC).replace(tzinfo=None) == datetime(2026, 7, 2, 11, 0)  # next morning
    assert v2.caregiver_id is None and v2.status == "scheduled"
    assert v1.caregiver_id == get_one(app, Caregiver, external_id="HR-1").id
    with in_app(app) as session:
        names = session.scalars(select(VisitTask).where(VisitTask.visit_id == v1.id)).all()
        assert sorted(t.task.name for t in names) == ["Bathing", "Meals"]


def test_a_completed_visit_the_file_does_not_change_stays_untouched(app, staff, world, make):
    _import_all(staff)
    v1 = get_one(app, Visit, external_id="V-1")
    set_columns(app, Visit, v1.id, status="completed", caregiver_note="All fine.")
    signed = make.save(
        Signature(
            agency_id=world.a.id, visit_id=v1.id, signer_id=world.margaret.id, method="typed", facts_hash="x"
        )
    )
    done = VISITS.replace(",scheduled,", ",completed,")
    before = _counts(app, world.a.id)
    assert _send(staff, "visits", done, "import").status_code == 303
    after = get_one(app, Visit, external_id="V-1")
    assert (after.version, after.caregiver_note, after.status) == (v1.version + 1, "All fine.", "completed")
    assert _counts(app, world.a.id) == before
    assert get_one(app, Signature, id=signed.id).voided_at is None
    moved = done.replace("01:30,03:30", "09:00,11:00")
    assert _send(staff, "visits", moved, "import").status_code == 303
    assert get_one(app, Signature, id=signed.id).void_reason == "starts_at,ends_at"  # asked to sign again
    with in_app(app) as session:
        events = session.execute(
            select(AuditEvent.action, AuditEvent.details).order_by(AuditEvent.id.desc()).limit(3)
        ).all()
    assert [action for action, _details in events] == ["import.visits", "visit.updated", "signature.voided"]
    assert events[1][1]["fields"] == ["starts_at", "ends_at"]


PEOPLE = "external_id,first_name,last_name\r\n"
VISIT = "external_id,client_external_id,date,start,end"
DAY = "V-9,C-1,2026-03-09,09:00,10:00"
BAD_ROWS = [
    ("clients", PEOPLE + "C-1,,Diaz\r\n", "2", "first_name", "Enter the first name."),
    ("clients", "external_id,frist_name,last_name\r\n", "1", "frist_name", "Unknown column."),
    ("clients", "external_id,first_name\r\n", "1", "last_name", "This column is missing."),
    ("clients", PEOPLE + "C 1,A,B\r\n", "2", "external_id", "Use letters, digits"),
    ("clients", PEOPLE + "C-1,A,B\r\nC-1,A,B\r\n", "3", "external_id", "also on row 2"),
    ("clients", PEOPLE + 'C-1,"A\nB",C\r\n', "2", "first_name", "on one line"),
    ("visits", f"{VISIT}\r\nV-9,C-1,2026-02-30,09:00,10:00\r\n", "2", "date", "real date"),
    ("visits", f"{VISIT}\r\nV-9,NOPE,2026-02-03,09:00,10:00\r\n", "2", "client_external_id", "No client has"),
    ("visits", f"{VISIT}\r\nV-9,C-1,2026-02-03,1e309,10:00\r\n", "2", "start", "HH:MM"),
    ("visits", f"{VISIT}\r\nV-9,C-1,99999999999-01-01,09:00,10:00\r\n", "2", "date", "10 characters"),
    ("visits", f"{VISIT}\r\nV-9,C-1,2026-03-08,02:30,04:00\r\n", "2", "start", "clocks go forward"),
    ("visits", f"{VISIT},tasks\r\n{DAY},Juggling\r\n", "2", "tasks", "No task is called Juggling"),
    ("visits", f"{VISIT},status\r\n{DAY},done\r\n", "2", "status", "Use one of"),
    ("visits", f"{VISIT},caregiver_external_id\r\n{DAY},X\r\n", "2", "caregiver_external_id", "No caregiver"),
    ("caregivers", PEOPLE.encode() + b"H-1,Ana,\xff\xfe\r\n", "2", "", "not UTF-8"),
    ("caregivers", PEOPLE.encode() + b"H-1,An\x00a,B\r\n", "the file", "", "not a CSV"),
    ("caregivers", PEOPLE + 'H-1,"Ana,B\r\n', "", "", "stray quote"),
    ("caregivers", PEOPLE + "H-1,A,B,extra\r\n", "2", "", "more cells"),
    ("caregivers", PEOPLE + "H-1," + "A" * 101 + ",B\r\n", "2", "first_name", "100 characters"),
]


@pytest.mark.parametrize("kind, text, row, column, message", BAD_ROWS)
def test_preview_lists_row_errors_beside_their_row_and_import_refuses_the_file(
    app, staff, world, kind, text, row, column, message
):
    _send(staff, "clients", CLIENTS, "import")
    before = _counts(app, world.a.id)
    page = _send(staff, kind, text).get_data(as_text=True)
    assert message in page
    cells = page.split(message)[0].rsplit("<tr>", 1)[1]
    assert f"<td>{row}" in cells and column in cells
    answer = _send(staff, kind, text, "import")
    assert answer.status_code == 422 and "Nothing was imported" in answer.get_data(as_text=True)
    assert _counts(app, world.a.id) == before


def test_one_bad_row_keeps_the_good_ones_out_too(app, staff, world):
    before = _counts(app, world.a.id)
    text = CLIENTS + "C-3,,Nobody\r\n"
    answer = _send(staff, "clients", text, "import")
    assert answer.status_code == 422
    assert "Would create 2, update 0, leave 0 unchanged. Problems: 1." in answer.get_data(as_text=True)
    assert _counts(app, world.a.id) == before


def test_too_many_rows_and_too_large_a_file(app, staff, world):
    rows = "external_id,first_name,last_name\r\n" + "".join(f"C-{n},A,B\r\n" for n in range(20_001))
    assert "at most 20000 rows" in _send(staff, "clients", rows).get_data(as_text=True)
    big = b"external_id,first_name,last_name\r\n" + b"x" * (5 * 1024 * 1024)
    assert "larger than 5 MB" in _send(staff, "clients", big).get_data(as_text=True)
    assert _counts(app, world.a.id)[0] == 2


def test_the_form_needs_a_file_and_a_kind(staff):
    page = staff.get("/admin/import").get_data(as_text=True)
    assert 'name="from"' in page and 'name="to"' in page and 'enctype="multipart/form-data"' in page
    assert "Import is all or nothing" in page and "client_external_id" in page
    token = staff.csrf_token("/admin/import")
    answer = staff.post("/admin/import", data={"csrf_token": token, "kind": "clients"})
    assert answer.status_code == 422 and "Choose the CSV file to read." in answer.get_data(as_text=True)
    answer = staff.post("/admin/import", data={"csrf_token": token, "kind": "users"})
    assert answer.status_code == 422


def test_htmx_preview_answers_the_fragment(staff):
    fragment = _send(staff, "clients", CLIENTS, htmx=True).get_data(as_text=True)
    assert fragment.startswith('<section id="import-result"') and "<html" not in fragment
    assert "Would create 2" in fragment


def test_cli_dry_run_import_and_reimport(app, world, tmp_path):
    path = tmp_path / "clients.csv"
    path.write_text(CLIENTS, encoding="utf-8")
    runner = app.test_cli_runner()
    before = _counts(app, world.a.id)
    dry = runner.invoke(args=["import", "clients", str(path), "--agency", "alpha", "--dry-run"])
    assert dry.exit_code == 0 and "would create 2, update 0, unchanged 0, errors 0" in dry.output
    assert _counts(app, world.a.id) == before
    real = runner.invoke(args=["import", "clients", str(path), "--agency", "alpha"])
    assert real.exit_code == 0 and "created 2" in real.output
    after = _counts(app, world.a.id)
    assert after[0] == before[0] + 2
    again = runner.invoke(args=["import", "clients", str(path), "--agency", "alpha"])
    assert "unchanged 2" in again.output and _counts(app, world.a.id) == after
    path.write_text(CLIENTS + "C-3,,X\r\n", encoding="utf-8")
    bad = runner.invoke(args=["import", "clients", str(path), "--agency", "alpha"])
    assert bad.exit_code == 1 and "row 4 first_name: Enter the first name." in bad.output
    assert "nothing imported" in bad.output and _counts(app, world.a.id) == after
    assert runner.invoke(args=["import", "clients", str(path), "--agency", "nope"]).exit_code == 1
    assert get_one(app, Client, external_id="C-1").agency_id == world.a.id


def test_export_then_import_changes_nothing(app, staff, world):
    _import_all(staff)
    # Rows made in Porchlight have no external id: the import would refuse them (nothing to match).
    set_columns(app, Client, world.client_a.id, external_id="P-1")
    set_columns(app, Client, world.client_a2.id, external_id="P-2")
    set_columns(
        app, Client, get_one(app, Client, external_id="C-2").id, first_name='=HYPERLINK("x")', phone="+1 555"
    )
    files = {}
    for kind, path in (
        ("clients", "/admin/export/clients.csv"),
        ("caregivers", "/admin/export/caregivers.csv"),
        ("visits", "/admin/export/visits.csv?from=2026-01-01&to=2026-12-31"),
    ):
        answer = staff.get(path)  # the body is read before the next request, as a browser does
        assert answer.status_code == 200 and answer.mimetype == "text/csv"
        files[kind] = answer.get_data()
    text = files["clients"].decode()
    assert text.splitlines()[0] == "external_id,first_name,last_name,email,phone,address"
    assert "'=HYPERLINK" in text and "'+1 555" in text  # a spreadsheet shows it, never runs it
    visits = files["visits"].decode()
    assert "V-1,C-1,2026-03-08,01:30,03:30,HR-1,scheduled,Bathing;Meals" in visits
    assert "V-2,C-2,2026-07-01,22:00,06:00,,scheduled," in visits
    before = _counts(app, world.a.id)
    for kind, data in files.items():
        page = _send(staff, kind, data).get_data(as_text=True)
        assert "Would create 0, update 0" in page and "Problems: 0." in page, page
        assert _send(staff, kind, data, "import").status_code == 303
    assert _counts(app, world.a.id) == before
    assert get_one(app, Client, external_id="C-2").first_name == '=HYPERLINK("x")'
    with in_app(app) as session:
        exported = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("export.%")).order_by(AuditEvent.id)
        ).all()
    assert exported == ["export.clients", "export.caregivers", "export.visits"]


def test_export_holds_only_the_agencys_own_rows(app, staff, world, make):
    make.client(world.b, "Alice Brown", external_id="B-1")
    make.caregiver(world.b, "Bea Carer", external_id="BH-1")
    make.visit(get_one(app, Client, external_id="B-1"), datetime.now(UTC), external_id="BV-1")
    make.client(world.a, "Ours Here", external_id="A-1")
    text = "".join(
        staff.get(f"/admin/export/{kind}.csv").get_data(as_text=True)
        for kind in ("clients", "caregivers", "visits")
    )
    assert "A-1" in text and "Harold" in text
    assert "B-1" not in text and "Alice" not in text and "Bea" not in text and "BV-1" not in text


@pytest.mark.parametrize(
    "query", ["from=2026-03-01&to=2026-02-01", "from=2026-01-01&to=2027-03-01", "to=2026-02-30", "from=1e309"]
)
def test_a_bad_export_range_is_refused_beside_the_field(staff, query):
    answer = staff.get(f"/admin/export/visits.csv?{query}")
    assert answer.status_code == 400 and 'class="error"' in answer.get_data(as_text=True)


def test_portal_users_and_anonymous_visitors_are_kept_out(client, world):
    for path in ("/admin/import", "/admin/export/clients.csv", "/admin/export/visits.csv"):
        assert client.get(path).status_code in (302, 303)
    login(client, "margaretjones")
    for path in (
        "/admin/import",
        "/admin/export/clients.csv",
        "/admin/export/caregivers.csv",
        "/admin/export/visits.csv",
    ):
        assert client.get(path).status_code == 404


def test_preview_and_export_cost_a_few_statements_whatever_the_size(app, staff, world):
    _import_all(staff)
    client_id = get_one(app, Client, external_id="C-1").id
    few_rows = VISITS
    with in_app(app) as session:
        session.execute(
            insert(Client),
            [
                {
                    "agency_id": world.a.id,
                    "first_name": f"Bulk{n}",
                    "last_name": "Client",
                    "external_id": f"BC-{n}",
                    "is_active": True,
                }
                for n in range(300)
            ],
        )
        session.execute(
            insert(Visit),
            [
                {
                    "agency_id": world.a.id,
                    "client_id": client_id,
                    "starts_at": datetime(2026, 5, 1 + n % 28, 14, tzinfo=UTC),
                    "ends_at": datetime(2026, 5, 1 + n % 28, 15, tzinfo=UTC),
                    "external_id": f"BV-{n}",
                    "status": "scheduled",
                    "version": 1,
                }
                for n in range(300)
            ],
        )
        session.commit()
    many_rows = VISITS + "".join(
        f"BV-{n},C-1,,2026-05-{1 + n % 28:02d},09:00,10:00,scheduled,Meals\r\n" for n in range(300)
    )
    costs = []
    for text in (few_rows, many_rows):
        with recorded_sql(app) as statements:
            assert "Problems:" in _send(staff, "visits", text).get_data(as_text=True)
        costs.append(len(statements))
    clients = "external_id,first_name,last_name\r\n" + "".join(
        f"BC-{n},Bulk{n},Client\r\n" for n in range(300)
    )
    with recorded_sql(app) as statements:
        assert "leave 300 unchanged" in _send(staff, "clients", clients).get_data(as_text=True)
    costs.append(len(statements))
    for path in ("/admin/export/clients.csv", "/admin/export/visits.csv?from=2026-01-01&to=2026-12-31"):
        with recorded_sql(app) as statements:
            body = staff.get(path).get_data(as_text=True)
            assert body.count("\n") > 300
        costs.append(len(statements))
    print("statements:", costs)
    assert max(costs) <= 10 and costs[0] == costs[1], costs


def test_a_full_size_file_previews_in_a_few_statements(app, staff):
    rows = PEOPLE + "".join(f"C-{n},First{n},Last\r\n" for n in range(20_000))
    with recorded_sql(app) as statements:
        page = _send(staff, "clients", rows).get_data(as_text=True)
    assert "Would create 20000, update 0, leave 0 unchanged. Problems: 0." in page
    assert len(statements) <= 10, statements


def test_an_empty_caregiver_cell_keeps_a_caregiver_the_file_cannot_name(app, staff, world, make):
    """A caregiver added in Porchlight has no external id, so the export leaves the cell empty: the
    re-import keeps them. A caregiver the file could name is unassigned by an empty cell."""
    _import_all(staff)
    visit = get_one(app, Visit, external_id="V-1")
    local = make.save(Caregiver(agency_id=world.a.id, first_name="Nina", last_name="Local"))
    set_columns(app, Visit, visit.id, caregiver_id=local.id)
    exported = staff.get("/admin/export/visits.csv?from=2026-01-01&to=2026-12-31").get_data()
    assert _send(staff, "visits", exported, "import").status_code == 303
    assert get_one(app, Visit, id=visit.id).caregiver_id == local.id
    hr1 = get_one(app, Caregiver, external_id="HR-1")
    set_columns(app, Visit, visit.id, caregiver_id=hr1.id)
    emptied = VISITS.replace("V-1,C-1,HR-1,", "V-1,C-1,,")
    assert _send(staff, "visits", emptied, "import").status_code == 303
    assert get_one(app, Visit, id=visit.id).caregiver_id is None


def test_people_and_leads_export_for_the_agencys_records(app, staff, world, make):
    from app.models import ClientLead

    make.save(
        ClientLead(
            agency_id=world.a.id, first_name="=cmd", last_name="Lead", notes="Diabetes, falls", source="Web"
        )
    )
    make.save(ClientLead(agency_id=world.b.id, first_name="Other", last_name="Agency"))
    people = staff.get("/admin/export/people.csv")
    assert people.status_code == 200 and people.mimetype == "text/csv"
    text = people.get_data(as_text=True)
    assert (
        text.splitlines()[0] == "first_name,last_name,organisation,login_name,email,phone,kind,active,clients"
    )
    assert "robertjones" in text and "payer: Margaret Jones; payer: Harold Smith" in text
    assert "owner" in text and "alicebrown" not in text  # another agency's people stay out
    leads = staff.get("/admin/export/leads.csv").get_data(as_text=True)
    assert "'=cmd,Lead" in leads and "Web" in leads and "Diabetes" not in leads and "Other" not in leads
    with recorded_sql(app) as statements:
        staff.get("/admin/export/people.csv").get_data()
    assert len(statements) <= 10
