"""Mail goes through the outbox: `queue_mail` writes a row in the caller's transaction, and the
worker (`flask outbox run`) sends due rows with Flask-Mail, a timeout and a verified TLS context,
retrying with exponential back-off. A dead mail server delays mail; it never loses it.

Mails never carry health information: they say something is waiting and link to the portal.
They are written in the recipient's language when it is known (a portal user's or a staff member's
setting), else in the deployment's default language (BABEL_DEFAULT_LOCALE, English).
"""

import smtplib
import ssl
import time
from datetime import timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_mail import BadHeaderError, Connection, Message
from sqlalchemy import select

from app.extensions import db
from app.models import OutboxMail, utcnow
from app.models.statuses import MailStatus

MAX_BACKOFF = timedelta(hours=6)


def queue_mail(
    to_address: str, template: str, *, agency=None, locale: str | None = None, **context
) -> OutboxMail:
    """Render templates/email/<template>.txt (first line is the subject) into an outbox row, in the
    recipient's `locale` — never in the language of whoever's request triggered the mail."""
    with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        rendered = render_template(f"email/{template}.txt", agency=agency, **context)
    subject, _, body = rendered.partition("\n")
    row = OutboxMail(
        agency_id=agency.id if agency is not None else None,
        to_address=to_address,
        subject=subject.removeprefix("Subject:").strip(),
        body_text=body.strip() + "\n",
    )
    db.session.add(row)
    db.session.flush()
    return row


class _VerifiedConnection(Connection):
    """Flask-Mail's connection with a socket timeout and a certificate-verifying TLS context.

    The server settings are read from app.config at send time: Flask-Mail copies them once in
    init_app, so a later change of MAIL_SERVER or MAIL_PORT would otherwise be silently ignored.
    """

    def configure_host(self):
        config = current_app.config
        server, port = config["MAIL_SERVER"], config["MAIL_PORT"]
        timeout = config["MAIL_TIMEOUT_SECONDS"]
        context = ssl.create_default_context()
        if config["MAIL_USE_SSL"]:
            host = smtplib.SMTP_SSL(server, port, timeout=timeout, context=context)
        else:
            host = smtplib.SMTP(server, port, timeout=timeout)
        if config["MAIL_USE_TLS"]:
            host.starttls(context=context)
        if config.get("MAIL_USERNAME") and config.get("MAIL_PASSWORD"):
            host.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        return host


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=30 * 2 ** (attempts - 1)), MAX_BACKOFF)


def _claim_next_due(now) -> OutboxMail | None:
    """The oldest due row, locked so a second worker (PostgreSQL) skips it instead of sending it too."""
    return db.session.scalar(
        select(OutboxMail)
        .where(OutboxMail.status == MailStatus.PENDING, OutboxMail.next_attempt_at <= now)
        .order_by(OutboxMail.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def send_due(limit: int = 50) -> tuple[int, int]:
    """Send up to `limit` due rows, one transaction each. Returns (sent, failed this round)."""
    state = current_app.extensions["mail"]
    now = utcnow()
    sent = failed = 0
    for _ in range(limit):
        row = _claim_next_due(now)
        if row is None:
            break
        message = Message(
            subject=row.subject,
            recipients=[row.to_address],
            body=row.body_text,
            html=row.body_html,
            sender=current_app.config["MAIL_DEFAULT_SENDER"],
        )
        row.attempts += 1
        try:
            with _VerifiedConnection(state) as connection:
                connection.send(message)
        except BadHeaderError:
            # A line break in a header (a name written into the database past the forms): it will
            # never go, and it must not hold up the mail behind it.
            failed += 1
            row.status = MailStatus.FAILED
            row.last_error = "BadHeaderError: a line break in the subject or an address"
            current_app.logger.error("mail %s has a line break in a header: not sent", row.id)
        except (OSError, smtplib.SMTPException) as error:
            failed += 1
            row.last_error = f"{type(error).__name__}: {error}"[:2000]
            if row.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
                row.status = MailStatus.FAILED
                current_app.logger.error("mail %s gave up after %s attempts", row.id, row.attempts)
            else:
                row.next_attempt_at = utcnow() + _backoff(row.attempts)
        else:
            sent += 1
            row.status = MailStatus.SENT
            row.sent_at = utcnow()
            row.last_error = None
        db.session.commit()
    return sent, failed


def run_worker(interval: float = 5.0, once: bool = False, before_round=None) -> None:
    """Send due mail every `interval` seconds; `before_round()` first queues mail of its own
    (the answers to "forgot password" requests)."""
    while True:
        if before_round is not None:
            before_round()
        sent, failed = send_due()
        if sent or failed:
            current_app.logger.info("outbox: %s sent, %s failed", sent, failed)
        if once:
            return
        time.sleep(interval)
