"""Private calendar feeds: a secret URL a family subscribes to from a phone's calendar.

The token is shown to its owner once and stored only as a SHA-256 hash, so a copy of the
database cannot be turned into working feed URLs. Each user has at most one active token;
issuing a new one revokes the old. A feed is looked up by the host's agency *and* the hash, and
answers with what the user may see of the schedule today (policies decide, not the token).

The feed leaves the portal and sits in third-party calendar apps, so it carries no health
information: a visit is "Care visit — <caregiver first name>" with its times and status, never
tasks, notes or anything from the care plan. The words are in the subscriber's language.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.auth.policies import SCHEDULE, PortalAccess
from app.extensions import db
from app.i18n import _
from app.models import Agency, CalendarFeedToken, User, Visit, utcnow
from app.models.statuses import Role, VisitStatus
from app.services import audit
from app.services.links import agency_url

FEED_DAYS_BACK = 90
FEED_DAYS_AHEAD = 90
TOKEN_BYTES = 32  # 256 bits: guessing is hopeless, so no rate limit is needed for secrecy
MAX_TOKEN_LENGTH = 100


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def active_token(user: User) -> CalendarFeedToken | None:
    return db.session.scalar(
        select(CalendarFeedToken).where(
            CalendarFeedToken.user_id == user.id,
            CalendarFeedToken.agency_id == user.agency_id,
            CalendarFeedToken.revoked_at.is_(None),
        )
    )


def _revoke_all(user: User) -> int:
    rows = db.session.scalars(
        select(CalendarFeedToken).where(
            CalendarFeedToken.user_id == user.id,
            CalendarFeedToken.agency_id == user.agency_id,
            CalendarFeedToken.revoked_at.is_(None),
        )
    ).all()
    now = utcnow()
    for row in rows:
        row.revoked_at = now
    return len(rows)


def _lock_user(user: User) -> None:
    # Two concurrent "create" clicks must not leave two active tokens (PostgreSQL row lock;
    # SQLite serialises writers anyway).
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())


def issue_token(user: User) -> str:
    """Create the user's feed token, revoking any earlier one. Returns the plain token (show once)."""
    _lock_user(user)
    replaced = _revoke_all(user)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = CalendarFeedToken(agency_id=user.agency_id, user_id=user.id, token_hash=hash_token(token))
    db.session.add(row)
    db.session.flush()
    audit.record("calendar_feed.regenerated" if replaced else "calendar_feed.created", actor=user, target=row)
    return token


def revoke_token(user: User) -> bool:
    """Revoke the user's active feed token. False when there was none."""
    _lock_user(user)
    if not _revoke_all(user):
        return False
    db.session.flush()
    audit.record("calendar_feed.revoked", actor=user, target=user)
    return True


def user_for_feed(agency: Agency, token: str) -> User | None:
    """The active portal user behind an active token of this agency, else None. Records the use."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = db.session.scalar(
        select(CalendarFeedToken).where(
            CalendarFeedToken.agency_id == agency.id,
            CalendarFeedToken.token_hash == hash_token(token),
            CalendarFeedToken.revoked_at.is_(None),
        )
    )
    if row is None:
        return None
    user = db.session.scalar(select(User).where(User.id == row.user_id, User.agency_id == agency.id))
    if user is None or not user.is_active or user.is_locked or user.role != Role.PORTAL:
        return None
    row.last_used_at = utcnow()
    return user


def _uid_domain(agency: Agency) -> str:
    return agency.host or agency.slug


def _summary(visit: Visit, several_clients: bool) -> str:
    caregiver = visit.caregiver.first_name if visit.caregiver is not None else None
    if several_clients and caregiver:
        return _(
            "Care visit for %(client)s — %(caregiver)s", client=visit.client.first_name, caregiver=caregiver
        )
    if several_clients:
        return _("Care visit for %(client)s", client=visit.client.first_name)
    if caregiver:
        return _("Care visit — %(caregiver)s", caregiver=caregiver)
    return _("Care visit")


def feed_visits(user: User, now: datetime | None = None) -> tuple[list[Visit], bool]:
    """Visits from about 90 days back to 90 days ahead for every client whose schedule the user
    may see, and whether they span several clients."""
    now = now or utcnow()
    client_ids = PortalAccess.for_user(user).client_ids(SCHEDULE)
    if not client_ids:
        return [], False
    visits = db.session.scalars(
        select(Visit)
        .options(joinedload(Visit.caregiver), joinedload(Visit.client))
        .where(
            Visit.agency_id == user.agency_id,
            Visit.client_id.in_(client_ids),
            Visit.starts_at >= now - timedelta(days=FEED_DAYS_BACK),
            Visit.starts_at < now + timedelta(days=FEED_DAYS_AHEAD),
        )
        .order_by(Visit.starts_at, Visit.id)
    ).all()
    return visits, len(client_ids) > 1


def build_calendar(agency: Agency, visits: list[Visit], several_clients: bool) -> bytes:
    """The iCalendar document. UIDs are stable per visit, so calendar apps update in place."""
    calendar = Calendar()
    calendar.add("prodid", "-//Porchlight//Care visits//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _("%(agency)s visits", agency=agency.name))
    calendar.add("x-wr-timezone", agency.time_zone)
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    # DTSTAMP follows the visit's last change (not "now"), so an unchanged schedule gives a
    # byte-identical feed and a polling phone gets 304 Not Modified.
    domain = _uid_domain(agency)
    zone = agency.zone
    for visit in visits:
        event = Event()
        event.add("uid", f"visit-{visit.id}@{domain}")
        changed = (visit.updated_at or visit.created_at or visit.starts_at).replace(microsecond=0)
        event.add("dtstamp", changed)
        event.add("dtstart", visit.starts_at)
        event.add("dtend", visit.ends_at)
        event.add("summary", _summary(visit, several_clients))
        event.add("status", "CANCELLED" if visit.status == VisitStatus.CANCELLED else "CONFIRMED")
        event.add("sequence", max((visit.version or 1) - 1, 0))
        event.add("transp", "OPAQUE")
        event.add("last-modified", changed)
        event.add(
            "url",
            agency_url(
                agency,
                "schedule.calendar",
                view="day",
                date=visit.starts_at.astimezone(zone).date().isoformat(),
                client=visit.client_id,
            ),
        )
        calendar.add_component(event)
    return calendar.to_ical()
