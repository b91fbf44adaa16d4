"""Account operations behind the auth views. They change rows, audit, queue mail; never commit."""

import hashlib
import hmac
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from flask import current_app, g
from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.passwords import hash_secret, verify_secret
from app.auth.policies import offers_security_question
from app.auth.tokens import make_token, spend_tokens
from app.blueprints.auth.forms import QUESTIONS
from app.extensions import db
from app.i18n import N_
from app.models import UnknownNameAttempts, User, utcnow
from app.models.user import find_login
from app.services import accounts, audit
from app.services.links import agency_url
from app.services.mail import queue_mail

WRONG_PASSWORD = N_("That is not your current password.")
PAUSED = N_("Too many wrong passwords. For your safety this account is paused for a few minutes.")

MAX_LOCK = timedelta(days=1)


def find_user(username: str) -> User | None:
    return find_login(g.agency.id, username)


def authenticate(username: str, password: str) -> User | None:
    """The user when the name and password match an active, unlocked account; else None.

    Failures are counted per account; after the threshold the account pauses with a doubling
    back-off. The caller shows the same message for every failure.
    """
    user = find_user(username)
    if user is None:
        verify_secret(None, password)
        audit.record(
            "login.failed",
            actor=None,
            agency_id=g.agency.id,
            username=(username or "")[:80],
            reason="unknown",
        )
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


def _bump(user: User, column, below: int | None = None) -> int | None:
    """Add one to a counter of the user's in a single statement, so parallel requests cannot lose
    a count; with `below`, only while it is under that limit (None when it is not)."""
    statement = update(User).where(User.id == user.id)
    if below is not None:
        statement = statement.where(column < below)
    value = db.session.execute(
        statement.values({column: column + 1}).returning(column),
        execution_options={"synchronize_session": False},
    ).scalar()
    if value is not None:
        set_committed_value(user, column.key, value)
    return value


def _count_failure(user: User, reason: str) -> None:
    config = current_app.config
    failures = _bump(user, User.failed_logins)
    audit.record("login.failed", actor=user, reason=reason)
    over = failures - config["LOGIN_LOCK_THRESHOLD"]
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
    code = "".join(ch for ch in code or "" if ch in "0123456789")  # spaces and dashes people type
    now = time.time()
    for drift in (-1, 0, 1):
        step = totp.timecode(datetime.fromtimestamp(now + drift * totp.interval, UTC))
        if hmac.compare_digest(totp.generate_otp(step), code):
            return _spend_step(user, step)
    return False


def _spend_step(user: User, step: int) -> bool:
    """Record the code's step as used, in one statement: of two requests racing with the same code,
    only one wins."""
    fresh = or_(User.totp_last_step.is_(None), User.totp_last_step < step)
    won = db.session.execute(
        update(User).where(User.id == user.id, fresh).values(totp_last_step=step),
        execution_options={"synchronize_session": False},
    ).rowcount
    if won:
        set_committed_value(user, "totp_last_step", step)
    return bool(won)


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
    accounts.end_all_sessions(user)
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


@dataclass
class SecurityChallenge:
    """The security question page for one typed login name, the same-looking for every name.

    `user` is set only when the name is a portal account with a question of its own; every other
    name (unknown, staff, no question yet) gets a decoy question — stable for that name, so asking
    twice shows the same — and answers to it never match. Wrong answers are counted per name in
    either case (on the account, else in UnknownNameAttempts), so "too many answers" shows alike.
    """

    username: str
    question: str
    user: User | None  # the account whose own question this is
    account: User | None  # the account behind the name, if any
    attempts: int

    @property
    def exhausted(self) -> bool:
        return self.attempts >= current_app.config["SECURITY_ANSWER_MAX_ATTEMPTS"]


def security_challenge(agency, username: str) -> SecurityChallenge:
    name = (username or "").strip().lower()[:80]
    account = find_login(agency.id, name)
    # Asked for every name, so an unknown name costs the same queries as a known one.
    unknown_attempts = db.session.scalar(
        select(UnknownNameAttempts.security_failed_attempts).where(
            UnknownNameAttempts.agency_id == agency.id, UnknownNameAttempts.username == name
        )
    )
    if account is None:
        return SecurityChallenge(name, _decoy_question(agency, name), None, None, unknown_attempts or 0)
    attempts = account.security_failed_attempts
    own = offers_security_question(agency, account) and account.security_answer_hash
    if own and account.security_question:
        return SecurityChallenge(name, account.security_question, account, account, attempts)
    return SecurityChallenge(name, _decoy_question(agency, name), None, account, attempts)


def _decoy_question(agency, name: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"decoy-question:{agency.id}:{name}".encode(), hashlib.sha256).digest()
    return QUESTIONS[int.from_bytes(digest[:4], "big") % len(QUESTIONS)]


def _reserve_attempt(agency, challenge: SecurityChallenge) -> int | None:
    """Count an answer before it is checked, in one statement, and refuse it once the limit is
    reached: answers sent in parallel cannot get past the limit. None when refused."""
    limit = current_app.config["SECURITY_ANSWER_MAX_ATTEMPTS"]
    if challenge.account is not None:
        return _bump(challenge.account, User.security_failed_attempts, below=limit)
    table = UnknownNameAttempts.__table__
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    upsert = (
        dialect.insert(table)
        .values(agency_id=agency.id, username=challenge.username, security_failed_attempts=1)
        .on_conflict_do_update(
            index_elements=[table.c.agency_id, table.c.username],
            set_={"security_failed_attempts": table.c.security_failed_attempts + 1},
            where=table.c.security_failed_attempts < limit,
        )
        .returning(table.c.security_failed_attempts)
    )
    return db.session.execute(upsert).scalar()


def answer_security_question(agency, challenge: SecurityChallenge, answer: str) -> User | None:
    """Knowledge-based recovery, only where the agency allows it: limited, audited, office told.
    The user when the answer matches; None otherwise (the same work is done for a decoy)."""
    attempts = _reserve_attempt(agency, challenge)
    if attempts is None:
        audit.record("security_question.refused", actor=challenge.user, username=challenge.username)
        return None
    user = challenge.user
    ok = verify_secret(user.security_answer_hash if user else None, normalise_answer(answer)) and bool(user)
    if ok:
        user.security_failed_attempts = 0
        audit.record("security_question.used", actor=user)
    else:
        audit.record(
            "security_question.failed",
            actor=user,
            agency_id=agency.id,
            username=challenge.username,
            attempts=attempts,
        )
    if user is not None and agency.contact_email:
        queue_mail(agency.contact_email, "security_question_used", agency=agency, user=user, succeeded=ok)
    return user if ok else None


def reauthenticate(user: User, password: str) -> str | None:
    """Check the password of a signed-in user about to change something sensitive (password,
    two-step). Wrong ones count towards the same pause as wrong sign-ins, and a paused account
    is refused even the right one. None when it matches, else the reason to show."""
    if user.locked_until and user.locked_until > utcnow():
        verify_secret(None, password)
        audit.record("reauthentication.refused", actor=user, reason="paused")
        return PAUSED
    if verify_secret(user.password_hash, password):
        return None
    _count_failure(user, "re-authentication")
    return PAUSED if user.locked_until and user.locked_until > utcnow() else WRONG_PASSWORD


def send_two_step_enrolment_link(agency, user: User, session_nonce: str) -> bool:
    """Staff who must use two-step sign-in confirm by e-mail before enrolling an authenticator, so a
    stolen password alone cannot enrol the thief's phone. The link works only in the session that
    asked for it (`session_nonce`). False when the account has no e-mail."""
    if not user.email:
        return False
    token = make_token(user, "two_step_enrol", bound_to=session_nonce)
    link = agency_url(agency, "auth.two_step_confirm", token=token)
    queue_mail(user.email, "two_step_enrol", agency=agency, locale=user.language, user=user, link=link)
    audit.record("two_step.enrolment_link_sent", actor=user)
    return True
