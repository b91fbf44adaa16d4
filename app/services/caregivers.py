"""Caregivers: add, edit, deactivate and reactivate them, and their photo.

A deactivated caregiver stays on the visits they already have (the families' calendars keep the
name) but is no longer offered for new ones: `choices` lists active caregivers only. Like every
service, these change rows and audit; none commits and none reads the request. The audit keeps
the names of the fields changed, never their values.
"""

from sqlalchemy import literal, or_, select

from app.extensions import db
from app.models import Caregiver, ClientCaregiver, StoredFile, Task
from app.services import audit, storage
from app.services.profile import prepare_picture

# The columns an office form or an import may set, in the order the history shows them.
EDITABLE = ("first_name", "last_name", "phone", "email", "bio", "languages", "external_id")


def _clean(value):
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _own(agency, caregiver: Caregiver) -> None:
    if caregiver.agency_id != agency.id:
        raise ValueError("caregiver of another agency")


def create(agency, actor, **values) -> Caregiver:
    """A new, active caregiver of `agency`; `values` are EDITABLE columns."""
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise TypeError(f"not caregiver columns: {sorted(unknown)}")
    caregiver = Caregiver(agency_id=agency.id, is_active=True, **{k: _clean(v) for k, v in values.items()})
    caregiver.first_name = caregiver.first_name or ""
    caregiver.last_name = caregiver.last_name or ""
    db.session.add(caregiver)
    db.session.flush()
    audit.record("caregiver.created", actor=actor, target=caregiver, name=caregiver.display_name)
    return caregiver


def update(agency, actor, caregiver: Caregiver, **values) -> list[str]:
    """Set the given EDITABLE columns; audit which changed (names only). Returns their names."""
    _own(agency, caregiver)
    changed = []
    for name, value in values.items():
        if name not in EDITABLE:
            raise TypeError(f"not a caregiver column: {name}")
        value = _clean(value)
        if name in ("first_name", "last_name"):
            value = value or ""
        if getattr(caregiver, name) != value:
            setattr(caregiver, name, value)
            changed.append(name)
    if changed:
        db.session.flush()
        audit.record("caregiver.updated", actor=actor, target=caregiver, changed=changed)
    return changed


def set_active(agency, actor, caregiver: Caregiver, active: bool) -> bool:
    """Deactivate or reactivate; False when it already was so. Existing visits keep them."""
    _own(agency, caregiver)
    if caregiver.is_active == active:
        return False
    caregiver.is_active = active
    db.session.flush()
    audit.record(
        "caregiver.reactivated" if active else "caregiver.deactivated", actor=actor, target=caregiver
    )
    return True


def set_photo(agency, actor, caregiver: Caregiver, data: bytes | None) -> StoredFile | None:
    """Re-encode the upload (profile.prepare_picture: JPEG, at most 512×512, no metadata) and make
    it the caregiver's photo; None as `data` removes the photo. PictureRefused, and nothing stored,
    when it is not a picture we keep. The previous photo is forgotten."""
    _own(agency, caregiver)
    if data is None and caregiver.photo_file_id is None:
        return None
    stored = storage.put(agency, prepare_picture(data), "image/jpeg") if data is not None else None
    previous = storage.get(agency, caregiver.photo_file_id)
    caregiver.photo_file_id = stored.id if stored else None
    db.session.flush()
    if previous is not None and (stored is None or previous.id != stored.id):
        storage.delete(previous)  # kept while anything else still uses the same bytes
    audit.record("caregiver.photo_changed", actor=actor, target=caregiver, removed=stored is None)
    return stored


def choices(agency) -> list[Caregiver]:
    """The caregivers a new visit may be given: the active ones, by name."""
    return [caregiver for caregiver, _preferred in choices_for(agency, None)]


def choices_for(agency, client_id: int | None) -> list[tuple[Caregiver, bool]]:
    """The active caregivers by name, each with whether the agency prefers them for the client
    (never, without a client), in one statement."""
    preferred = (
        select(ClientCaregiver.id)
        .where(
            ClientCaregiver.agency_id == agency.id,
            ClientCaregiver.client_id == client_id,
            ClientCaregiver.caregiver_id == Caregiver.id,
            ClientCaregiver.is_preferred.is_(True),
        )
        .exists()
    )
    rows = db.session.execute(
        select(Caregiver, preferred if client_id is not None else literal(False))
        .where(Caregiver.agency_id == agency.id, Caregiver.is_active.is_(True))
        .order_by(Caregiver.first_name, Caregiver.last_name, Caregiver.id)
    ).all()
    return [(caregiver, bool(is_preferred)) for caregiver, is_preferred in rows]


def search_criterion(query: str):
    """Caregivers whose name (either order), phone, e-mail or external id contains `query`."""
    pattern = f"%{query}%"
    return or_(
        Caregiver.first_name.ilike(pattern),
        Caregiver.last_name.ilike(pattern),
        (Caregiver.first_name + " " + Caregiver.last_name).ilike(pattern),
        (Caregiver.last_name + ", " + Caregiver.first_name).ilike(pattern),
        Caregiver.phone.ilike(pattern),
        Caregiver.email.ilike(pattern),
        Caregiver.external_id.ilike(pattern),
    )


def set_preferred(agency, actor, client, caregiver_ids) -> bool:
    """The caregivers the agency prefers for `client` (offered first for visits and in schedule
    requests); the agency's own active caregivers only. False when unchanged."""
    if client.agency_id != agency.id:
        raise ValueError("a client of another agency")
    wanted = set(
        db.session.scalars(
            select(Caregiver.id).where(
                Caregiver.agency_id == agency.id,
                Caregiver.is_active.is_(True),
                Caregiver.id.in_(sorted(set(caregiver_ids))),
            )
        )
    )
    rows = {
        row.caregiver_id: row
        for row in db.session.scalars(
            select(ClientCaregiver).where(
                ClientCaregiver.agency_id == agency.id, ClientCaregiver.client_id == client.id
            )
        )
    }
    before = {cid for cid, row in rows.items() if row.is_preferred}
    if before == wanted:
        return False
    for cid, row in rows.items():
        row.is_preferred = cid in wanted
    for cid in wanted - set(rows):
        db.session.add(ClientCaregiver(agency_id=agency.id, client_id=client.id, caregiver_id=cid))
    db.session.flush()
    audit.record(
        "client.preferred_caregivers",
        actor=actor,
        target=client,
        client_id=client.id,
        caregivers=sorted(wanted),
        before=sorted(before),
    )
    return True


def task_choices(agency) -> list[Task]:
    """The agency's active tasks by name: what a visit may plan."""
    return list(
        db.session.scalars(
            select(Task).where(Task.agency_id == agency.id, Task.is_active.is_(True)).order_by(Task.name)
        )
    )
