"""Clients: create, edit, deactivate and reactivate the people who receive care.

A deactivated client's people lose access at once: every portal rule asks `Client.is_active`
through the scoped lookups, and each linked person who has no other active client is signed out
everywhere (their session stamp rotates). Like every service, these change rows and audit; none
commits and none reads the request.
"""

from sqlalchemy import or_, select

from app.extensions import db
from app.models import Client, ClientLink, User
from app.models.client import REL_SELF
from app.models.statuses import Role
from app.services import accounts, audit

# The columns an office form or an import may set, in the order the history shows them.
EDITABLE = ("first_name", "last_name", "email", "phone", "address", "external_id")


def _clean(value):
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def create_client(agency, actor, **values) -> Client:
    """A new, active client of `agency`; `values` are EDITABLE columns."""
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise TypeError(f"not client columns: {sorted(unknown)}")
    client = Client(agency_id=agency.id, is_active=True, **{k: _clean(v) for k, v in values.items()})
    db.session.add(client)
    db.session.flush()
    audit.record("client.created", actor=actor, target=client, client_id=client.id, name=client.display_name)
    return client


def update_client(agency, actor, client: Client, **values) -> list[str]:
    """Set the given EDITABLE columns; audit which changed (names only, never the values of
    contact details). Returns the changed column names."""
    if client.agency_id != agency.id:
        raise ValueError("client of another agency")
    changed = []
    for name, value in values.items():
        if name not in EDITABLE:
            raise TypeError(f"not a client column: {name}")
        value = _clean(value)
        if getattr(client, name) != value:
            setattr(client, name, value)
            changed.append(name)
    if changed:
        db.session.flush()
        audit.record("client.updated", actor=actor, target=client, client_id=client.id, changed=changed)
    return changed


def set_active(agency, actor, client: Client, active: bool) -> list[User]:
    """Deactivate or reactivate a client. On deactivation, each linked person left without an
    active client is signed out everywhere; returns those people."""
    if client.agency_id != agency.id:
        raise ValueError("client of another agency")
    if client.is_active == active:
        return []
    client.is_active = active
    db.session.flush()
    signed_out = []
    if not active:
        linked = select(ClientLink.user_id).where(ClientLink.client_id == client.id)
        still_served = (
            select(ClientLink.user_id)
            .join(Client, Client.id == ClientLink.client_id)
            .where(Client.is_active.is_(True), ClientLink.user_id.in_(linked))
        )
        signed_out = db.session.scalars(
            select(User).where(User.id.in_(linked), User.id.not_in(still_served), User.role == Role.PORTAL)
        ).all()
        for user in signed_out:
            accounts.end_all_sessions(user)
    audit.record(
        "client.reactivated" if active else "client.deactivated",
        actor=actor,
        target=client,
        client_id=client.id,
        signed_out=[user.id for user in signed_out],
    )
    return signed_out


def give_portal_access(agency, actor, client: Client) -> User:
    """A portal account for the client themselves, from their details, linked as "client", and
    the credentials mail (login name and a one-time link). The client must have an e-mail address."""
    if not client.email:
        raise ValueError("the client has no e-mail address")
    user = accounts.create_person(
        agency,
        actor,
        first_name=client.first_name,
        last_name=client.last_name,
        email=client.email,
        phone=client.phone,
        role=Role.PORTAL,
    )
    accounts.link_to_client(agency, actor, user, client, REL_SELF)
    accounts.send_credentials(agency, actor, user)
    return user


def self_link(client: Client) -> ClientLink | None:
    """The client's own portal account link, if they have one."""
    return next((link for link in client.links if link.relationship_kind == REL_SELF), None)


def active_clients(agency) -> list[Client]:
    """The agency's active clients by last name: what a new visit, pattern or link may be for."""
    return list(
        db.session.scalars(
            select(Client)
            .where(Client.agency_id == agency.id, Client.is_active.is_(True))
            .order_by(Client.last_name, Client.first_name, Client.id)
        )
    )


def search_criterion(query: str):
    """Clients whose name (either order), phone, e-mail or external id contains `query`."""
    pattern = f"%{query}%"
    return or_(
        Client.first_name.ilike(pattern),
        Client.last_name.ilike(pattern),
        (Client.first_name + " " + Client.last_name).ilike(pattern),
        (Client.last_name + ", " + Client.first_name).ilike(pattern),
        Client.phone.ilike(pattern),
        Client.email.ilike(pattern),
        Client.external_id.ilike(pattern),
    )
