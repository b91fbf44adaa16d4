"""The audit log: one hash chain per agency, written as the transaction commits, safe under
concurrent writers, and checked by `flask audit verify`."""

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.models import AuditEvent
from app.services import audit
from tests.conftest import in_app, login


def record_and_commit(app, agency_id, action="test.event", **details):
    with in_app(app) as session:
        event = audit.record(action, actor=None, agency_id=agency_id, **details)
        session.commit()
        return event.id


def chain_of(app, agency_id):
    with in_app(app) as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.agency_id == agency_id).order_by(AuditEvent.id)
        ).all()
        return [(e.prev_hash, e.hash) for e in events]


def count_events(app):
    with in_app(app) as session:
        return session.scalar(select(func.count(AuditEvent.id)))


def tamper(app, event_id):
    with in_app(app) as session:
        session.execute(text("UPDATE audit_events SET action = 'forged' WHERE id = :id"), {"id": event_id})
        session.commit()


def flask_audit_verify(app, *args):
    return app.test_cli_runner().invoke(args=["audit", "verify", *args])


def test_each_agency_has_its_own_chain(app, world):
    for agency in (world.a, world.b, world.a, world.b, None):
        record_and_commit(app, agency and agency.id)
    for agency_id in (world.a.id, world.b.id, None):
        chain = chain_of(app, agency_id)
        # Each chain starts afresh and links only its own events, interleaved ids notwithstanding.
        assert [prev for prev, _ in chain] == [audit.GENESIS] + [hash_ for _, hash_ in chain[:-1]]
    with in_app(app):
        assert audit.chain_breaks() == {}


def test_tampering_breaks_only_that_agencys_chain(app, world):
    a_events = [record_and_commit(app, world.a.id, n=n) for n in range(3)]
    record_and_commit(app, world.b.id)
    tamper(app, a_events[1])
    with in_app(app):
        assert audit.chain_breaks() == {world.a.id: a_events[1]}
        assert audit.verify_chain(world.a.id) == a_events[1]
        assert audit.verify_chain(world.b.id) is None
        assert audit.verify_chain() == a_events[1]


def test_flask_audit_verify_names_the_first_break_of_each_agency(app, world):
    a_first, a_second = (record_and_commit(app, world.a.id, n=n) for n in range(2))
    b_only = record_and_commit(app, world.b.id)
    result = flask_audit_verify(app)
    assert (result.exit_code, result.output) == (0, "audit chain intact (every agency)\n"), result.exception

    tamper(app, a_second)
    result = flask_audit_verify(app, "--agency", "beta")
    assert (result.exit_code, result.output) == (0, "audit chain intact (beta)\n")
    result = flask_audit_verify(app, "--agency", "alpha")
    assert (result.exit_code, result.stderr) == (1, f"alpha: audit chain broken at event {a_second}\n")

    tamper(app, a_first)
    tamper(app, b_only)
    result = flask_audit_verify(app)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"alpha: audit chain broken at event {a_first}",
        f"beta: audit chain broken at event {b_only}",
    ]
    result = flask_audit_verify(app, "--agency", "nosuch")
    assert result.exit_code == 1 and "no agency 'nosuch'" in result.output


def test_events_are_written_only_when_the_transaction_commits(app, world):
    with in_app(app) as session:
        event = audit.record("test.event", actor=None, agency_id=world.a.id)
        session.flush()
        assert session.scalar(select(func.count(AuditEvent.id))) == 0
        assert count_events(app) == 0  # nor to another connection
        session.commit()
        assert (event.id, event.prev_hash) == (session.scalar(select(AuditEvent.id)), audit.GENESIS)


@pytest.mark.parametrize("query_first", [False, True], ids=["fresh session", "after a query"])
def test_a_rolled_back_transaction_writes_no_events(app, world, query_first):
    with in_app(app) as session:
        if query_first:
            session.scalar(select(func.count(AuditEvent.id)))
        audit.record("test.event", actor=None, agency_id=world.a.id)
        session.rollback()
        session.commit()
    assert count_events(app) == 0


def test_a_failed_sign_in_answers_an_error_and_keeps_its_event(client, world, app):
    response = login(client, "margaretjones", "some wrong password")
    assert response.status_code == 422
    with in_app(app) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "login.failed"))
        assert (event.actor_id, event.agency_id) == (world.margaret.id, world.a.id)
        assert audit.verify_chain() is None


@pytest.mark.commits  # another connection or thread writes at the same time
def test_concurrent_writers_keep_every_chain_unbroken(app, world):
    threads, per_thread = 8, 5
    start = threading.Barrier(threads)
    failures = []

    def write(n):
        agency_id = world.b.id if n % 4 == 0 else world.a.id  # six threads share agency A
        try:
            with app.app_context():
                start.wait()
                for i in range(per_thread):
                    audit.record("test.event", actor=None, agency_id=agency_id, thread=n, i=i)
                    if i % 2 == 0:  # some transactions write one event, others two
                        db.session.commit()
                db.session.commit()
        except Exception as error:  # reported below; a thread's exception would be lost
            failures.append(error)

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert failures == []
    assert count_events(app) == threads * per_thread
    with in_app(app):
        assert audit.chain_breaks() == {}


@pytest.mark.commits  # another connection or thread writes at the same time
def test_an_agency_writing_its_chain_does_not_hold_up_another(app, world):
    with in_app(app) as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite has one writer for the whole database")
        audit._lock_chains(session, {world.a.id})  # agency A is in the middle of a commit
        with app.app_context():
            db.session.execute(text("SET LOCAL lock_timeout = '2s'"))
            audit.record("test.event", actor=None, agency_id=world.b.id)
            db.session.commit()  # agency B's chain is free
            db.session.execute(text("SET LOCAL lock_timeout = '100ms'"))
            audit.record("test.event", actor=None, agency_id=world.a.id)
            with pytest.raises(OperationalError, match="lock timeout"):
                db.session.commit()  # agency A's waits for A's commit
            db.session.rollback()
        session.rollback()
    assert chain_of(app, world.a.id) == []
    assert len(chain_of(app, world.b.id)) == 1


def test_events_of_a_rolled_back_savepoint_are_not_written_and_released_ones_are(app, world):
    with in_app(app) as session:
        audit.record("kept.outer", actor=None, agency_id=world.a.id)
        released = session.begin_nested()
        audit.record("kept.released", actor=None, agency_id=world.a.id)
        dropped = session.begin_nested()
        audit.record("dropped.inner", actor=None, agency_id=world.a.id)
        inner_released = session.begin_nested()
        audit.record("dropped.released_inside_a_rollback", actor=None, agency_id=world.a.id)
        inner_released.commit()
        dropped.rollback()
        released.commit()
        session.commit()
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.agency_id == world.a.id).order_by(AuditEvent.id)
        ).all()
    assert actions == ["kept.outer", "kept.released"]
