"""Client leads: enquiries the office follows up, assigns, annotates, attaches files to and
converts into clients. Like every service these change rows and audit; none commits and none reads
the request. The audit keeps field names and ids, never the enquiry's text (it may hold health
details)."""

from sqlalchemy import func, or_, select

from app.extensions import db
from app.i18n import _l
from app.models import ClientLead, Document, DocumentCategory, LeadAttachment, LeadNote, User
from app.models.statuses import Role
from app.services import audit, clients, documents, links, storage
from app.services.mail import queue_mail

EDITABLE = ("first_name", "last_name", "email", "phone", "address", "notes", "source")
STATUSES = ("new", "contacted", "converted", "lost")
SETTABLE_STATUSES = ("new", "contacted", "lost")  # "converted" only by converting
# The category a converted lead's files go to. A new client has no portal links yet, so nobody
# but the office reads it at first; the office hides it on each link it later makes (ClientLink
# hides categories per link; the model has no "hidden by default" flag).
ENQUIRY_CATEGORY = "Enquiry"

STATUS_LABELS = {
    "new": _l("New"),
    "contacted": _l("Contacted"),
    "converted": _l("Converted"),
    "lost": _l("Lost"),
}


class AlreadyConverted(Exception):
    """The lead became a client already."""


def _clean(value):
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _own(agency, row) -> None:
    if row.agency_id != agency.id:
        raise ValueError("row of another agency")


def search_criterion(query: str):
    pattern = f"%{query}%"
    return or_(
        ClientLead.first_name.ilike(pattern),
        ClientLead.last_name.ilike(pattern),
        (ClientLead.first_name + " " + ClientLead.last_name).ilike(pattern),
        (ClientLead.last_name + ", " + ClientLead.first_name).ilike(pattern),
        ClientLead.email.ilike(pattern),
        ClientLead.phone.ilike(pattern),
    )


def staff_choices(agency) -> list[User]:
    """Active staff of the agency, by name: who a lead may be assigned to."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.agency_id == agency.id, User.role == Role.STAFF, User.is_active.is_(True))
            .order_by(User.last_name, User.first_name, User.id)
        )
    )


def create(agency, actor, **values) -> ClientLead:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise TypeError(f"not lead columns: {sorted(unknown)}")
    lead = ClientLead(agency_id=agency.id, status="new", **{k: _clean(v) for k, v in values.items()})
    lead.first_name = lead.first_name or ""
    lead.last_name = lead.last_name or ""
    db.session.add(lead)
    db.session.flush()
    audit.record("lead.created", actor=actor, target=lead)
    return lead


def update(agency, actor, lead: ClientLead, status: str | None = None, **values) -> list[str]:
    """Set EDITABLE columns and the status (not "converted"); audit the names that changed."""
    _own(agency, lead)
    changed = []
    for name, value in values.items():
        if name not in EDITABLE:
            raise TypeError(f"not a lead column: {name}")
        value = _clean(value)
        if name in ("first_name", "last_name"):
            value = value or ""
        if getattr(lead, name) != value:
            setattr(lead, name, value)
            changed.append(name)
    if status is not None and status != lead.status:
        if lead.status == "converted" or status not in SETTABLE_STATUSES:
            raise ValueError("status cannot be set so")
        lead.status = status
        changed.append("status")
    if changed:
        db.session.flush()
        audit.record("lead.updated", actor=actor, target=lead, changed=changed, status=lead.status)
    return changed


def assign(agency, actor, lead: ClientLead, user: User | None) -> bool:
    """Give the lead to an active staff member (mailed through the outbox), or to no one."""
    _own(agency, lead)
    if user is not None and (user.agency_id != agency.id or user.role != Role.STAFF or not user.is_active):
        raise ValueError("not an active staff member of the agency")
    new_id = user.id if user else None
    if lead.assigned_to_id == new_id:
        return False
    lead.assigned_to_id = new_id
    lead.assigned_to = user
    db.session.flush()
    audit.record("lead.assigned", actor=actor, target=lead, assigned_to_id=new_id)
    if user is not None and user.email and user.id != getattr(actor, "id", None):
        queue_mail(
            user.email,
            "lead_assigned",
            agency=agency,
            locale=user.language,
            user=user,
            lead_name=f"{lead.first_name} {lead.last_name}".strip(),
            url=links.agency_url(agency, "admin.lead", lead_id=lead.id),
        )
    return True


def add_note(agency, actor, lead: ClientLead, body: str) -> LeadNote:
    _own(agency, lead)
    note = LeadNote(agency_id=agency.id, lead_id=lead.id, author_id=actor.id, body=body.strip())
    db.session.add(note)
    db.session.flush()
    audit.record("lead.note_added", actor=actor, target=lead, note_id=note.id)
    return note


def attach(agency, actor, lead: ClientLead, file_storage) -> LeadAttachment:
    """Keep an uploaded file on the lead; documents.DocumentRefused, nothing stored, otherwise."""
    _own(agency, lead)
    data = documents.read_upload(file_storage)
    kind = documents.check_file(data)
    filename = documents.safe_filename(file_storage.filename, kind)
    stored = storage.put(agency, data, kind)
    attachment = LeadAttachment(agency_id=agency.id, lead_id=lead.id, filename=filename, file_id=stored.id)
    db.session.add(attachment)
    db.session.flush()
    audit.record(
        "lead.file_attached",
        actor=actor,
        target=lead,
        attachment_id=attachment.id,
        filename=filename,
        content_type=kind,
        size_bytes=len(data),
    )
    return attachment


def remove_attachment(agency, actor, attachment: LeadAttachment) -> None:
    _own(agency, attachment)
    stored = storage.get(agency, attachment.file_id)
    details = {"attachment_id": attachment.id, "filename": attachment.filename}
    lead = attachment.lead
    db.session.delete(attachment)
    db.session.flush()
    if stored is not None:
        storage.delete(stored)  # kept while a client document (a converted lead) still uses it
    audit.record("lead.file_removed", actor=actor, target=lead, **details)


def enquiry_category(agency, actor) -> DocumentCategory:
    category = db.session.scalar(
        select(DocumentCategory).where(
            DocumentCategory.agency_id == agency.id, DocumentCategory.name == ENQUIRY_CATEGORY
        )
    )
    return category or documents.add_category(agency, actor, ENQUIRY_CATEGORY)


def convert(agency, actor, lead: ClientLead):
    """A new client with the lead's details; each attachment becomes the client's document in the
    office-only "Enquiry" category; the lead stays, converted, pointing at the client (its enquiry
    and notes are read there). AlreadyConverted when it was converted before."""
    _own(agency, lead)
    locked = db.session.scalar(
        select(ClientLead)
        .where(ClientLead.id == lead.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked.status == "converted" or locked.converted_client_id is not None:
        raise AlreadyConverted()
    client = clients.create_client(
        agency,
        actor,
        first_name=lead.first_name,
        last_name=lead.last_name,
        email=lead.email,
        phone=lead.phone,
        address=lead.address,
    )
    if lead.attachments:
        category = enquiry_category(agency, actor)
        for attachment in lead.attachments:
            db.session.add(
                Document(
                    agency_id=agency.id,
                    client_id=client.id,
                    category_id=category.id,
                    title=documents.title_from(attachment.filename),
                    filename=attachment.filename,
                    file_id=attachment.file_id,
                    uploaded_by_id=actor.id,
                )
            )
    lead.status = "converted"
    lead.converted_client_id = client.id
    db.session.flush()
    audit.record(
        "lead.converted",
        actor=actor,
        target=lead,
        client_id=client.id,
        documents=len(lead.attachments),
    )
    return client


def counts_by_status(agency) -> dict[str, int]:
    rows = db.session.execute(
        select(ClientLead.status, func.count())
        .where(ClientLead.agency_id == agency.id)
        .group_by(ClientLead.status)
    )
    return dict(rows.all())
