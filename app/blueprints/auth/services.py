"""Account operations behind the auth views. They change rows, audit, queue mail; never commit."""

import hmac
import time
import unicodedata
from datetime import UTC, datetime, timedelta

import pyotp
from flask import current_app, g, url_for
from sqlalchemy import func, select

from app.auth.passwords import hash_secret, verify_secret
from app.auth.tokens import make_token, spend_tokens
from app.extensions import db
from app.models import User, utcnow
from app.models.user import new_stamp
from app.services import audit
from app.services.mail import queue_mail

MAX_LOCK = timedelta(days=1)


def find_user(username: str) -> User | None:
    return db.session.scalar(
        select(User).where(
            User.agency_id == g.agency.id, func.lower(User.username) == (username or "").strip().lower()
        )
    )


def authenticate(username: str, password: str) -> User | None:
    """The user when the name and password match an active, unlocked account; else None.

    Failures are counted per account; after the threshold the account pauses with a doubling
    back-off. The caller shows the same message for every failure.
    """
    user = find_user(username)
    if user is None:
        verify_secret(None, password)
        audit.record("login.failed", agency_id=g.agency.id, username=(username or "")[:80], reason="unknown")
        return None
    if user.locked_until and user.locked_until > utcnow():
        verify_secret(None, password)
        audit.record("login.failed", actor=user, reason="paused")
        return None
    if not verify_secret(user.password_hash, password) or not user.is_active or user.is_locked:
        _count_failure(user, "password")
        return None
    if user.totp_secret:
        audit.record("login.password_ok", actor=user)  # the code comes next
    else:
        complete_sign_in(user)
    return user


def _count_failure(user: User, reason: str) -> None:
    config = current_app.config
    user.failed_logins += 1
    audit.record("login.failed", actor=user, reason=reason)
    over = user.failed_logins - config["LOGIN_LOCK_THRESHOLD"]
    if over >= 0:
        pause = min(timedelta(seconds=config["LOGIN_LOCK_BASE_SECONDS"] * 2**over), MAX_LOCK)
        user.locked_until = utcnow() + pause
        audit.record("account.paused", actor=user, seconds=int(pause.total_seconds()))


def complete_sign_in(user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    audit.record("login.success", actor=user)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    """otpauth:// link: a phone opens it in its authenticator app; others type the key."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=g.agency.name)


def totp_matches(user: User, code: str, secret: str | None = None) -> bool:
    """A current code (one step of clock drift either way) not used before by this user."""
    totp = pyotp.TOTP(secret or user.totp_secret)
    code = "".join(ch for ch in code or "" if ch.isdigit())
    now = time.time()
    for drift in (-1, 0, 1):
        step = totp.timecode(datetime.fromtimestamp(now + drift * totp.interval, UTC))
        if hmac.compare_digest(totp.generate_otp(step), code) and step > (user.totp_last_step or -1):
            user.totp_last_step = step
            return True
    return False


def verify_two_step(user: User, code: str) -> bool:
    """Second step of sign-in; wrong codes count towards the same pause as wrong passwords."""
    if user.locked_until and user.locked_until > utcnow() or user.is_locked or not user.is_active:
        audit.record("login.failed", actor=user, reason="paused")
        return False
    if totp_matches(user, code):
        complete_sign_in(user)
        return True
    _count_failure(user, "two-step code")
    return False


def enable_two_step(user: User, secret: str) -> None:
    user.totp_secret = secret
    audit.record("two_step.enabled", actor=user)


def disable_two_step(user: User) -> None:
    user.totp_secret = None
    user.totp_last_step = None
    audit.record("two_step.disabled", actor=user)


def set_password(
    user: User, password: str, *, question: str | None = None, answer: str | None = None, how: str
) -> None:
    """Store a new password the user chose; ends all their sessions and kills outstanding links."""
    user.password_hash = hash_secret(password)
    user.must_change_password = False
    user.password_changed_at = utcnow()
    user.session_stamp = new_stamp()
    user.failed_logins = 0
    user.locked_until = None
    user.security_failed_attempts = 0  # proven by a link or the password: the question may be used again
    spend_tokens(user)
    if question and answer:
        user.security_question = question
        user.security_answer_hash = hash_secret(normalise_answer(answer))
        user.security_failed_attempts = 0
        audit.record("security_question.set", actor=user)
    audit.record("password.changed", actor=user, how=how)


def normalise_answer(answer: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", answer).casefold().split())


def send_reset_link(user: User) -> None:
    """Queue the reset mail (1 h link). Caller gives the same answer whether or not this ran."""
    if not user.email or not user.is_active:
        return
    spend_tokens(user)  # only the newest link works
    token = make_token(user, "reset")
    queue_mail(
        user.email,
        "password_reset",
        agency=g.agency,
        locale=user.language,
        user=user,
        link=url_for("auth.reset", token=token, _external=True),
    )
    audit.record("password.reset_requested", actor=user)


def check_security_answer(user: User, answer: str) -> bool:
    """Knowledge-based recovery, only where the agency allows it: limited, audited, office told."""
    limit = current_app.config["SECURITY_ANSWER_MAX_ATTEMPTS"]
    if user.security_failed_attempts >= limit or not user.security_answer_hash:
        audit.record("security_question.refused", actor=user, reason="attempts exhausted")
        return False
    ok = verify_secret(user.security_answer_hash, normalise_answer(answer))
    if ok:
        user.security_failed_attempts = 0
        audit.record("security_question.used", actor=user)
    else:
        user.security_failed_attempts += 1
        audit.record("security_question.failed", actor=user, attempts=user.security_failed_attempts)
    if g.agency.contact_email:
        queue_mail(
            g.agency.contact_email,
            "security_question_used",
            agency=g.agency,
            user=user,
            succeeded=ok,
        )
    return ok
