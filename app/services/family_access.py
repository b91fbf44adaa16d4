"""Access the family controls: a client (or their legal representative) invites someone, the office
approves (unless office settings let invitations go straight out), the invitee chooses a login name
and password through a one-time link valid 7 days, and anyone's access can be revoked at once.

Every grant, revoke and step between is a ConsentRecord (who, when, for whom, what) and an audit
event. Each operation takes the agency and the acting person explicitly, flushes, and never
commits or reads the request. Who may do which is the access policy's (`manages_access`,
`may_revoke`), asked by the view before calling; a step that another request took meanwhile (an
invitation decided, withdrawn or used twice at once) raises `InvitationChanged`.
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import aliased, contains_eager, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.passwords import hash_secret
from app.auth.policies import (
    CARE_PLAN,
    CEILINGS,
    DOCUMENTS,
    INVOICES,
    MESSAGES,
    PAYMENTS,
    SCHEDULE,
    SCHEDULE_REQUESTS,
    SECTIONS,
    SIGNATURES,
    allowed_sections,
    invitation_needs_approval,
    link_flags,
    manages_access,
)
from app.auth.tokens import INVITATION_MAX_AGE, make_invitation_token
from app.extensions import db
from app.i18n import _, _l
from app.models import Client, ClientLink, ConsentRecord, Invitation, User, utcnow
from app.models.client import REL_EMERGENCY, REL_LEGAL, REL_PAYER, REL_SELF, RELATIONSHIP_WORDS  # noqa: F401 - theirs too
from app.models.statuses import ConsentAction, InvitationStatus, Role
from app.models.user import new_stamp
from app.services import accounts, audit
from app.services.links import agency_url
from app.services.mail import queue_mail
from app.services.messages import office_recipient

PENDING = (InvitationStatus.AWAITING_APPROVAL, InvitationStatus.SENT)
DECLINED_SHOWN_DAYS = 30  # a declined invitation stays on the inviter's page this long
RECENT_DECISIONS_DAYS = 30  # and in the office's list of decisions
RECENT_DECISIONS_MAX = 50


# What each section is, in the words of the access page and the office's queue.
SECTION_LABELS = {
    SCHEDULE: _l("Schedule"),
    SCHEDULE_REQUESTS: _l("Schedule requests"),
    INVOICES: _l("Invoices"),
    PAYMENTS: _l("Paying invoices"),
    SIGNATURES: _l("Visit signatures"),
    MESSAGES: _l("Messages"),
    DOCUMENTS: _l("Documents"),
    CARE_PLAN: _l("Care plan"),
}


def section_words(sections) -> str:
    """ "Schedule, Messages", in SECTIONS order; "nothing yet" for none."""
    chosen = set(sections or ())
    words = [str(SECTION_LABELS[s]) for s in SECTIONS if s in chosen]
    return ", ".join(words) if words else _("nothing yet")


class InvitationChanged(Exception):
    """The invitation is no longer in the state this step starts from (another request was first)."""


class InviterLostAccess(Exception):
    """The inviter no longer manages access to the client (their own access ended, or the client left)."""


# --- consent records ------------------------------------------------------------------------------


def _consent(agency, actor, action: str, client_id: int, *, name: str, relationship, sections, **who):
    record = ConsentRecord(
        agency_id=agency.id,
        client_id=client_id,
        action=action,
        actor_id=actor.id if actor is not None else None,
        subject_name=name[:201],
        relationship_kind=relationship,
        sections=list(sections),
        **who,
    )
    db.session.add(record)
    return record


def _invitation_consent(agency, actor, action: str, invitation: Invitation) -> ConsentRecord:
    return _consent(
        agency,
        actor,
        action,
        invitation.client_id,
        name=invitation.display_name,
        relationship=invitation.relationship_kind,
        sections=invitation.sections,
        invitation_id=invitation.id,
        subject_user_id=invitation.user_id,
    )


def _move(invitation: Invitation, from_statuses, **values) -> None:
    """Change the invitation only if it is still in one of `from_statuses` and still has the nonce
    this request read: one conditional UPDATE, so two requests never both take the same step."""
    result = db.session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.status.in_(list(from_statuses)),
            Invitation.nonce == invitation.nonce,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InvitationChanged()
    for name, value in values.items():
        set_committed_value(invitation, name, value)  # the row says so already: no second UPDATE


# --- the steps ------------------------------------------------------------------------------------


def invite_person(
    agency, actor, client, *, first_name: str, last_name: str, email: str, relationship: str, sections
) -> Invitation:
    """The inviter (the client or a legal representative, `manages_access`) asks to give someone
    access with these sections (already within the relationship's ceiling and the inviter's own).
    It waits for the office, or goes out at once when the agency allows."""
    invitation = Invitation(
        agency_id=agency.id,
        client_id=client.id,
        invited_by_id=actor.id,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email.strip(),
        relationship_kind=relationship,
        sections=list(sections),
        status=InvitationStatus.AWAITING_APPROVAL,
        nonce=new_stamp(),
    )
    db.session.add(invitation)
    db.session.flush()
    _invitation_consent(agency, actor, ConsentAction.INVITED, invitation)
    audit.record(
        "invitation.created",
        actor=actor,
        target=invitation,
        client_id=client.id,
        relationship=relationship,
        sections=list(sections),
    )
    if invitation_needs_approval(agency, relationship):
        _tell_office(agency, actor, client)
    else:
        _send(agency, actor, invitation, from_statuses=(InvitationStatus.AWAITING_APPROVAL,))
    return invitation


def _tell_office(agency, inviter, client) -> None:
    """The office hears that an invitation waits for it (who asked, for whom; nothing more)."""
    address, language = office_recipient(agency)
    if not address:
        current_app.logger.warning("agency %s has no address for invitations", agency.slug)
        return
    queue_mail(
        address,
        "invitation_waiting",
        agency=agency,
        locale=language,
        inviter=inviter,
        client=client,
        link=agency_url(agency, "admin.invitations"),
    )


def _send(agency, actor, invitation: Invitation, *, from_statuses, **values) -> None:
    """Out goes a one-time link valid 7 days; an earlier link of this invitation stops working."""
    now = utcnow()
    _move(
        invitation,
        from_statuses,
        status=InvitationStatus.SENT,
        nonce=new_stamp(),
        sent_at=now,
        expires_at=now + timedelta(seconds=INVITATION_MAX_AGE),
        **values,
    )
    inviter = invitation.invited_by
    inviter_link = db.session.scalar(
        select(ClientLink).where(
            ClientLink.user_id == invitation.invited_by_id, ClientLink.client_id == invitation.client_id
        )
    )
    link = agency_url(agency, "profile.accept_invitation", token=make_invitation_token(invitation))
    queue_mail(
        invitation.email,
        "invitation",
        agency=agency,
        locale=inviter.language if inviter is not None else None,
        invitation=invitation,
        inviter=inviter,
        client=invitation.client,
        for_themselves=inviter_link is not None and inviter_link.relationship_kind == REL_SELF,
        link=link,
        days=INVITATION_MAX_AGE // 86400,
    )
    audit.record("invitation.sent", actor=actor, target=invitation, client_id=invitation.client_id)


def approve_invitation(agency, actor, invitation: Invitation) -> None:
    """The office says yes: the link goes out (only while the inviter still manages the access)."""
    inviter_link = db.session.scalar(
        select(ClientLink).where(
            ClientLink.user_id == invitation.invited_by_id, ClientLink.client_id == invitation.client_id
        )
    )
    if not manages_access(inviter_link) or not invitation.client.is_active:
        raise InviterLostAccess()
    now = utcnow()
    _send(
        agency,
        actor,
        invitation,
        from_statuses=(InvitationStatus.AWAITING_APPROVAL,),
        decided_by_id=actor.id,
        decided_at=now,
    )
    _invitation_consent(agency, actor, ConsentAction.APPROVED, invitation)
    audit.record("invitation.approved", actor=actor, target=invitation, client_id=invitation.client_id)


def decline_invitation(agency, actor, invitation: Invitation) -> None:
    """The office says no; the inviter sees it on their access page."""
    _move(
        invitation,
        (InvitationStatus.AWAITING_APPROVAL,),
        status=InvitationStatus.DECLINED,
        nonce=new_stamp(),
        decided_by_id=actor.id,
        decided_at=utcnow(),
    )
    _invitation_consent(agency, actor, ConsentAction.DECLINED, invitation)
    audit.record("invitation.declined", actor=actor, target=invitation, client_id=invitation.client_id)


def withdraw_invitation(agency, actor, invitation: Invitation) -> None:
    """The client or a representative takes a pending invitation back; its link stops working."""
    _move(invitation, PENDING, status=InvitationStatus.WITHDRAWN, nonce=new_stamp())
    _invitation_consent(agency, actor, ConsentAction.WITHDRAWN, invitation)
    audit.record("invitation.withdrawn", actor=actor, target=invitation, client_id=invitation.client_id)


def accept_invitation(agency, invitation: Invitation, *, username: str, password: str) -> User:
    """The invitee chose a login name and a password: their account and their access exist. The
    link is spent. Their address counts as confirmed (the link reached it)."""
    _move(
        invitation,
        (InvitationStatus.SENT,),
        status=InvitationStatus.ACCEPTED,
        nonce=new_stamp(),
        accepted_at=utcnow(),
    )
    user = accounts.create_person(
        agency,
        None,  # nobody is signed in yet
        first_name=invitation.first_name,
        last_name=invitation.last_name,
        email=invitation.email,
        phone=None,
        role=Role.PORTAL,
        username=username,
    )
    user.password_hash = hash_secret(password)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    invitation.user_id = user.id
    relationship, sections = invitation.relationship_kind, invitation.sections
    accounts.link_to_client(
        agency, user, user, invitation.client, relationship, **link_flags(relationship, sections)
    )
    _invitation_consent(agency, user, ConsentAction.GRANTED, invitation)
    audit.record("invitation.accepted", actor=user, target=invitation, client_id=invitation.client_id)
    return user


def may_join_account(invitation: Invitation, user) -> bool:
    """May the signed-in `user` take this invitation into the account they have? Only a portal
    user of the agency whose confirmed address is the one the invitation went to, not yet linked
    to the client: the link proves the mailbox, the session the account."""
    return (
        user is not None
        and not user.is_staff
        and user.agency_id == invitation.agency_id
        and user.email_confirmed_at is not None
        and (user.email or "").casefold() == invitation.email.casefold()
        and not any(link.client_id == invitation.client_id for link in user.links)
    )


def accept_into_account(agency, invitation: Invitation, user: User) -> None:
    """The invitee already has an account (see `may_join_account`): the access is added to it and
    the link is spent."""
    _move(
        invitation,
        (InvitationStatus.SENT,),
        status=InvitationStatus.ACCEPTED,
        nonce=new_stamp(),
        accepted_at=utcnow(),
    )
    invitation.user_id = user.id
    relationship, sections = invitation.relationship_kind, invitation.sections
    accounts.link_to_client(
        agency, user, user, invitation.client, relationship, **link_flags(relationship, sections)
    )
    _invitation_consent(agency, user, ConsentAction.GRANTED, invitation)
    audit.record(
        "invitation.accepted",
        actor=user,
        target=invitation,
        client_id=invitation.client_id,
        into="own account",
    )


def revoke_access(agency, actor, link: ClientLink) -> None:
    """End someone's access to this client at once: their link goes, every session of theirs ends
    (their next request is the sign-in page), and the invitations they sent for this client are
    withdrawn."""
    person, client_id, relationship = link.user, link.client_id, link.relationship_kind
    _consent(
        agency,
        actor,
        ConsentAction.REVOKED,
        client_id,
        name=person.display_name,
        relationship=relationship,
        sections=allowed_sections(link),
        subject_user_id=person.id,
    )
    pending = db.session.scalars(
        select(Invitation).where(
            Invitation.client_id == client_id,
            Invitation.invited_by_id == person.id,
            Invitation.status.in_(list(PENDING)),
        )
    ).all()
    for invitation in pending:
        withdraw_invitation(agency, actor, invitation)
    db.session.delete(link)
    accounts.end_all_sessions(person)
    db.session.flush()
    audit.record(
        "link.revoked",
        actor=actor,
        target=person,
        client_id=client_id,
        relationship=relationship,
    )


# --- what the access page and the office read ------------------------------------------------------


def people_with_access(client) -> list[ClientLink]:
    """Every portal user linked to this client, with their account: the client first, then by name."""
    return (
        db.session.scalars(
            select(ClientLink)
            .join(User, User.id == ClientLink.user_id)
            .where(ClientLink.client_id == client.id, User.is_active.is_(True))
            .options(contains_eager(ClientLink.user))
            .order_by((ClientLink.relationship_kind != REL_SELF), User.last_name, User.first_name, User.id)
        )
        .unique()
        .all()
    )


def open_invitations(client) -> list[Invitation]:
    """This client's invitations still waiting (for the office or the invitee), and those the office
    declined lately, newest first."""
    declined_since = utcnow() - timedelta(days=DECLINED_SHOWN_DAYS)
    return db.session.scalars(
        select(Invitation)
        .where(
            Invitation.client_id == client.id,
            or_(
                Invitation.status.in_(list(PENDING)),
                and_(Invitation.status == InvitationStatus.DECLINED, Invitation.decided_at >= declined_since),
            ),
        )
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
    ).all()


def already_invited_or_linked(client, email: str) -> bool:
    """Someone with this address already has access to the client or a pending invitation to it."""
    address = email.strip().lower()
    linked = (
        select(ClientLink.id)
        .join(User, User.id == ClientLink.user_id)
        .where(ClientLink.client_id == client.id, func.lower(User.email) == address)
    )
    invited = select(Invitation.id).where(
        Invitation.client_id == client.id,
        Invitation.status.in_(list(PENDING)),
        func.lower(Invitation.email) == address,
    )
    return bool(db.session.scalar(select(linked.exists() | invited.exists())))


def consent_records(client, page: int = 1, per_page: int = 10):
    """One page of this client's consent records, newest first, with who acted: (total, rows of
    (ConsentRecord, actor or None)). One statement."""
    actor = aliased(User)
    total = func.count().over().label("total")
    rows = db.session.execute(
        select(ConsentRecord, actor, total)
        .outerjoin(actor, actor.id == ConsentRecord.actor_id)
        .where(ConsentRecord.client_id == client.id)
        .order_by(ConsentRecord.created_at.desc(), ConsentRecord.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return (rows[0].total if rows else 0), [(row[0], row[1]) for row in rows]


def office_queue(agency) -> tuple[list[Invitation], list[Invitation]]:
    """The office's list: invitations awaiting approval (oldest first), and the recent decisions."""
    inviter = aliased(User)
    base = (
        select(Invitation)
        .join(Client, Client.id == Invitation.client_id)
        .join(inviter, inviter.id == Invitation.invited_by_id)
        .where(Invitation.agency_id == agency.id)
        .options(contains_eager(Invitation.client), contains_eager(Invitation.invited_by.of_type(inviter)))
    )
    waiting = db.session.scalars(
        base.where(Invitation.status == InvitationStatus.AWAITING_APPROVAL).order_by(
            Invitation.created_at, Invitation.id
        )
    ).all()
    since = utcnow() - timedelta(days=RECENT_DECISIONS_DAYS)
    decided = db.session.scalars(
        base.where(Invitation.decided_at.is_not(None), Invitation.decided_at >= since)
        .options(joinedload(Invitation.decided_by))
        .order_by(Invitation.decided_at.desc(), Invitation.id.desc())
        .limit(RECENT_DECISIONS_MAX)
    ).all()
    return list(waiting), list(decided)


def waiting(agency):
    """SQL: an invitation awaiting the office's approval."""
    return and_(Invitation.agency_id == agency.id, Invitation.status == InvitationStatus.AWAITING_APPROVAL)


def waiting_count(agency) -> int:
    """Invitations awaiting the office's approval."""
    return db.session.scalar(select(func.count(Invitation.id)).where(waiting(agency)))


def set_link_access(
    agency, actor, link: ClientLink, relationship: str, sections, *, visit_notes: bool, signs: bool
) -> bool:
    """The office's grid for one link: the relationship and the sections it opens (kept within
    the relationship's ceiling by `link_flags`), a payer's "may view visit notes" tick and an
    emergency contact's "may sign visit records" tick. False when nothing changed."""
    if link.agency_id != agency.id or relationship not in CEILINGS:
        raise ValueError("a link of the agency and a known relationship")
    if REL_SELF in (relationship, link.relationship_kind) and relationship != link.relationship_kind:
        raise ValueError("the client's own link is made with the client's account, never by the grid")
    flags = link_flags(relationship, sections)
    flags["may_view_visit_notes"] = relationship == REL_PAYER and bool(visit_notes)
    flags["may_sign_visits"] = relationship == REL_EMERGENCY and bool(signs)
    before = (link.relationship_kind, allowed_sections(link), link.may_view_visit_notes, link.may_sign_visits)
    link.relationship_kind = relationship
    for name, value in flags.items():
        setattr(link, name, value)
    after = (relationship, allowed_sections(link), link.may_view_visit_notes, link.may_sign_visits)
    if before == after:
        return False
    db.session.flush()
    audit.record(
        "link.access_changed",
        actor=actor,
        target=link,
        client_id=link.client_id,
        relationship=relationship,
        sections=after[1],
        before=before[1],
        visit_notes=after[2],
        signs=after[3],
    )
    return True
