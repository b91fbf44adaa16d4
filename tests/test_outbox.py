"""The mail outbox against a real SMTP server: delivered when it is up, kept and retried when not.

aiosmtpd runs on 127.0.0.1 on a port picked beforehand (Controller(port=0) does not work) and
stores every message it receives. The app's MAIL_SERVER / MAIL_PORT point at it for the test only.
"""

import email
import email.policy
import re
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, text

from app.extensions import db
from app.models import OutboxMail, utcnow
from app.models.statuses import MailStatus
from app.services.mail import queue_mail, send_due
from app.tenancy import agency_scope, all_agencies
from tests.conftest import in_app

LINK = "http://alpha.localhost/password/reset/one-time-token-123"
# Words from the demo's care plans, visit notes and messages that must never travel by e-mail.
HEALTH_WORDS = (
    "care plan",
    "medication",
    "medicine",
    "diagnosis",
    "dementia",
    "diabetes",
    "insulin",
    "blood pressure",
    "wound",
    "incontinence",
)
# Fields that hold health details or free text about care; an e-mail template must not print them.
HEALTH_FIELDS = (
    "care_needed",
    "caregiver_note",
    "special_instructions",
    "goals",
    "frequency",
    "refusal_reason",
    "per_visit_notes",
    "notes",
    "staff_note",
    "body",
    "tasks",
)
EMAIL_TEMPLATES = sorted((Path(__file__).parents[1] / "app" / "templates" / "email").glob("*.txt"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """Keeps what the SMTP server received; `reply` lets a test make the server refuse mail."""

    def __init__(self):
        self.messages = []
        self.reply = "250 Message accepted for delivery"

    async def handle_DATA(self, server, session, envelope):
        if self.reply.startswith("250"):
            self.messages.append(
                (
                    envelope.rcpt_tos,
                    email.message_from_bytes(envelope.content, policy=email.policy.default),
                )
            )
        return self.reply


class SMTPServer:
    def __init__(self, port):
        self.port = port
        self.mailbox = Mailbox()
        self.controller = None

    def start(self):
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return self.mailbox.messages


@pytest.fixture
def smtp(app, monkeypatch):
    server = SMTPServer(free_port())
    server.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", server.port)
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT_SECONDS", 2)
    yield server
    server.stop()


def queue_reset(app, world, user=None, agency=None):
    user = user or world.margaret
    agency = agency or world.a
    with app.app_context(), agency_scope(agency):
        row = queue_mail(user.email, "password_reset", agency=agency, user=user, link=LINK)
        db.session.commit()
        return row.id


def run_outbox(app):
    with app.app_context(), all_agencies():
        return send_due()


def outbox_row(app, row_id) -> OutboxMail:
    with in_app(app) as session:
        row = session.get(OutboxMail, row_id)
        session.expunge(row)
        return row


def make_due(app, row_id):
    with in_app(app) as session:
        session.get(OutboxMail, row_id).next_attempt_at = utcnow() - timedelta(seconds=1)
        session.commit()


def body(message) -> str:
    return message.get_body(("plain",)).get_content()


def assert_no_health_words(*texts):
    for chunk in texts:
        lowered = chunk.lower()
        found = [word for word in HEALTH_WORDS if word in lowered]
        assert not found, f"health words {found} in mail: {chunk!r}"


def test_queued_mail_is_delivered(app, world, smtp):
    row_id = queue_reset(app, world)
    assert outbox_row(app, row_id).status == MailStatus.PENDING
    assert smtp.messages == []  # queueing sends nothing; the worker does

    assert run_outbox(app) == (1, 0)

    assert len(smtp.messages) == 1
    recipients, message = smtp.messages[0]
    assert recipients == [world.margaret.email]
    assert message["To"] == world.margaret.email
    assert message["Subject"] == "Reset your Alpha Home Care portal password"
    assert LINK in body(message)
    assert "margaretjones" in body(message)
    assert_no_health_words(message["Subject"], body(message))
    row = outbox_row(app, row_id)
    assert (row.status, row.attempts, row.last_error) == (MailStatus.SENT, 1, None)
    assert row.sent_at is not None

    assert run_outbox(app) == (0, 0)  # sent once, never again
    assert len(smtp.messages) == 1


def test_dead_server_delays_mail_and_loses_nothing(app, world, smtp):
    row_id = queue_reset(app, world)
    smtp.stop()
    before = utcnow()

    assert run_outbox(app) == (0, 1)

    row = outbox_row(app, row_id)
    assert row.status == MailStatus.PENDING
    assert row.attempts == 1
    assert "Connection" in row.last_error or "refused" in row.last_error.lower()
    assert row.next_attempt_at > before + timedelta(seconds=20)  # backed off, not hammering

    smtp.start()
    assert run_outbox(app) == (0, 0)  # not due yet: the back-off is honoured
    assert smtp.messages == []

    make_due(app, row_id)
    assert run_outbox(app) == (1, 0)
    row = outbox_row(app, row_id)
    assert (row.status, row.attempts, row.last_error) == (MailStatus.SENT, 2, None)
    assert len(smtp.messages) == 1
    assert LINK in body(smtp.messages[0][1])


def test_back_off_grows_then_gives_up_and_keeps_the_row(app, world, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 4)
    row_id = queue_reset(app, world)
    smtp.stop()
    waits = []
    for attempt in range(1, 4):
        make_due(app, row_id)
        started = utcnow()
        assert run_outbox(app) == (0, 1)
        row = outbox_row(app, row_id)
        assert (row.status, row.attempts) == (MailStatus.PENDING, attempt)
        waits.append(row.next_attempt_at - started)
    assert waits[0] < waits[1] < waits[2]

    make_due(app, row_id)
    assert run_outbox(app) == (0, 1)
    row = outbox_row(app, row_id)
    assert (row.status, row.attempts) == (MailStatus.FAILED, 4)
    assert row.last_error

    # Given up, but still there for the office to see; the worker leaves it alone.
    smtp.start()
    make_due(app, row_id)
    assert run_outbox(app) == (0, 0)
    assert outbox_row(app, row_id).status == MailStatus.FAILED
    assert smtp.messages == []


def test_server_that_refuses_the_message_means_retry(app, world, smtp):
    row_id = queue_reset(app, world)
    smtp.mailbox.reply = "451 Try again later"
    assert run_outbox(app) == (0, 1)
    row = outbox_row(app, row_id)
    assert row.status == MailStatus.PENDING and "451" in row.last_error

    smtp.mailbox.reply = "250 OK"
    make_due(app, row_id)
    assert run_outbox(app) == (1, 0)
    assert outbox_row(app, row_id).status == MailStatus.SENT


def test_silent_server_times_out_instead_of_hanging(app, world, smtp, monkeypatch):
    """A server that accepts the connection and never speaks must not stall the worker."""
    row_id = queue_reset(app, world)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        monkeypatch.setitem(app.config, "MAIL_PORT", silent.getsockname()[1])
        monkeypatch.setitem(app.config, "MAIL_TIMEOUT_SECONDS", 0.5)
        started = time.monotonic()
        assert run_outbox(app) == (0, 1)
        assert time.monotonic() - started < 5
    row = outbox_row(app, row_id)
    assert row.status == MailStatus.PENDING and row.last_error


def flask_command(app, *args):
    """Run `flask <args>` through the app's own command group, as the console does."""
    return app.test_cli_runner().invoke(args=list(args))


def test_cli_outbox_run_once_sends_for_every_agency(app, world, smtp):
    first = queue_reset(app, world)
    second = queue_reset(app, world, user=world.alice, agency=world.b)

    result = flask_command(app, "outbox", "run", "--once")

    assert result.exit_code == 0, result.output
    assert sorted(r[0][0] for r in smtp.messages) == sorted([world.margaret.email, world.alice.email])
    subjects = sorted(m["Subject"] for _, m in smtp.messages)
    assert subjects == [
        "Reset your Alpha Home Care portal password",
        "Reset your Beta Home Care portal password",
    ]
    assert outbox_row(app, first).status == MailStatus.SENT
    assert outbox_row(app, second).status == MailStatus.SENT
    for _, message in smtp.messages:
        assert_no_health_words(message["Subject"], body(message))


def test_cli_outbox_run_once_with_dead_server_keeps_mail(app, world, smtp):
    row_id = queue_reset(app, world)
    smtp.stop()
    result = flask_command(app, "outbox", "run", "--once")
    assert result.exit_code == 0, result.output
    assert outbox_row(app, row_id).status == MailStatus.PENDING
    with in_app(app) as session:
        assert session.scalar(select(OutboxMail.attempts).where(OutboxMail.id == row_id)) == 1


@pytest.mark.parametrize("template", EMAIL_TEMPLATES, ids=lambda p: p.name)
def test_email_templates_carry_no_health_details(template):
    """Mails say something is waiting and link to the portal; the details stay in the portal."""
    source = template.read_text()
    assert_no_health_words(source)
    printed = re.findall(r"\{\{(.*?)\}\}", source, flags=re.S)
    for expression in printed:
        for field in HEALTH_FIELDS:
            assert not re.search(rf"\.\s*{field}\b|\[['\"]{field}['\"]\]", expression), (
                f"{template.name} prints {field!r}: {expression.strip()}"
            )
    assert source.startswith("Subject:"), "the first line of a mail template is its subject"


@pytest.mark.commits  # another connection or thread writes at the same time
def test_second_worker_skips_a_mail_another_worker_is_sending(app, world, smtp):
    """On PostgreSQL a row being sent is locked; another worker sends the next one instead."""
    first = queue_reset(app, world)
    second = queue_reset(app, world, user=world.susan)
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("row locks with SKIP LOCKED are a PostgreSQL feature; SQLite runs one writer")
        other_worker = db.engine.connect()
        transaction = other_worker.begin()
        other_worker.execute(text("SELECT id FROM outbox_mails WHERE id = :id FOR UPDATE"), {"id": first})
    try:
        assert run_outbox(app) == (1, 0)
        assert [r[0][0] for r in smtp.messages] == [world.susan.email]
        assert outbox_row(app, first).status == MailStatus.PENDING
        assert outbox_row(app, second).status == "sent"
    finally:
        transaction.rollback()
        other_worker.close()


def test_a_mail_with_a_line_break_in_a_header_fails_alone(app, world, smtp):
    with app.app_context(), agency_scope(world.a):
        bad = queue_mail("a@example.com", "password_reset", agency=world.a, user=world.margaret, link=LINK)
        bad.subject = "Reset\rBcc: everyone@example.com"
        good = queue_mail("b@example.com", "password_reset", agency=world.a, user=world.margaret, link=LINK)
        db.session.commit()
        bad_id, good_id = bad.id, good.id
    assert run_outbox(app) == (1, 1)
    assert outbox_row(app, bad_id).status == MailStatus.FAILED
    assert outbox_row(app, good_id).status == MailStatus.SENT
    assert [to for to, _message in smtp.messages] == [["b@example.com"]]
