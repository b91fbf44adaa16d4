"""Billing (app/services/invoices.py): billed time and rates, which visits are unbilled, drafts and
their edits, issuing with gap-free numbers, discarding, voiding, refunds (by the office and through
Stripe) and statements — service level, on SQLite and PostgreSQL.

Stripe is never reached: `stripe.api_base` points at a stub HTTP server on 127.0.0.1 that answers
POST /v1/refunds as Stripe would, or with Stripe's error answer when a test asks for one."""

import json
import threading
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import (
    Agency,
    AuditEvent,
    Client,
    ClientLink,
    Invoice,
    InvoiceLine,
    OutboxMail,
    Payment,
    Task,
    User,
    Visit,
    VisitTask,
    utcnow,
)
from app.models.statuses import InvoiceStatus, TaskStatus
from app.services.invoices import (
    BillingRefused,
    DraftChange,
    LineChange,
    billed_minutes,
    build_draft,
    discard_draft,
    hourly_rate,
    issue,
    line_amount,
    refund,
    refundable_cents,
    statement,
    unbilled_count,
    unbilled_visits,
    update_draft,
    void,
)
from app.services.payments import PaymentRefused, record_payment, stripe_checkout
from app.services.payments.manual import record_manual_payment
from app.tenancy import agency_scope
from tests.conftest import in_app, recorded_sql, set_columns

CHICAGO = ZoneInfo("America/Chicago")
START, END = date(2026, 12, 1), date(2026, 12, 15)  # Central Standard Time throughout (UTC-6)


def local(day, hour=9, minute=0, month=12, year=2026):
    """An instant on the agency's clock (America/Chicago)."""
    return datetime(year, month, day, hour, minute, tzinfo=CHICAGO)


# --- data -----------------------------------------------------------------------------------------


@pytest.fixture
def billing(app, world):
    """The two agencies' billing settings: A numbers ALP-1001…, bills 24.00 an hour, 14 days to
    pay; B numbers BET-501…, 31.00 an hour, 30 days."""
    set_columns(
        app,
        Agency,
        world.a.id,
        time_zone="America/Chicago",
        invoice_prefix="ALP",
        next_invoice_number=1001,
        default_hourly_rate_cents=2400,
        payment_terms_days=14,
    )
    set_columns(
        app,
        Agency,
        world.b.id,
        time_zone="America/Chicago",
        invoice_prefix="BET",
        next_invoice_number=501,
        default_hourly_rate_cents=3100,
        payment_terms_days=30,
    )
    return world


def rated_task(make, agency, name, rate_cents):
    return make.save(Task(agency_id=agency.id, name=name, hourly_rate_cents=rate_cents))


def visit(make, client, starts_at, *, worked=None, hours=2, status="completed", tasks=()):
    """A visit of `hours` scheduled; `worked` minutes clocked (from 3 minutes past the start);
    `tasks` as (task, status) pairs."""
    clock = {}
    if worked is not None:
        clock_in = starts_at + timedelta(minutes=3)
        clock = {"clock_in_at": clock_in, "clock_out_at": clock_in + timedelta(minutes=worked)}
    return make.save(_visit(client, starts_at, hours, status, clock, tasks))


def _visit(client, starts_at, hours=2, status="completed", clock=None, tasks=()):
    return Visit(
        agency_id=client.agency_id,
        client_id=client.id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=hours),
        status=status,
        tasks=[VisitTask(agency_id=client.agency_id, task_id=t.id, status=s) for t, s in tasks],
        **(clock or {}),
    )


def billed_on(make, client, visits, status="issued", number=None, **kw):
    """An invoice (of any status) with a line for each of `visits`."""
    invoice = make.invoice(client, number, total_cents=1000 * len(visits), status=status, **kw)
    for v in visits:
        make.save(
            InvoiceLine(
                agency_id=client.agency_id,
                invoice_id=invoice.id,
                visit_id=v.id,
                description="Care visit",
                billed_minutes=60,
                rate_cents=1000,
                amount_cents=1000,
            )
        )
    return invoice


def here(session, *rows):
    """The rows (detached, from the factories) as this session's objects."""
    found = [session.get(type(row), row.id) for row in rows]
    return found[0] if len(found) == 1 else found


@contextmanager
def office(app, world, which="a"):
    """A unit of work of agency A's (or B's) owner: the session, the agency and the staff member."""
    with in_app(app) as session:
        agency = session.get(Agency, getattr(world, which).id)
        staff = session.get(User, getattr(world, f"staff_{which}").id)
        yield SimpleNamespace(session=session, agency=agency, staff=staff)


def events(session, action):
    return session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).all()


def mails(session):
    return session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()


def counter(session, agency):
    """The agency's invoice counter as the database has it (the ORM's copy is not refreshed)."""
    return session.scalar(select(Agency.next_invoice_number).where(Agency.id == agency.id))


def draft_for(o, client, start=START, end=END, billed_to=None):
    return build_draft(o.agency, o.staff, here(o.session, client), start, end, billed_to=billed_to)


# --- billed time, rate, amount ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("worked", "billed"),
    [
        (0, 15),
        (7, 15),
        (8, 15),
        (22, 15),
        (23, 30),
        (52, 45),
        (53, 60),
        (60, 60),
        (67, 60),
        (68, 75),
        (-5, 15),
    ],
)
def test_clocked_time_is_billed_to_the_nearest_quarter_hour_at_least_one(worked, billed):
    starts = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    clock_in = starts + timedelta(minutes=4)
    v = Visit(
        starts_at=starts,
        ends_at=starts + timedelta(hours=3),
        clock_in_at=clock_in,
        clock_out_at=clock_in + timedelta(minutes=worked, seconds=20),
    )
    assert billed_minutes(v) == billed


@pytest.mark.parametrize(("worked", "billed"), [((52, 40), 60), ((22, 31), 30), ((67, 45), 75)])
def test_clocked_seconds_count_towards_the_nearest_quarter_hour(worked, billed):
    clock_in = datetime(2026, 12, 2, 15, 4, tzinfo=UTC)
    minutes, seconds = worked
    v = Visit(
        starts_at=clock_in,
        ends_at=clock_in + timedelta(hours=3),
        clock_in_at=clock_in,
        clock_out_at=clock_in + timedelta(minutes=minutes, seconds=seconds),
    )
    assert billed_minutes(v) == billed


@pytest.mark.parametrize("clocked", [{}, {"clock_in_at": datetime(2026, 12, 2, 15, 10, tzinfo=UTC)}])
def test_without_a_clock_out_the_scheduled_time_is_billed(clocked):
    starts = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    v = Visit(starts_at=starts, ends_at=starts + timedelta(minutes=100), **clocked)
    assert billed_minutes(v) == 100


def _rated(*tasks):
    return Visit(
        tasks=[VisitTask(status=status, task=Task(hourly_rate_cents=rate)) for rate, status in tasks]
    )


@pytest.mark.parametrize(
    ("tasks", "client_rate", "expected"),
    [
        ([(4500, TaskStatus.DONE)], 3000, 4500),  # a rated task done beats the client's rate
        ([(3500, TaskStatus.DONE), (5200, TaskStatus.DONE), (None, TaskStatus.DONE)], 3000, 5200),
        ([(1800, TaskStatus.DONE)], 3000, 1800),  # even when it is cheaper than the client's
        ([(9000, TaskStatus.REFUSED), (None, TaskStatus.DONE)], 3000, 3000),  # refused: not done
        ([(9000, TaskStatus.REFUSED), (4100, TaskStatus.DONE)], None, 4100),
        ([(None, TaskStatus.DONE)], 3000, 3000),  # the client's rate beats the agency's
        ([], None, 2400),  # else the agency's default
        ([(9000, TaskStatus.REFUSED)], None, 2400),
    ],
)
def test_the_hourly_rate_precedence(tasks, client_rate, expected):
    agency = Agency(default_hourly_rate_cents=2400)
    client = Client(hourly_rate_cents=client_rate)
    assert hourly_rate(agency, client, _rated(*tasks)) == expected


@pytest.mark.parametrize(
    ("minutes", "rate", "amount"),
    [
        (60, 2500, 2500),
        (45, 2999, 2249),  # 2249.25
        (30, 1001, 501),  # 500.5: half a cent rounds up
        (15, 2, 1),  # 0.5
        (15, 1, 0),  # 0.25
        (90, 3333, 5000),  # 4999.5
        (50, 2999, 2499),  # 2499.17
        (0, 5000, 0),
    ],
)
def test_a_line_amount_is_rounded_half_up_in_integers(minutes, rate, amount):
    result = line_amount(minutes, rate)
    assert result == amount and type(result) is int


# --- unbilled visits ----------------------------------------------------------------------------------


def test_unbilled_visits_are_the_clients_completed_ones_of_the_agencys_days(app, make, billing):
    w = billing
    inside = [
        visit(make, w.client_a, local(1, 0, 30)),  # 06:30 UTC on the first day
        visit(make, w.client_a, local(9)),
        visit(make, w.client_a, local(15, 23, 30)),  # 05:30 UTC on the 16th: still the 15th here
    ]
    for status in ("scheduled", "in_progress", "cancelled", "missed"):
        visit(make, w.client_a, local(5), status=status)
    visit(make, w.client_a, local(30, 23, 30, month=11))  # 05:30 UTC on the 1st: the 30th here
    visit(make, w.client_a, local(16, 0, 30))  # the day after the period
    visit(make, w.client_a2, local(3))  # another client
    visit(make, w.client_b, local(3))  # another agency
    with office(app, w) as o:
        client = here(o.session, w.client_a)
        found = unbilled_visits(o.agency, client, START, END)
        assert [v.id for v in found] == [v.id for v in inside]  # oldest first
        assert unbilled_count(o.agency, client, START, END) == 3
        # Another agency's unit of work never sees agency A's client's visits.
        agency_b = o.session.get(Agency, w.b.id)
        assert unbilled_visits(agency_b, client, START, END) == []
        assert unbilled_count(agency_b, client, START, END) == 0
        assert [v.client_id for v in unbilled_visits(agency_b, here(o.session, w.client_b), START, END)] == [
            w.client_b.id
        ]


def test_visits_on_a_live_invoice_are_billed_and_a_void_invoice_frees_them(app, make, billing):
    w = billing
    on_draft, on_issued, on_paid, on_void, free = (
        visit(make, w.client_a, local(day)) for day in (2, 3, 4, 5, 6)
    )
    billed_on(make, w.client_a, [on_draft], status="draft")
    billed_on(make, w.client_a, [on_issued], number="ALP-1")
    billed_on(make, w.client_a, [on_paid], status="paid", number="ALP-2", paid_cents=1000)
    billed_on(make, w.client_a, [on_void], status="void", number="ALP-3")
    with office(app, w) as o:
        client = here(o.session, w.client_a)
        assert [v.id for v in unbilled_visits(o.agency, client, START, END)] == [on_void.id, free.id]
        assert unbilled_count(o.agency, client, START, END) == 2


def test_unbilled_visits_refuse_a_backwards_or_overlong_period(app, billing):
    with office(app, billing) as o:
        client = here(o.session, billing.client_a)
        with pytest.raises(BillingRefused):
            unbilled_visits(o.agency, client, END, START)
        with pytest.raises(BillingRefused):
            unbilled_count(o.agency, client, date(2026, 1, 1), date(2027, 1, 2))
        # A single day and a whole year (a leap year's 366 days included) are fine.
        assert unbilled_visits(o.agency, client, START, START) == []
        assert unbilled_visits(o.agency, client, date(2027, 12, 1), date(2028, 11, 30)) == []


def test_unbilled_visits_cost_the_same_statements_for_3_visits_and_200(app, make, billing):
    w = billing
    bathing = rated_task(make, w.a, "Bathing", None)
    wound_care = rated_task(make, w.a, "Wound care", 4500)
    tasks = [(bathing, "done"), (wound_care, "done")]

    def measure():
        with office(app, w) as o:
            client = here(o.session, w.client_a)
            with recorded_sql(app) as statements:
                found = unbilled_visits(o.agency, client, START, END)
                rates = {hourly_rate(o.agency, client, v) for v in found}
                minutes = {billed_minutes(v) for v in found}
            return len(found), len(statements), rates, minutes

    make.save(*(_visit(w.client_a, local(2 + n, 9 + n), tasks=tasks) for n in range(3)))
    few = measure()
    make.save(*(_visit(w.client_a, local(1 + n % 15, n % 20, n % 60), tasks=tasks) for n in range(197)))
    many = measure()
    assert (few[0], many[0]) == (3, 200)
    assert few[1] == many[1] <= 2, (few, many)
    assert few[2:] == many[2:] == ({4500}, {120})


# --- drafts -----------------------------------------------------------------------------------------


@pytest.fixture
def visits(make, billing):
    """Margaret's three completed visits in the period, and Harold's one (he has a rate of his own)."""
    w = billing
    bathing = rated_task(make, w.a, "Bathing", None)
    wound = rated_task(make, w.a, "Wound care", 4500)
    nursing = rated_task(make, w.a, "Skilled nursing", 9000)
    set_columns(make.app, Client, w.client_a2.id, hourly_rate_cents=3000)
    v = SimpleNamespace()
    v.short = visit(make, w.client_a, local(2, 9), worked=52, tasks=[(bathing, "done")])  # 45 min at 24.00
    v.rated = visit(make, w.client_a, local(3, 9), worked=53, tasks=[(wound, "done")])  # 60 at 45.00
    v.scheduled = visit(  # no clock: 2 h scheduled, the refused nursing does not count: 24.00
        make, w.client_a, local(15, 23, 30), tasks=[(nursing, "refused"), (bathing, "done")]
    )
    v.harold = visit(make, w.client_a2, local(4, 10), worked=90)  # 90 min at his 30.00
    return v


def test_a_draft_has_a_line_per_visit_and_the_total_of_its_lines(app, billing, visits):
    w = billing
    with office(app, w) as o:
        invoice = draft_for(o, w.client_a)
        assert (invoice.status, invoice.number, invoice.issued_at, invoice.billed_to_id) == (
            "draft",
            None,
            None,
            None,
        )
        assert (invoice.period_start, invoice.period_end, invoice.client_id) == (START, END, w.client_a.id)
        assert [
            (line.visit_id, line.description, line.billed_minutes, line.rate_cents, line.amount_cents)
            for line in invoice.lines
        ] == [
            (visits.short.id, "Care visit Wed Dec 2, 2026", 45, 2400, 1800),
            (visits.rated.id, "Care visit Thu Dec 3, 2026", 60, 4500, 4500),
            (visits.scheduled.id, "Care visit Tue Dec 15, 2026", 120, 2400, 4800),  # the local day
        ]
        assert (invoice.total_cents, invoice.paid_cents) == (11100, 0)
        # Harold's draft, billed to Robert: his own rate; a second draft numberless as well.
        harold = draft_for(o, w.client_a2, billed_to=here(o.session, w.robert))
        assert [(line.billed_minutes, line.rate_cents, line.amount_cents) for line in harold.lines] == [
            (90, 3000, 4500)
        ]
        assert (harold.number, harold.billed_to_id, harold.total_cents) == (None, w.robert.id, 4500)
        o.session.commit()
        [event, _harold] = events(o.session, "invoice.drafted")
        assert (event.actor_id, event.target_type, event.target_id, event.client_id) == (
            w.staff_a.id,
            "Invoice",
            invoice.id,
            w.client_a.id,
        )
        assert event.details == {"visits": 3, "total_cents": 11100}
        # Everything is billed now: a second draft for the period has nothing to bill.
        with pytest.raises(BillingRefused):
            draft_for(o, w.client_a)


def test_a_draft_is_refused_with_nothing_to_bill_or_a_bad_period(app, make, billing):
    w = billing
    visit(make, w.client_a, local(2), status="scheduled")
    visit(make, w.client_a, local(20))  # after the period
    with office(app, w) as o:
        for start, end in [(START, END), (END, START), (date(2026, 1, 1), date(2027, 1, 2))]:
            with pytest.raises(BillingRefused):
                draft_for(o, w.client_a, start, end)
        assert o.session.scalar(select(func.count(Invoice.id))) == 0
        o.session.commit()
        assert events(o.session, "invoice.drafted") == []


# --- editing a draft --------------------------------------------------------------------------------


def _change(invoice, *lines, **kw):
    kw.setdefault("billed_to", None)
    kw.setdefault("due_on", None)
    kw.setdefault("notes", None)
    return DraftChange(lines=list(lines), **kw)


def _same(line, **kw):
    """A LineChange that keeps the line as it is, but for `kw`."""
    values = {
        "description": line.description,
        "billed_minutes": line.billed_minutes,
        "rate_cents": line.rate_cents,
    }
    return LineChange(line_id=line.id, **(values | kw))


def test_editing_a_draft_recomputes_amounts_and_the_total(app, billing, visits):
    w = billing
    with office(app, w) as o:
        invoice = draft_for(o, w.client_a)
        short, rated, scheduled = invoice.lines
        change = _change(
            invoice,
            _same(short, description="Care visit, longer", billed_minutes=50, rate_cents=2999),  # 2499.17
            LineChange(rated.id, "gone", 60, 4500, remove=True),
            _same(scheduled, billed_minutes=10, rate_cents=2703),  # 450.5 → 451
            billed_to=here(o.session, w.robert),
            due_on=date(2027, 1, 10),
            notes="Thank you",
            new_description="Mileage",
            new_amount_cents=1250,
        )
        update_draft(invoice, o.staff, change)
        o.session.commit()
        o.session.expire_all()
        invoice = o.session.get(Invoice, invoice.id)
        assert [
            (line.visit_id, line.description, line.billed_minutes, line.rate_cents, line.amount_cents)
            for line in invoice.lines
        ] == [
            (visits.short.id, "Care visit, longer", 50, 2999, 2499),
            (visits.scheduled.id, "Care visit Tue Dec 15, 2026", 10, 2703, 451),
            (None, "Mileage", None, 1250, 1250),  # a unit line: its rate is its amount
        ]
        assert invoice.total_cents == 2499 + 451 + 1250
        assert (invoice.billed_to_id, invoice.due_on, invoice.notes, invoice.status) == (
            w.robert.id,
            date(2027, 1, 10),
            "Thank you",
            "draft",
        )
        assert o.session.get(InvoiceLine, rated.id) is None  # the removed line is deleted
        # ...and its visit can be billed again.
        client = here(o.session, w.client_a)
        assert [v.id for v in unbilled_visits(o.agency, client, START, END)] == [visits.rated.id]
        [event] = events(o.session, "invoice.draft_changed")
        assert event.target_id == invoice.id and event.details == {"lines": 3, "total_cents": 4200}

        # A unit line's new price; minutes given for it leave it a unit line. Notes emptied.
        mileage = invoice.lines[-1]
        update_draft(invoice, o.staff, _change(invoice, _same(mileage, billed_minutes=30, rate_cents=2000)))
        assert (mileage.billed_minutes, mileage.rate_cents, mileage.amount_cents) == (None, 2000, 2000)
        assert (invoice.total_cents, invoice.notes, invoice.billed_to_id) == (2499 + 451 + 2000, None, None)


def test_a_draft_edit_is_refused_without_lines_with_a_stranger_line_or_once_issued(app, billing, visits):
    w = billing
    with office(app, w) as o:
        invoice = draft_for(o, w.client_a)
        harold = draft_for(o, w.client_a2)
        o.session.commit()
        everything = [LineChange(line.id, line.description, 60, 1, remove=True) for line in invoice.lines]
        with pytest.raises(BillingRefused):
            update_draft(invoice, o.staff, _change(invoice, *everything))
        o.session.rollback()
        with pytest.raises(BillingRefused):  # a line of another draft
            update_draft(invoice, o.staff, _change(invoice, _same(harold.lines[0], rate_cents=1)))
        o.session.rollback()
        assert [line.amount_cents for line in harold.lines] == [4500]
        issue(o.agency, invoice, o.staff, notify=False)
        with pytest.raises(BillingRefused):
            update_draft(invoice, o.staff, _change(invoice, _same(invoice.lines[0], rate_cents=1)))
        with pytest.raises(BillingRefused):
            update_draft(invoice, o.staff, _change(invoice, new_description="Mileage", new_amount_cents=100))
        assert invoice.total_cents == 11100


# --- issuing -----------------------------------------------------------------------------------------


def test_issuing_numbers_each_agencys_invoices_in_turn(app, make, billing, visits):
    w = billing
    visit(make, w.client_b, local(5), worked=60)
    visit(make, w.client_b, local(6), worked=60)
    with office(app, w) as o:
        first = draft_for(o, w.client_a, START, date(2026, 12, 2))
        second = draft_for(o, w.client_a, date(2026, 12, 3), END)
        harold = draft_for(o, w.client_a2)
        before = utcnow()
        issue(o.agency, second, o.staff, notify=False)  # the order of issue, not of drafting
        issue(o.agency, first, o.staff, notify=False)
        after = utcnow()
        assert (second.number, first.number, harold.number) == ("ALP-1001", "ALP-1002", None)
        assert (first.status, second.status) == ("issued", "issued")
        assert before <= first.issued_at <= after
        today = first.issued_at.astimezone(CHICAGO).date()
        assert first.due_on == today + timedelta(days=14)
        assert counter(o.session, o.agency) == 1003
        harold_id = harold.id
        o.session.commit()
    with office(app, w, "b") as o:
        client_b = here(o.session, w.client_b)
        beta_1 = build_draft(o.agency, o.staff, client_b, START, date(2026, 12, 5))
        beta_2 = build_draft(o.agency, o.staff, client_b, date(2026, 12, 6), END)
        issue(o.agency, beta_1, o.staff, notify=False)
        issue(o.agency, beta_2, o.staff, notify=False)
        assert (beta_1.number, beta_2.number) == ("BET-501", "BET-502")
        assert beta_1.total_cents == 3100  # agency B's default rate
        o.session.commit()
    with office(app, w) as o:
        harold = o.session.get(Invoice, harold_id)
        issue(o.agency, harold, o.staff, notify=False)
        assert harold.number == "ALP-1003"  # A's counter never saw B's invoices
        o.session.commit()
        [*_, event] = events(o.session, "invoice.issued")
        assert (event.target_id, event.actor_id, event.details) == (
            harold_id,
            w.staff_a.id,
            {"invoice": "ALP-1003", "total_cents": 4500},
        )


def test_the_due_date_is_the_local_issue_day_plus_the_terms_unless_the_draft_has_one(app, billing, visits):
    w = billing
    set_columns(app, Agency, w.a.id, payment_terms_days=30)
    evening = datetime(2026, 12, 16, 3, 0, tzinfo=UTC)  # 21:00 on Dec 15 in Chicago
    with office(app, w) as o:
        own = draft_for(o, w.client_a)
        harold = draft_for(o, w.client_a2)
        harold.due_on = date(2026, 12, 20)
        issue(o.agency, own, o.staff, notify=False, when=evening)
        issue(o.agency, harold, o.staff, notify=False, when=evening)
        assert (own.issued_at, own.due_on) == (evening, date(2027, 1, 14))  # Dec 15 + 30, not Dec 16 + 30
        assert harold.due_on == date(2026, 12, 20)
        o.session.commit()
        o.session.expire_all()
        assert here(o.session, own).issued_at == evening


def test_an_empty_or_zero_invoice_is_not_issued_and_takes_no_number(app, make, billing):
    w = billing
    set_columns(app, Agency, w.a.id, default_hourly_rate_cents=0)
    visit(make, w.client_a, local(2), worked=60)
    lineless = make.invoice(w.client_a, None, total_cents=0, status="draft", issued_at=None)
    with office(app, w) as o:
        zero = draft_for(o, w.client_a)
        assert zero.total_cents == 0
        for draft in (zero, here(o.session, lineless)):
            with pytest.raises(BillingRefused):
                issue(o.agency, draft, o.staff)
            assert (draft.status, draft.number) == ("draft", None)
        assert counter(o.session, o.agency) == 1001
        assert mails(o.session) == []
        # A negative line (a credit larger than the visits) is refused by the draft already.
        with pytest.raises(BillingRefused):
            credit = _change(zero, new_description="Goodwill credit", new_amount_cents=-500)
            update_draft(zero, o.staff, credit)


def test_an_issued_invoice_is_not_issued_again(app, billing, visits):
    with office(app, billing) as o:
        invoice = draft_for(o, billing.client_a)
        issue(o.agency, invoice, o.staff, notify=False)
        with pytest.raises(BillingRefused):
            issue(o.agency, invoice, o.staff, notify=False)
        assert (invoice.number, counter(o.session, o.agency)) == ("ALP-1001", 1002)


def test_a_draft_billed_to_someone_no_longer_the_payer_is_not_issued(app, billing, visits):
    w = billing
    with office(app, w) as o:
        robert = here(o.session, w.robert)
        invoice = draft_for(o, w.client_a, billed_to=robert)
        o.session.execute(
            ClientLink.__table__.delete().where(
                ClientLink.user_id == robert.id, ClientLink.client_id == w.client_a.id
            )
        )
        with pytest.raises(BillingRefused, match="no longer the client's payer"):
            issue(o.agency, invoice, o.staff, notify=False)
        assert (invoice.status, invoice.number, counter(o.session, o.agency)) == ("draft", None, 1001)
        issue(o.agency, draft_for(o, w.client_a2, billed_to=robert), o.staff, notify=False)  # still his


def test_a_number_rolled_back_with_its_request_is_given_to_the_next_invoice(app, billing, visits):
    w = billing
    with office(app, w) as o:
        own, harold = draft_for(o, w.client_a), draft_for(o, w.client_a2)
        o.session.commit()
        savepoint = o.session.begin_nested()  # a request that issues, then fails
        issue(o.agency, own, o.staff)
        assert own.number == "ALP-1001"
        savepoint.rollback()
        assert (own.status, own.number) == ("draft", None)
        assert counter(o.session, o.agency) == 1001
        issue(o.agency, harold, o.staff)
        assert harold.number == "ALP-1001"  # no gap
        o.session.commit()
        issue(o.agency, own, o.staff)
        o.session.rollback()  # the whole unit of work this time
        issue(o.agency, here(o.session, own), o.staff)
        assert here(o.session, own).number == "ALP-1002"
        assert len(mails(o.session)) == 2  # the rolled-back mails went with their numbers


def test_an_issue_rolled_back_with_its_savepoint_leaves_no_audit_event(app, billing, visits):
    w = billing
    with office(app, w) as o:
        own, harold = draft_for(o, w.client_a), draft_for(o, w.client_a2)
        savepoint = o.session.begin_nested()
        issue(o.agency, own, o.staff, notify=False)
        savepoint.rollback()
        issue(o.agency, harold, o.staff, notify=False)
        o.session.commit()
        issued = events(o.session, "invoice.issued")
        assert [(e.target_id, e.details["invoice"]) for e in issued] == [(harold.id, "ALP-1001")]


def test_issuing_mails_the_payer_or_the_client_the_number_and_amount_only(app, billing, visits):
    w = billing
    with office(app, w) as o:
        own = draft_for(o, w.client_a)  # Margaret's own: to her account (not Susan, her contact)
        harold = draft_for(o, w.client_a2, billed_to=here(o.session, w.robert))  # to Robert who pays
        issue(o.agency, own, o.staff, notify=True)
        issue(o.agency, harold, o.staff)  # notify is the default
        mine, roberts = mails(o.session)
        assert (mine.to_address, roberts.to_address) == (
            "margaretjones@example.com",
            "robertjones@example.com",
        )
        assert mine.subject == "A new invoice from Alpha Home Care"
        assert "ALP-1001" in mine.body_text and "$111.00" in mine.body_text
        assert "ALP-1002" in roberts.body_text and "$45.00" in roberts.body_text
        assert f"/invoices/{own.id}" in mine.body_text
        for mail in (mine, roberts):
            body = (mail.subject + mail.body_text).lower()
            for detail in ("visit", "bathing", "wound", "nursing", "minutes", "harold", "margaret"):
                assert detail not in body, (detail, mail.body_text)


def test_issuing_without_notice_queues_no_mail(app, billing, visits):
    with office(app, billing) as o:
        issue(o.agency, draft_for(o, billing.client_a), o.staff, notify=False)
        assert mails(o.session) == []


@pytest.mark.commits  # two connections issue at once
def test_two_requests_issuing_at_once_get_consecutive_numbers(app, billing, visits):
    w = billing
    with office(app, w) as o:
        if o.session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite has one writer for the whole database")
        ids = [draft_for(o, w.client_a).id, draft_for(o, w.client_a2).id]
        o.session.commit()
    first_issued = threading.Event()
    numbers, waited, failures = {}, {}, []

    def request(n):
        try:
            with office(app, w) as o:
                if n == 1 and not first_issued.wait(5):
                    raise TimeoutError("the first request never issued")
                o.session.execute(text("SET LOCAL lock_timeout = '5s'"))
                began = time.monotonic()
                invoice = o.session.get(Invoice, ids[n])
                issue(o.agency, invoice, o.staff, notify=False)
                waited[n] = time.monotonic() - began
                numbers[n] = invoice.number
                if n == 0:
                    first_issued.set()
                    time.sleep(0.3)  # the counter's row stays locked until this commit
                o.session.commit()
        except Exception as error:  # reported below; a thread's exception would be lost
            failures.append(error)
            first_issued.set()

    threads = [threading.Thread(target=request, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    assert failures == [] and not any(t.is_alive() for t in threads)
    assert numbers == {0: "ALP-1001", 1: "ALP-1002"}
    assert waited[1] >= 0.2  # the second waited for the first's commit
    with office(app, w) as o:
        assert counter(o.session, o.agency) == 1003
        assert sorted(o.session.scalars(select(Invoice.number))) == ["ALP-1001", "ALP-1002"]


@pytest.mark.commits  # two connections draft at once
def test_two_drafts_built_at_once_never_bill_a_visit_twice(app, billing, visits):
    w = billing
    with office(app, w) as o:
        if o.session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite has one writer for the whole database")
    outcome = {}

    def second_request():
        try:
            with office(app, w) as o:
                o.session.execute(text("SET LOCAL lock_timeout = '5s'"))
                outcome["draft"] = draft_for(o, w.client_a).id
                o.session.commit()
        except Exception as error:  # BillingRefused is the right answer
            outcome["error"] = error

    with office(app, w) as o:
        first_id = draft_for(o, w.client_a).id  # flushed, not committed yet
        other = threading.Thread(target=second_request)
        other.start()
        other.join(timeout=0.5)  # a second request that locks waits for this one's commit
        o.session.commit()
    other.join(timeout=10)
    assert not other.is_alive()
    with office(app, w) as o:
        live = o.session.execute(
            select(InvoiceLine.visit_id, func.count(InvoiceLine.id))
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.status != InvoiceStatus.VOID, InvoiceLine.visit_id.is_not(None))
            .group_by(InvoiceLine.visit_id)
        ).all()
        assert {visit_id: n for visit_id, n in live} == {
            visits.short.id: 1,
            visits.rated.id: 1,
            visits.scheduled.id: 1,
        }, f"drafts {first_id} and {outcome.get('draft')} bill the same visits"
        assert isinstance(outcome.get("error"), BillingRefused)


# --- discarding and voiding ------------------------------------------------------------------------


def test_discarding_a_draft_deletes_it_and_frees_its_visits(app, billing, visits):
    w = billing
    with office(app, w) as o:
        invoice = draft_for(o, w.client_a)
        line_ids = [line.id for line in invoice.lines]
        o.session.commit()
        discard_draft(invoice, o.staff)
        o.session.commit()
        assert o.session.get(Invoice, invoice.id) is None
        assert o.session.scalar(select(func.count()).where(InvoiceLine.id.in_(line_ids))) == 0
        assert unbilled_count(o.agency, here(o.session, w.client_a), START, END) == 3
        [event] = events(o.session, "invoice.draft_discarded")
        assert (event.target_id, event.client_id, event.actor_id) == (invoice.id, w.client_a.id, w.staff_a.id)
        issued = draft_for(o, w.client_a)
        # A new row never takes the discarded draft's id (nor its lines'), on SQLite too: the
        # audit events above still name the draft that was discarded.
        assert issued.id > invoice.id and min(line.id for line in issued.lines) > max(line_ids)
        issue(o.agency, issued, o.staff, notify=False)
        with pytest.raises(BillingRefused):
            discard_draft(issued, o.staff)
        o.session.flush()
        assert o.session.get(Invoice, issued.id).status == "issued"


def test_voiding_keeps_the_reason_and_frees_the_visits(app, billing, visits):
    w = billing
    with office(app, w) as o:
        invoice = draft_for(o, w.client_a)
        with pytest.raises(BillingRefused):
            void(invoice, o.staff, "wrong client")  # a draft is discarded, not voided
        issue(o.agency, invoice, o.staff, notify=False)
        for reason in ("", "   ", None):
            with pytest.raises(BillingRefused):
                void(invoice, o.staff, reason)
        before = utcnow()
        void(invoice, o.staff, "  Billed at the wrong rate " + "x" * 400)
        assert invoice.status == "void" and before <= invoice.voided_at <= utcnow()
        assert invoice.void_reason == ("Billed at the wrong rate " + "x" * 400)[:300]
        assert invoice.number == "ALP-1001"  # a void invoice keeps its number
        with pytest.raises(BillingRefused):
            void(invoice, o.staff, "again")
        o.session.commit()
        [event] = events(o.session, "invoice.voided")
        assert event.details["invoice"] == "ALP-1001" and event.details["reason"].startswith("Billed at")
        # The visits are billable again, on an invoice with the next number.
        again = draft_for(o, w.client_a)
        assert [line.visit_id for line in again.lines] == [
            visits.short.id,
            visits.rated.id,
            visits.scheduled.id,
        ]
        issue(o.agency, again, o.staff, notify=False)
        assert again.number == "ALP-1002"


def test_an_invoice_holding_money_is_not_voided(app, billing, visits):
    with office(app, billing) as o:
        invoice = draft_for(o, billing.client_a)
        issue(o.agency, invoice, o.staff, notify=False)
        payment = record_manual_payment(o.agency, o.staff, invoice, 1000, "check", "cheque 1")
        with pytest.raises(BillingRefused):
            void(invoice, o.staff, "wrong rate")
        assert invoice.status == "issued"
        refund(o.agency, payment, o.staff, 1000, "voiding it")  # once it holds nothing, it may be
        void(invoice, o.staff, "wrong rate")
        assert (invoice.status, invoice.paid_cents) == ("void", 0)


# --- refunds -----------------------------------------------------------------------------------------


@pytest.fixture
def paid(make, billing):
    """Margaret's invoice ALP-9 of 100.00 (the demo's kind: made, not issued here)."""
    return make.invoice(billing.client_a, "ALP-9", 10000, issued_at=datetime(2026, 12, 1, 15, tzinfo=UTC))


def test_a_payment_is_refunded_in_parts_never_more_than_is_left(app, billing, paid):
    w = billing
    with office(app, w) as o:
        invoice = here(o.session, paid)
        payment = record_manual_payment(o.agency, o.staff, invoice, 10000, "check", "cheque 1042")
        assert invoice.status == "paid"
        first = refund(o.agency, payment, o.staff, 3000, "  Overcharged for mileage ")
        assert (first.amount_cents, first.refund_of_id, first.is_refund, first.method) == (
            -3000,
            payment.id,
            True,
            "check",
        )
        assert (first.reference, first.gateway_event_id, first.recorded_by_id, first.invoice_id) == (
            "Overcharged for mileage",
            None,
            w.staff_a.id,
            invoice.id,
        )
        assert (invoice.paid_cents, invoice.status, invoice.balance_cents) == (7000, "issued", 3000)
        assert (refundable_cents(payment), refundable_cents(first)) == (7000, 0)
        refund(o.agency, payment, o.staff, 5000, "Visit cancelled")
        assert (invoice.paid_cents, refundable_cents(payment)) == (2000, 2000)
        with pytest.raises(BillingRefused):
            refund(o.agency, payment, o.staff, 2001, "the rest and a cent")
        assert (invoice.paid_cents, refundable_cents(payment)) == (2000, 2000)
        o.session.commit()
        refunds = o.session.scalars(select(Payment).where(Payment.refund_of_id == payment.id)).all()
        assert sorted(r.amount_cents for r in refunds) == [-5000, -3000]
        assert [e.details["amount_cents"] for e in events(o.session, "payment.refunded")] == [3000, 5000]
        assert events(o.session, "payment.refunded")[0].details["refund_id"] == first.id


@pytest.mark.parametrize(
    ("amount", "reason"),
    [(0, "why"), (-100, "why"), (100, ""), (100, "   "), (100, None), (10.0, "float"), ("100", "text")],
)
def test_a_refund_needs_an_amount_above_zero_and_a_reason(app, billing, paid, amount, reason):
    with office(app, billing) as o:
        invoice = here(o.session, paid)
        payment = record_manual_payment(o.agency, o.staff, invoice, 4000, "transfer", None)
        with pytest.raises(BillingRefused):
            refund(o.agency, payment, o.staff, amount, reason)
        assert (invoice.paid_cents, refundable_cents(payment)) == (4000, 4000)
        assert o.session.scalar(select(func.count(Payment.id)).where(Payment.amount_cents < 0)) == 0


def test_a_refund_is_not_refunded_and_a_void_invoice_refunds_nothing(app, make, billing, paid):
    w = billing
    with office(app, w) as o:
        invoice = here(o.session, paid)
        payment = record_manual_payment(o.agency, o.staff, invoice, 4000, "cash", None)
        given_back = refund(o.agency, payment, o.staff, 1000, "change")
        with pytest.raises(BillingRefused):
            refund(o.agency, given_back, o.staff, 500, "a refund of a refund")
        payment_id = payment.id
        o.session.commit()
    set_columns(app, Invoice, paid.id, status="void", voided_at=utcnow(), void_reason="test")
    with office(app, w) as o:
        with pytest.raises(BillingRefused):
            refund(o.agency, o.session.get(Payment, payment_id), o.staff, 500, "void now")
        assert o.session.get(Invoice, paid.id).paid_cents == 3000


# --- refunds through Stripe -------------------------------------------------------------------------


def _card_payment(o, invoice, amount=6000, intent="pi_test_9"):
    """A payment Stripe took: the webhook records the session id and the payment intent."""
    return record_payment(o.agency, invoice, amount, "card", intent, None, gateway_id="cs_test_9")


def test_a_payment_stripe_took_is_refunded_through_stripe(app, billing, paid, stripe_stub):
    w = billing
    with office(app, w) as o:
        invoice = here(o.session, paid)
        taken = _card_payment(o, invoice)
        office_payment = record_manual_payment(o.agency, o.staff, invoice, 4000, "card", "by phone")
        assert invoice.status == "paid"
        assert stripe_checkout.refunder(o.agency, office_payment) is None  # the office gives it back
        given_back = refund(
            o.agency,
            taken,
            o.staff,
            2500,
            "Visit cancelled",
            gateway_refund=stripe_checkout.refunder(o.agency, taken),
        )
        [call] = stripe_stub.received
        assert call["path"] == "/v1/refunds" and call["auth"] == "Bearer sk_test_porchlight"
        assert call["form"]["payment_intent"] == "pi_test_9" and call["form"]["amount"] == "2500"
        assert call["form"]["metadata[payment_id]"] == str(taken.id)
        assert call["form"]["metadata[agency_id]"] == str(w.a.id)
        assert "Visit cancelled" not in json.dumps(call["form"])  # the reason stays here
        assert (given_back.gateway_event_id, given_back.amount_cents, given_back.method) == (
            "re_test_1",
            -2500,
            "card",
        )
        assert (invoice.paid_cents, invoice.status, refundable_cents(taken)) == (7500, "issued", 3500)
        assert stripe_checkout.refunder(o.agency, given_back) is None  # a refund is not refunded
        o.session.commit()
        assert (
            o.session.scalar(select(Payment).where(Payment.gateway_event_id == "re_test_1")).id
            == given_back.id
        )


def test_stripe_refusing_a_refund_records_nothing(app, billing, paid, stripe_stub):
    stripe_stub.refund_error = (
        400,
        {
            "error": {
                "type": "invalid_request_error",
                "code": "charge_already_refunded",
                "message": "Charge already refunded.",
            }
        },
    )
    with office(app, billing) as o:
        invoice = here(o.session, paid)
        taken = _card_payment(o, invoice)
        with pytest.raises(BillingRefused, match="Charge already refunded"):
            refund(
                o.agency,
                taken,
                o.staff,
                1000,
                "twice",
                gateway_refund=stripe_checkout.refunder(o.agency, taken),
            )
        assert len(stripe_stub.received) == 1
        assert (invoice.paid_cents, refundable_cents(taken)) == (6000, 6000)
        assert o.session.scalar(select(func.count(Payment.id)).where(Payment.amount_cents < 0)) == 0
        o.session.commit()
        assert events(o.session, "payment.refunded") == []


def test_a_stripe_refund_without_an_intent_or_a_key_never_calls_stripe(
    app, billing, paid, stripe_stub, monkeypatch
):
    with office(app, billing) as o:
        invoice = here(o.session, paid)
        no_intent = _card_payment(o, invoice, 3000, intent="cs_test_9")  # a session id, no intent
        with pytest.raises(BillingRefused):
            refund(
                o.agency,
                no_intent,
                o.staff,
                1000,
                "x",
                gateway_refund=stripe_checkout.refunder(o.agency, no_intent),
            )
        monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", None)
        intent = record_payment(o.agency, invoice, 3000, "card", "pi_test_10", None, gateway_id="cs_test_10")
        with pytest.raises(BillingRefused):
            refund(
                o.agency,
                intent,
                o.staff,
                1000,
                "x",
                gateway_refund=stripe_checkout.refunder(o.agency, intent),
            )
        assert stripe_stub.received == [] and invoice.paid_cents == 6000


# --- payments received on a day ---------------------------------------------------------------------


def test_a_manual_payment_keeps_the_day_it_was_received_and_refuses_overpayment(app, billing, paid):
    received = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    with office(app, billing) as o:
        invoice = here(o.session, paid)
        late = record_manual_payment(
            o.agency, o.staff, invoice, 4000, "check", "cheque 7", received_at=received
        )
        now = record_manual_payment(o.agency, o.staff, invoice, 1000, "cash", None)
        assert abs(now.received_at - utcnow()) < timedelta(minutes=1)
        for amount in (5001, 0):
            with pytest.raises(PaymentRefused):
                record_manual_payment(o.agency, o.staff, invoice, amount, "check", None, received_at=received)
        o.session.commit()
        o.session.expire_all()
        assert o.session.get(Payment, late.id).received_at == received
        assert o.session.get(Invoice, paid.id).paid_cents == 5000


# --- statements --------------------------------------------------------------------------------------


def _payment(invoice, cents, at, refund_of=None):
    return Payment(
        agency_id=invoice.agency_id,
        invoice_id=invoice.id,
        amount_cents=cents,
        method="check",
        received_at=at,
        refund_of_id=refund_of.id if refund_of else None,
    )


@pytest.fixture
def ledger(make, billing):
    """Margaret's and Harold's invoices and payments around December (period Dec 1–31, Chicago)."""
    w = billing
    m, h = w.client_a, w.client_a2
    s = SimpleNamespace()
    s.old = make.invoice(m, "ALP-1", 10000, issued_at=local(20, month=11))
    make.invoice(m, "ALP-V0", 5000, status="void", issued_at=local(10, month=11))
    make.invoice(m, None, 7000, status="draft", issued_at=None)
    s.dec = make.invoice(m, "ALP-2", 20000, issued_at=local(3, 10))
    make.invoice(m, "ALP-V1", 8000, status="void", issued_at=local(5))
    s.late = make.invoice(m, "ALP-3", 3000, issued_at=local(31, 23, 30))  # 05:30 UTC on Jan 1
    make.invoice(m, "ALP-4", 9900, issued_at=local(1, 0, 30, month=1, year=2027))  # after
    s.robert_m = make.invoice(m, "ALP-5", 4000, billed_to=w.robert, issued_at=local(8))
    s.robert_h_old = make.invoice(h, "ALP-6", 6000, billed_to=w.robert, issued_at=local(25, month=11))
    s.robert_h = make.invoice(h, "ALP-7", 2500, billed_to=w.robert, issued_at=local(9))
    make.invoice(h, "ALP-8", 1200, issued_at=local(9))  # Harold's own: not Robert's
    make.invoice(w.client_b, "BET-1", 7700, issued_at=local(9))  # another agency
    s.p0 = _payment(s.old, 4000, local(25, month=11))
    s.p1 = _payment(s.old, 6000, local(10))
    s.p2 = _payment(s.dec, 15000, local(12))
    s.p_after = _payment(s.dec, 1000, local(1, 0, 30, month=1, year=2027))
    s.r_old = _payment(s.robert_h_old, 6000, local(28, month=11))
    s.r_m = _payment(s.robert_m, 4000, local(11))
    make.save(s.p0, s.p1, s.p2, s.p_after, s.r_old, s.r_m)
    s.refund = make.save(_payment(s.dec, -2000, local(20), refund_of=s.p2))
    s.r_refund_old = make.save(_payment(s.robert_h_old, -1000, local(30, 12, month=11), refund_of=s.r_old))
    return s


DECEMBER = (date(2026, 12, 1), date(2026, 12, 31))


def test_a_clients_statement(app, billing, ledger):
    s = ledger
    with office(app, billing) as o:
        st = statement(o.agency, *DECEMBER, client=here(o.session, billing.client_a))
        # Before December: ALP-1 (100.00) less 40.00 paid; the void and the draft do not count.
        assert st.opening_cents == 6000
        assert [
            (
                row.on,
                row.invoice.number,
                row.payment and row.payment.id,
                row.charge_cents,
                row.credit_cents,
                row.balance_cents,
            )
            for row in st.rows
        ] == [
            (date(2026, 12, 3), "ALP-2", None, 20000, 0, 26000),
            (date(2026, 12, 8), "ALP-5", None, 4000, 0, 30000),  # Margaret's, paid by Robert
            (date(2026, 12, 10), "ALP-1", s.p1.id, 0, 6000, 24000),
            (date(2026, 12, 11), "ALP-5", s.r_m.id, 0, 4000, 20000),
            (date(2026, 12, 12), "ALP-2", s.p2.id, 0, 15000, 5000),
            (date(2026, 12, 20), "ALP-2", s.refund.id, 0, -2000, 7000),  # a refund: a negative credit
            (date(2026, 12, 31), "ALP-3", None, 3000, 0, 10000),  # the local day
        ]
        assert (st.invoiced_cents, st.paid_cents, st.closing_cents) == (27000, 23000, 10000)
        assert (
            st.closing_cents
            == st.opening_cents + st.invoiced_cents - st.paid_cents
            == st.rows[-1].balance_cents
        )
        assert (st.start, st.end) == DECEMBER


def test_a_statement_names_every_client_whose_money_it_shows_rows_or_not(app, billing, ledger):
    """What the office's statement page records as viewed: a payer's quiet month still shows the
    opening balance of each client billed to them."""
    with office(app, billing) as o:
        robert = here(o.session, billing.robert)
        quiet = statement(o.agency, date(2027, 3, 1), date(2027, 3, 31), payer=robert)
        assert quiet.rows == [] and quiet.opening_cents != 0
        assert quiet.client_ids == sorted([billing.client_a.id, billing.client_a2.id])
        assert statement(o.agency, date(2026, 11, 1), date(2026, 11, 30), payer=robert).client_ids == [
            billing.client_a2.id  # only Harold's ALP-6 was billed to Robert by the end of November
        ]
        harold = here(o.session, billing.client_a2)
        assert statement(o.agency, *DECEMBER, client=harold).client_ids == [harold.id]


def test_a_payers_statement_covers_every_client_they_pay_for(app, billing, ledger):
    s = ledger
    with office(app, billing) as o:
        st = statement(o.agency, *DECEMBER, payer=here(o.session, billing.robert))
        assert st.opening_cents == 6000 - 6000 + 1000  # ALP-6 paid, then 10.00 of it refunded
        assert [
            (
                row.on,
                row.invoice.number,
                row.invoice.client.first_name,
                row.charge_cents,
                row.credit_cents,
                row.balance_cents,
            )
            for row in st.rows
        ] == [
            (date(2026, 12, 8), "ALP-5", "Margaret", 4000, 0, 5000),
            (date(2026, 12, 9), "ALP-7", "Harold", 2500, 0, 7500),
            (date(2026, 12, 11), "ALP-5", "Margaret", 0, 4000, 3500),
        ]
        assert (st.invoiced_cents, st.paid_cents, st.closing_cents) == (6500, 4000, 3500)
        assert s.r_refund_old.id  # counted in the opening balance above
        # Robert's November statement closes where December's opens.
        before = statement(
            o.agency, date(2026, 11, 1), date(2026, 11, 30), payer=here(o.session, billing.robert)
        )
        assert before.closing_cents == st.opening_cents


def test_a_statement_is_for_a_client_or_a_payer_and_a_sane_period(app, billing):
    with office(app, billing) as o:
        client, payer = here(o.session, billing.client_a), here(o.session, billing.robert)
        with pytest.raises(ValueError):
            statement(o.agency, *DECEMBER)
        with pytest.raises(ValueError):
            statement(o.agency, *DECEMBER, client=client, payer=payer)
        with pytest.raises(BillingRefused):
            statement(o.agency, END, START, client=client)
        with pytest.raises(BillingRefused):
            statement(o.agency, date(2026, 1, 1), date(2027, 1, 2), client=client)
        empty = statement(o.agency, *DECEMBER, client=client)
        assert (empty.opening_cents, empty.rows, empty.closing_cents) == (0, [], 0)


def test_a_statement_costs_the_same_statements_whatever_the_data(app, make, billing):
    w = billing

    def add(n, offset):
        bills = [
            make.invoice(w.client_a, f"ALP-{offset + i}", 1000 + i, issued_at=local(1 + i % 28, 8))
            for i in range(n)
        ]
        old = make.invoice(w.client_a, f"ALP-OLD-{offset}", 500, issued_at=local(2, month=11))
        make.save(*(_payment(bill, 100, local(1 + i % 28, 18)) for i, bill in enumerate(bills)))
        make.save(_payment(old, 500, local(3)))  # an invoice of before, paid in the period

    def measure():
        with office(app, w) as o:
            client = here(o.session, w.client_a)
            with recorded_sql(app) as statements:
                st = statement(o.agency, *DECEMBER, client=client)
                shown = [
                    (r.on, r.invoice.number, r.payment and r.payment.amount_cents, r.balance_cents)
                    for r in st.rows
                ]
            return len(shown), len(statements)

    add(2, 100)
    few = measure()
    add(60, 200)
    many = measure()
    assert (few[0], many[0]) == (2 * 2 + 1, 62 * 2 + 2)
    assert few[1] == many[1] <= 5, (few, many)


# --- a request's scope --------------------------------------------------------------------------------


def test_the_cycle_runs_in_one_agencys_scope_as_a_request_does(app, billing, visits):
    """Draft, edit, issue, pay, refund, void and statement with agency A in scope (the tenancy net
    on), not every agency."""
    w = billing
    with app.app_context():
        agency = db.session.get(Agency, w.a.id)
        with agency_scope(agency):
            staff, client = db.session.get(User, w.staff_a.id), db.session.get(Client, w.client_a.id)
            invoice = build_draft(agency, staff, client, START, END)
            update_draft(invoice, staff, _change(invoice, new_description="Supplies", new_amount_cents=900))
            issue(agency, invoice, staff)
            payment = record_manual_payment(agency, staff, invoice, 12000, "check", None)
            refund(agency, payment, staff, 12000, "wrong client")
            void(invoice, staff, "wrong client")
            assert unbilled_count(agency, client, START, END) == 3
            st = statement(agency, *DECEMBER, client=client)
            assert st.closing_cents == 0 and st.rows == []  # a void invoice is on no statement
            db.session.rollback()
