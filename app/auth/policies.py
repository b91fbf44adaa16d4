"""Who may see what: the one place that answers it.

A portal user's reach is the set of ClientLinks they hold. Each link has a relationship ceiling
(what that kind of person may ever see) and the agency's per-user switches (the "individualised"
set-up). A section is visible for a client only when both allow it. Pure functions here are unit
tested and exposed to Jinja, so a hidden button and a refused URL share one rule.
"""

from dataclasses import dataclass, field

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import contains_eager, joinedload

from app.extensions import db
from app.models import Client, ClientLink, Conversation, Invoice
from app.models.client import REL_EMERGENCY, REL_LEGAL, REL_PAYER, REL_SELF
from app.models.statuses import InvoiceStatus

SCHEDULE = "schedule"
SCHEDULE_REQUESTS = "schedule_requests"
INVOICES = "invoices"
PAYMENTS = "payments"
SIGNATURES = "signatures"
MESSAGES = "messages"
DOCUMENTS = "documents"
CARE_PLAN = "care_plan"
SECTIONS = (SCHEDULE, SCHEDULE_REQUESTS, INVOICES, PAYMENTS, SIGNATURES, MESSAGES, DOCUMENTS, CARE_PLAN)

# The most each relationship may ever see; ticks on the link can only narrow this, except the
# two agency ticks that open a guarded section (care plan for a legal representative, invoices
# for an emergency contact).
CEILINGS = {
    REL_SELF: frozenset(SECTIONS),
    REL_LEGAL: frozenset(SECTIONS),
    REL_EMERGENCY: frozenset({SCHEDULE, SCHEDULE_REQUESTS, SIGNATURES, MESSAGES, DOCUMENTS, INVOICES}),
    REL_PAYER: frozenset({SCHEDULE, INVOICES, PAYMENTS, MESSAGES}),
}

_SWITCHES = {
    SCHEDULE: "show_schedule",
    SCHEDULE_REQUESTS: "show_schedule_requests",
    INVOICES: "show_invoices",
    PAYMENTS: "show_payments",
    SIGNATURES: "show_signatures",
    MESSAGES: "show_messages",
    DOCUMENTS: "show_documents",
}


def link_allows(link: ClientLink, section: str) -> bool:
    """May the holder of this link see this section of the linked client?"""
    kind = link.relationship_kind
    if section not in CEILINGS.get(kind, ()):
        return False
    if section == CARE_PLAN:
        return kind == REL_SELF or (kind == REL_LEGAL and link.may_view_care_plan)
    if section == INVOICES and kind == REL_EMERGENCY and not link.may_view_invoices:
        return False
    if section == PAYMENTS and not link_allows(link, INVOICES):
        return False
    if section == SCHEDULE_REQUESTS and not link.show_schedule:
        return False
    return getattr(link, _SWITCHES[section])


def link_criterion(section: str):
    """SQL twin of `link_allows` for ClientLink rows (tested to agree on every combination)."""
    kinds = [kind for kind, sections in CEILINGS.items() if section in sections]
    allowed = ClientLink.relationship_kind.in_(kinds)
    if section == CARE_PLAN:
        return and_(
            allowed,
            or_(
                ClientLink.relationship_kind == REL_SELF,
                and_(ClientLink.relationship_kind == REL_LEGAL, ClientLink.may_view_care_plan.is_(True)),
            ),
        )
    if section in (INVOICES, PAYMENTS):
        allowed = and_(
            allowed,
            ClientLink.show_invoices.is_(True),
            or_(ClientLink.relationship_kind != REL_EMERGENCY, ClientLink.may_view_invoices.is_(True)),
        )
    if section == SCHEDULE_REQUESTS:
        allowed = and_(allowed, ClientLink.show_schedule.is_(True))
    return and_(allowed, getattr(ClientLink, _SWITCHES[section]).is_(True))


def reachable_client_ids(user_id, section: str):
    """SQL: the ids of the active clients whose `section` this user may see (PortalAccess's twin,
    for a statement that must not first load the links, such as the unread badge)."""
    return (
        select(ClientLink.client_id)
        .join(Client, Client.id == ClientLink.client_id)
        .where(ClientLink.user_id == user_id, Client.is_active.is_(True), link_criterion(section))
    )


def reads_family_threads(link: ClientLink) -> bool:
    """The client's circle (the client, a legal representative, an emergency contact or family)
    reads the threads the family shares about the client. A payer (a relative, a retirement
    community, an insurer) sees the minimum necessary: only the threads they started themselves."""
    return link.relationship_kind != REL_PAYER


def conversation_visible(link: ClientLink, conversation: Conversation) -> bool:
    """A thread is the family's, shared by the client's circle whose messages section is on for the
    client, unless its starter kept it between themselves and the office; a payer reads only the
    threads they started (`reads_family_threads`)."""
    if not link_allows(link, MESSAGES) or conversation.client_id != link.client_id:
        return False
    if conversation.started_by_id == link.user_id:
        return True
    return not conversation.is_private and reads_family_threads(link)


def conversation_criterion(user_id, client_ids):
    """SQL twin of `conversation_visible` over the clients whose messages the user may read (a list
    or a select of ids): their own threads, and the shared ones of the clients whose family threads
    their link reads."""
    family = (
        select(ClientLink.id)
        .where(
            ClientLink.user_id == user_id,
            ClientLink.client_id == Conversation.client_id,
            ClientLink.relationship_kind != REL_PAYER,
        )
        .exists()
    )
    return and_(
        Conversation.client_id.in_(client_ids),
        or_(Conversation.started_by_id == user_id, and_(Conversation.is_private.is_(False), family)),
    )


def starts_private(link: ClientLink) -> bool:
    """A payer's threads start between the payer and the office (their money, not the family's)."""
    return link.relationship_kind == REL_PAYER


def link_shows_visit_notes(link: ClientLink) -> bool:
    """Caregiver notes and refusal reasons: the client's own circle sees them; a payer sees visit
    times, caregiver, status and tasks only, unless the agency ticked "may view visit notes"
    (minimum necessary). Calendar, print view, PDF and feed all ask this."""
    return link.relationship_kind != REL_PAYER or link.may_view_visit_notes


def link_sees_category(link: ClientLink, category_id: int) -> bool:
    return link_allows(link, DOCUMENTS) and all(c.id != category_id for c in link.hidden_categories)


def document_visible(link: ClientLink, document) -> bool:
    """A document of the linked client, in a category this link does not hide (the per-link
    category switches), while the documents section is on for the link."""
    return document.client_id == link.client_id and link_sees_category(link, document.category_id)


def may_upload_document(link: ClientLink, category) -> bool:
    """Families add files (a signed form) to a category the agency opened for it, when they see
    that category of the client's documents; whoever sees the section may (a payer never does)."""
    return bool(category.families_may_upload) and link_sees_category(link, category.id)


def invoice_criterion(link: ClientLink):
    """SQL criterion for the invoices this link may see: payers see only what is billed to them.

    The SQL twin of `invoice_visible`: drafts stay hidden here too, so a list never shows an
    invoice its detail page would refuse.
    """
    if not link_allows(link, INVOICES):
        return false()
    issued = and_(Invoice.client_id == link.client_id, Invoice.status != InvoiceStatus.DRAFT)
    if link.relationship_kind == REL_PAYER:
        return and_(issued, Invoice.billed_to_id == link.user_id)
    return and_(issued, Invoice.billed_to_id.is_(None))


def invoice_visible(link: ClientLink, invoice: Invoice) -> bool:
    if not link_allows(link, INVOICES) or invoice.client_id != link.client_id:
        return False
    if invoice.status == InvoiceStatus.DRAFT:
        return False
    if link.relationship_kind == REL_PAYER:
        return invoice.billed_to_id == link.user_id
    return invoice.billed_to_id is None


def may_sign_visits(link: ClientLink | None) -> bool:
    """Sign visit records for the client: the client and legal representatives who see the
    signatures; an emergency contact only where the agency ticked it; a payer never."""
    if link is None or not link_allows(link, SIGNATURES):
        return False
    if link.relationship_kind in (REL_SELF, REL_LEGAL):
        return True
    return link.relationship_kind == REL_EMERGENCY and link.may_sign_visits


def can_question_invoice(link: ClientLink, invoice: Invoice) -> bool:
    """ "Question this line": the client, a legal representative or the payer of an invoice they see,
    when they write messages for the client; an emergency contact only views and downloads."""
    return (
        link.relationship_kind != REL_EMERGENCY
        and link_allows(link, MESSAGES)
        and invoice_visible(link, invoice)
    )


ONLINE_GATEWAYS = frozenset({"stripe"})  # "manual" is the office recording payments: no Pay button


def can_pay(link: ClientLink, invoice: Invoice, gateway: str) -> bool:
    """Pay online: the agency takes payments online, the invoice is outstanding and visible to this
    link, which opens payments; never an emergency contact (view and download only)."""
    return (
        gateway in ONLINE_GATEWAYS
        and link.relationship_kind != REL_EMERGENCY
        and link_allows(link, PAYMENTS)
        and invoice_visible(link, invoice)
        and invoice.is_outstanding
    )


@dataclass
class PortalAccess:
    """A portal user's links, loaded once per request and asked everything else."""

    links: dict[int, ClientLink] = field(default_factory=dict)

    @classmethod
    def for_user(cls, user) -> "PortalAccess":
        # One query: each link with its client, the client's usual caregiver and the hidden categories.
        rows = (
            db.session.scalars(
                select(ClientLink)
                .join(Client, Client.id == ClientLink.client_id)
                .where(ClientLink.user_id == user.id, Client.is_active.is_(True))
                .options(
                    contains_eager(ClientLink.client).joinedload(Client.usual_caregiver),
                    joinedload(ClientLink.hidden_categories),
                )
                .order_by(Client.last_name, Client.first_name)
            )
            .unique()
            .all()
        )
        return cls({link.client_id: link for link in rows})

    def clients(self, section: str | None = None) -> list[Client]:
        return [link.client for link in self.links.values() if section is None or link_allows(link, section)]

    def client_ids(self, section: str) -> list[int]:
        return [cid for cid, link in self.links.items() if link_allows(link, section)]

    def link(self, client_id: int) -> ClientLink | None:
        return self.links.get(client_id)

    def allows(self, client_id: int, section: str) -> bool:
        link = self.links.get(client_id)
        return link is not None and link_allows(link, section)

    def shows_visit_notes(self, client_id: int) -> bool:
        link = self.links.get(client_id)
        return link is not None and link_shows_visit_notes(link)

    def any_allows(self, section: str) -> bool:
        return any(link_allows(link, section) for link in self.links.values())

    def invoices_criterion(self, client_id: int | None = None):
        links = [link for cid, link in self.links.items() if client_id is None or cid == client_id]
        return or_(false(), *[invoice_criterion(link) for link in links])


# --- Staff roles: what an owner and office staff may do in the admin area ------------------------
# Every admin view declares one of these areas; the admin blueprint refuses any view whose area the
# signed-in staff member may not manage, and a view without an area is refused for everyone.

AREA_HOME = "home"  # the office's overview page
AREA_PEOPLE = "people"  # portal accounts: add, credentials, reset, temporary password, lock
AREA_SCHEDULE_REQUESTS = "schedule_requests"  # the office's schedule-request queue
AREA_MESSAGES = "messages"  # the office inbox: read and answer the families' messages
AREA_BILLING = "billing"  # invoices: build, edit, issue, void; payments and refunds; statements
AREA_CARE_PLANS = "care_plans"  # clients' care plans: read, edit, their history
AREA_VISITS = "visits"  # visits and their records: the shift signatures report
AREA_SETTINGS = "settings"  # office settings, payment settings among them
AREA_STAFF = "staff"  # add or remove staff, change a staff member's role
AREA_AUDIT = "audit"  # read the audit log
AREA_DOCUMENTS = "documents"  # document categories; clients' documents: upload, remove, who sees which
OFFICE_AREAS = frozenset(
    {
        AREA_HOME,
        AREA_PEOPLE,
        AREA_SCHEDULE_REQUESTS,
        AREA_MESSAGES,
        AREA_BILLING,
        AREA_CARE_PLANS,
        AREA_DOCUMENTS,
        AREA_VISITS,
    }
)
OWNER_AREAS = frozenset({AREA_SETTINGS, AREA_STAFF, AREA_AUDIT})
AREAS = OFFICE_AREAS | OWNER_AREAS


def is_owner(user) -> bool:
    return bool(getattr(user, "is_staff", False) and user.is_owner)


def can_manage(staff, area: str | None) -> bool:
    """May this staff member use this admin area? Office staff run the day-to-day areas; only an
    owner manages staff, office and payment settings, and reads the audit log. An unknown or
    missing area is refused, so a view nobody classified stays closed."""
    if not getattr(staff, "is_staff", False) or area not in AREAS:
        return False
    return area in OFFICE_AREAS or is_owner(staff)


def can_act_on(staff, person) -> bool:
    """May this staff member act on this person's account (credentials, reset, temporary password,
    lock)? Office staff act on portal users of their own agency; a staff or owner account is the
    owner's alone; nobody acts on another agency's user."""
    if not can_manage(staff, AREA_PEOPLE) or person.agency_id != staff.agency_id:
        return False
    if person.is_staff or person.is_owner:
        return is_owner(staff)
    return True


# --- Sign-in rules that depend on who the account belongs to ---------------------------------------


def offers_security_question(agency, user) -> bool:
    """Knowledge-based reset, where the agency allows it, for portal users only: a staff account
    reaches every client's records and never gets one (nor is asked to register one)."""
    return bool(agency.security_questions_enabled) and not user.is_staff


def two_step_required(agency, user) -> bool:
    """The agency requires two-step sign-in for its staff."""
    return user.is_staff and bool(agency.staff_two_factor_required)


# --- Access the family controls: who may invite, grant and revoke ----------------------------------
# A client (relationship `self`) and their legal representatives manage who else sees the client's
# record. They invite family (an emergency contact) or another legal representative, never a payer:
# a payer is whoever invoices are billed to, and that is the office's arrangement, not the family's.

INVITABLE_RELATIONSHIPS = (REL_EMERGENCY, REL_LEGAL)


def manages_access(link: ClientLink | None) -> bool:
    """May the holder of this link invite people to, and revoke people from, the linked client?"""
    return link is not None and link.relationship_kind in (REL_SELF, REL_LEGAL)


def allowed_sections(link: ClientLink) -> list[str]:
    """The sections this link opens, in SECTIONS order ("what each may see")."""
    return [section for section in SECTIONS if link_allows(link, section)]


def above_ceiling(relationship: str, sections) -> list[str]:
    """The chosen sections this relationship may never see (all of them for an unknown one)."""
    ceiling = CEILINGS.get(relationship, frozenset())
    return [section for section in SECTIONS if section in set(sections) and section not in ceiling]


def link_flags(relationship: str, sections) -> dict[str, bool]:
    """The ClientLink switches and ticks that open exactly `sections` (within the ceiling) for a
    new link of this relationship: the inverse of `link_allows` (tested to agree)."""
    chosen = set(sections)
    flags = {switch: section in chosen for section, switch in _SWITCHES.items()}
    flags["may_view_care_plan"] = relationship == REL_LEGAL and CARE_PLAN in chosen
    flags["may_view_invoices"] = relationship == REL_EMERGENCY and INVOICES in chosen
    flags["may_view_visit_notes"] = False  # a payer's tick; never given by an invitation
    return flags


def needs_other_section(sections) -> list[tuple[str, str]]:
    """Pairs (chosen, missing): payments come with invoices, schedule requests with the schedule."""
    chosen = set(sections)
    pairs = ((PAYMENTS, INVOICES), (SCHEDULE_REQUESTS, SCHEDULE))
    return [(section, needed) for section, needed in pairs if section in chosen and needed not in chosen]


def invitation_needs_approval(agency, relationship: str) -> bool:
    """The office reads an invitation before it goes out, unless office settings let them go straight
    out; a legal representative always waits for the office, which holds the power of attorney or
    guardianship papers and ticks the care plan for such a link."""
    return bool(agency.invitations_need_approval) or relationship == REL_LEGAL


def may_revoke(manager: ClientLink | None, link: ClientLink) -> bool:
    """May the holder of `manager` end the access `link` gives? Anyone's on the same client but the
    client's own account and their own."""
    return (
        manages_access(manager)
        and link.client_id == manager.client_id
        and link.relationship_kind != REL_SELF
        and link.user_id != manager.user_id
    )
