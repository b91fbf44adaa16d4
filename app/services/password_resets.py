"""Links by e-mail: forgotten passwords and "e-mail me a sign-in link", and the worker that
answers queued requests.

Both forms only queue a `PasswordResetRequest`, for a known and an unknown login name alike, so
both cost the same work and take the same time to answer; the outbox worker (`flask outbox run`)
looks the name up and mails the link when the account may have one: a one-hour reset link to any
address on file, a 15-minute sign-in link only to a confirmed address and only where the agency
allows it. Staff sending a reset mail from a person's page go straight to `send_reset_link`.
Links are built from the agency's own address (app.services.links), never from a request.
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from app.auth.tokens import make_token, spend_tokens
from app.extensions import db
from app.models import Agency, PasswordResetRequest, User, utcnow
from app.models.statuses import LinkPurpose
from app.models.user import find_login
from app.services import audit
from app.services.links import AgencyHasNoAddress, agency_url
from app.services.mail import queue_mail


def request_reset(
    agency: Agency, username: str, ip_address: str | None, purpose: str = LinkPurpose.RESET
) -> None:
    """Queue a link for whatever name was typed; the caller answers the same either way."""
    db.session.add(
        PasswordResetRequest(
            agency_id=agency.id,
            purpose=purpose,
            username=(username or "").strip().lower()[:80],
            ip_address=ip_address,
        )
    )


def issue_reset_token(user: User) -> str:
    """A one-hour reset token; older reset links stop working (welcome links live on)."""
    spend_tokens(user, "reset")
    return make_token(user, "reset")


def send_reset_link(agency: Agency, user: User) -> bool:
    """Mail the user a one-hour reset link. False when there is nobody to mail."""
    if not user.email or not user.is_active:
        return False
    link = agency_url(agency, "auth.reset", token=issue_reset_token(user))
    queue_mail(user.email, "password_reset", agency=agency, locale=user.language, user=user, link=link)
    audit.record("password.reset_requested", actor=user)
    return True


def may_sign_in_by_link(agency: Agency, user: User) -> bool:
    return (
        agency.email_sign_in_enabled
        and user.is_active
        and not user.is_locked
        and bool(user.email)
        and user.email_confirmed_at is not None
    )


def send_sign_in_link(agency: Agency, user: User) -> bool:
    """Mail the user a 15-minute, one-time sign-in link. False when they may not have one."""
    if not may_sign_in_by_link(agency, user):
        return False
    spend_tokens(user, "sign_in")  # an earlier link stops working
    link = agency_url(agency, "auth.link_sign_in", token=make_token(user, "sign_in"))
    queue_mail(user.email, "sign_in_link", agency=agency, locale=user.language, user=user, link=link)
    audit.record("login.link_sent", actor=user)
    return True


_SENDERS = {LinkPurpose.RESET: send_reset_link, LinkPurpose.SIGN_IN: send_sign_in_link}


# However often someone asks for one account's links, it gets at most this many mails of a kind in
# the window: the form's per-address limit alone would let many addresses flood one inbox.
LINKS_PER_WINDOW = 3
LINK_WINDOW = timedelta(minutes=15)


def _asked_recently(row: PasswordResetRequest) -> int:
    """How many earlier requests for the same account and kind the worker answered in the window."""
    return db.session.scalar(
        select(func.count(PasswordResetRequest.id)).where(
            PasswordResetRequest.agency_id == row.agency_id,
            PasswordResetRequest.username == row.username,
            PasswordResetRequest.purpose == row.purpose,
            PasswordResetRequest.id != row.id,
            PasswordResetRequest.processed_at >= utcnow() - LINK_WINDOW,
        )
    )


def deliver_reset_requests(limit: int = 100) -> int:
    """Worker: answer queued requests (every agency). Returns how many links were mailed."""
    sent = 0
    rows = db.session.scalars(
        select(PasswordResetRequest)
        .where(PasswordResetRequest.processed_at.is_(None))
        .order_by(PasswordResetRequest.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        if _asked_recently(row) >= LINKS_PER_WINDOW:
            row.processed_at = utcnow()
            audit.record(
                "link.throttled",
                actor=None,
                agency_id=row.agency_id,
                username=row.username,
                purpose=row.purpose,
            )
            continue
        row.processed_at = utcnow()
        user = find_login(row.agency_id, row.username)
        agency = db.session.get(Agency, row.agency_id)
        if user is not None:
            try:
                sent += _SENDERS[row.purpose](agency, user)
            except AgencyHasNoAddress:
                # One agency's missing host must not stop mail for the others.
                current_app.logger.error(
                    "%s link for %s not mailed: agency %s has no host", row.purpose, user.id, agency.slug
                )
        else:
            audit.record(
                "password.reset_unknown_name"
                if row.purpose == LinkPurpose.RESET
                else "login.link_unknown_name",
                actor=None,
                agency_id=row.agency_id,
                username=row.username,
                requested_from=row.ip_address,
            )
    db.session.commit()
    return sent
