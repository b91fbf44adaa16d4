"""Shift signatures: the client (or someone allowed to sign for them) confirms a completed visit.

What is signed is the visit's facts — caregiver, scheduled and clocked times, tasks with what was
done or refused and why — and a SHA-256 of their canonical form (`facts_hash`, the one place it is
computed) is kept with the signature. A later change to any of them voids the signature through
`void_changed` (called by app/services/visits.update_visit) with the reason, and `status_of`
re-checks the hash whenever a signature is shown, so a change made any other way shows too.

Functions change rows, audit and flush; they never commit.
"""

import hashlib
import json
from dataclasses import dataclass
from io import BytesIO

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.i18n import _, _l
from app.models import Agency, ClientLink, Invoice, InvoiceLine, Signature, User, Visit, VisitTask
from app.models.base import utcnow
from app.models.client import REL_SELF, RELATIONSHIP_WORDS
from app.models.statuses import InvoiceStatus, VisitStatus
from app.services import audit, storage

TYPED = "typed"
DRAWN = "drawn"
MAX_DRAWING_BYTES = 300 * 1024
MAX_DRAWING_SIDE = 2000
NAME_LENGTH = 200
USER_AGENT_LENGTH = 300

# Why a signature was voided: the facts that changed, in the words the signer reads.
CHANGE_LABELS = {
    "caregiver": _l("the caregiver changed"),
    "starts_at": _l("the scheduled start time changed"),
    "ends_at": _l("the scheduled end time changed"),
    "clock_in_at": _l("the clock-in time changed"),
    "clock_out_at": _l("the clock-out time changed"),
    "tasks": _l("the tasks changed"),
    "facts": _l("the visit record changed"),
}


class SignatureRefused(ValueError):
    """The visit cannot be signed this way; the message says why, for the person signing."""


def _moment(value) -> str | None:
    return value.isoformat() if value is not None else None


def visit_facts(visit: Visit) -> dict:
    """What the signer reviews, in a canonical form: ids, UTC times, tasks by task id."""
    return {
        "visit": visit.id,
        "client": visit.client_id,
        "caregiver": visit.caregiver_id,
        "scheduled": [_moment(visit.starts_at), _moment(visit.ends_at)],
        "clocked": [_moment(visit.clock_in_at), _moment(visit.clock_out_at)],
        "tasks": sorted([done.task_id, done.status, done.refusal_reason or ""] for done in visit.tasks),
    }


def facts_hash(visit: Visit) -> str:
    """SHA-256 (hex) of the visit's canonical facts: sorted keys, no spaces, UTF-8."""
    canonical = json.dumps(visit_facts(visit), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Status:
    """A signature as it stands now: valid, or void with the reasons and when."""

    signature: Signature
    valid: bool
    reasons: list[str]  # CHANGE_LABELS keys

    @property
    def signed_for_the_client(self) -> str | None:
        """Who the signer is to the client when it is not the client ("legal representative")."""
        kind = self.signature.relationship_kind
        return str(RELATIONSHIP_WORDS.get(kind, kind)) if kind and kind != REL_SELF else None

    @property
    def reason_text(self) -> str:
        return ", ".join(str(CHANGE_LABELS.get(key, CHANGE_LABELS["facts"])) for key in self.reasons)


def status_of(signature: Signature, visit: Visit) -> Status:
    """Valid only when never voided and the visit's facts still hash to what was signed."""
    if signature.voided_at is not None:
        return Status(signature, False, (signature.void_reason or "facts").split(","))
    if signature.facts_hash != facts_hash(visit):
        return Status(signature, False, ["facts"])
    return Status(signature, True, [])


def current_signature(visit: Visit) -> Status | None:
    """The newest signature of the visit with its status (None: never signed)."""
    signatures = sorted(visit.signatures, key=lambda s: (s.signed_at, s.id))
    return status_of(signatures[-1], visit) if signatures else None


def is_pending(visit: Visit) -> bool:
    """Completed and without a valid signature."""
    if visit.status != VisitStatus.COMPLETED:
        return False
    current = current_signature(visit)
    return current is None or not current.valid


def load_visit_options(tasks: bool = True):
    """What showing visits for signing needs, loaded with them: two statements whatever their
    number (the tasks joined in, the signatures with their signers in a second)."""
    options = [joinedload(Visit.caregiver), selectinload(Visit.signatures).joinedload(Signature.signer)]
    if tasks:
        options.append(joinedload(Visit.tasks).joinedload(VisitTask.task))
    return tuple(options)


def _unreadable() -> SignatureRefused:
    return SignatureRefused(_("The drawing could not be read. Please draw again or type your name."))


def _drawing_png(data: bytes) -> bytes:
    """The drawn signature re-encoded as a plain PNG (nothing but pixels is kept)."""
    if not data or len(data) > MAX_DRAWING_BYTES or storage.image_type(data) != "image/png":
        raise _unreadable()
    try:
        with Image.open(BytesIO(data), formats=["PNG"]) as image:
            width, height = image.size
            if not (0 < width <= MAX_DRAWING_SIDE and 0 < height <= MAX_DRAWING_SIDE):
                raise _unreadable()
            image.load()
            clean = image.convert("LA")
            out = BytesIO()
            clean.save(out, "PNG", optimize=True)
    except SignatureRefused:
        raise
    except Exception as error:  # noqa: BLE001 - a damaged PNG raises any of the decoder's many errors
        raise _unreadable() from error
    return out.getvalue()


def _same_name(typed: str, person) -> bool:
    def plain(text: str) -> str:
        return " ".join(text.split()).casefold()

    return plain(typed) == plain(person.display_name)


def sign(
    agency: Agency,
    signer: User,
    link: ClientLink,
    visit: Visit,
    *,
    typed_name: str,
    drawing: bytes | None,
    ip_address: str | None,
    user_agent: str | None,
    reviewed_hash: str | None,
) -> Signature:
    """Sign a completed, unsigned visit: the typed full name always (it must be the signer's own),
    the drawing when there is one. Who may sign is the caller's policy (`may_sign_visits`).
    `reviewed_hash` is the facts hash of the page the signer read: a visit changed since is not
    signed. The visit's row is locked first, so a second click waits and finds it signed."""
    if visit.agency_id != agency.id or link.client_id != visit.client_id or link.user_id != signer.id:
        raise SignatureRefused(_("This visit is not yours to sign."))
    db.session.execute(select(Visit.id).where(Visit.id == visit.id).with_for_update())
    db.session.refresh(visit, attribute_names=["signatures"])
    if reviewed_hash != facts_hash(visit):  # missing too: the signer must have read these facts
        raise SignatureRefused(
            _("The visit record changed while you were reading it. Please check it again, then sign.")
        )
    if not is_pending(visit):
        raise SignatureRefused(_("This visit is not waiting for a signature."))
    typed_name = " ".join((typed_name or "").split())
    if not typed_name:
        raise SignatureRefused(_("Type your full name to sign."))
    if not _same_name(typed_name, signer):
        raise SignatureRefused(
            _("Type your full name as it is on your account: %(name)s.", name=signer.display_name)
        )
    if link.relationship_kind != REL_SELF and _same_name(typed_name, visit.client):
        # Someone signing for the client signs in their own name, never in the client's.
        raise SignatureRefused(_("Sign in your own name: only the client signs as the client."))
    stored = storage.put(agency, _drawing_png(drawing), "image/png") if drawing else None
    signature = Signature(
        agency_id=agency.id,
        visit_id=visit.id,
        signer_id=signer.id,
        relationship_kind=link.relationship_kind,
        method=DRAWN if stored is not None else TYPED,
        typed_name=typed_name[:NAME_LENGTH],
        drawing_file_id=stored.id if stored is not None else None,
        ip_address=(ip_address or "")[:45] or None,
        user_agent=(user_agent or "")[:USER_AGENT_LENGTH] or None,
        facts_hash=facts_hash(visit),
        signed_at=utcnow(),
    )
    db.session.add(signature)
    visit.signatures.append(signature)
    db.session.flush()
    audit.record(
        "visit.signed",
        actor=signer,
        target=visit,
        client_id=visit.client_id,
        signature_id=signature.id,
        method=signature.method,
        facts_hash=signature.facts_hash,
    )
    return signature


def void_changed(visit: Visit, actor, changed: list[str]) -> list[Signature]:
    """Void the visit's live signatures because `changed` facts (CHANGE_LABELS keys) changed."""
    voided = []
    for signature in visit.signatures:
        if signature.voided_at is None:
            signature.voided_at = utcnow()
            signature.void_reason = ",".join(changed)[:200]
            voided.append(signature)
    if voided:
        db.session.flush()
        for signature in voided:
            audit.record(
                "signature.voided",
                actor=actor,
                target=visit,
                client_id=visit.client_id,
                signature_id=signature.id,
                changed=changed,
            )
    return voided


def drawing_of(agency: Agency, signature: Signature) -> bytes | None:
    stored = storage.get(agency, signature.drawing_file_id)
    return storage.read(stored) if stored is not None else None


def visits_for_signing(client_id: int, *, signed: bool, limit: int, offset: int = 0) -> list[Visit]:
    """A client's completed visits, newest first, with what showing them needs: those awaiting a
    signature (no signature that is not voided) or those with one."""
    live = select(Signature.id).where(Signature.visit_id == Visit.id, Signature.voided_at.is_(None)).exists()
    return list(
        db.session.scalars(
            select(Visit)
            .where(
                Visit.client_id == client_id,
                Visit.status == VisitStatus.COMPLETED,
                live if signed else ~live,
            )
            .options(*load_visit_options(tasks=False))
            .order_by(Visit.starts_at.desc(), Visit.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


REPORT_MAX_DAYS = 93


@dataclass
class ReportRow:
    visit: Visit
    minutes: int  # clocked, else scheduled
    fee_cents: int | None  # what a live invoice bills for it; None: not billed yet
    status: Status | None  # None: never signed


@dataclass
class Report:
    rows: list[ReportRow]
    minutes: int
    fees_cents: int
    signed: int
    pending: int


def report(agency: Agency, client_id: int, begins, ends, fees=None) -> Report:
    """The shift signatures report of a client: each completed visit starting in [begins, ends)
    with its hours, fee, tasks done and signature status — the document families send to
    long-term-care insurers. `fees` is the SQL criterion of the invoices whose amounts the viewer
    may see (None: no fees). Three statements whatever the number of visits."""
    visits = list(
        db.session.scalars(
            select(Visit)
            .where(
                Visit.agency_id == agency.id,
                Visit.client_id == client_id,
                Visit.status == VisitStatus.COMPLETED,
                Visit.starts_at >= begins,
                Visit.starts_at < ends,
            )
            .options(*load_visit_options())
            .order_by(Visit.starts_at, Visit.id)
        ).unique()
    )
    billed = {}
    if visits and fees is not None:
        billed = dict(
            db.session.execute(
                select(InvoiceLine.visit_id, InvoiceLine.amount_cents)
                .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                .where(
                    InvoiceLine.agency_id == agency.id,
                    Invoice.client_id == client_id,
                    Invoice.status.in_((InvoiceStatus.ISSUED, InvoiceStatus.PAID)),
                    InvoiceLine.visit_id.in_([visit.id for visit in visits]),
                    fees,
                )
            ).all()
        )
    rows = []
    for visit in visits:
        start, end = (
            (visit.clock_in_at, visit.clock_out_at)
            if visit.clock_in_at and visit.clock_out_at
            else (visit.starts_at, visit.ends_at)
        )
        rows.append(
            ReportRow(
                visit,
                int((end - start).total_seconds() // 60),
                billed.get(visit.id),
                current_signature(visit),
            )
        )
    return Report(
        rows=rows,
        minutes=sum(row.minutes for row in rows),
        fees_cents=sum(row.fee_cents or 0 for row in rows),
        signed=sum(1 for row in rows if row.status is not None and row.status.valid),
        pending=sum(1 for row in rows if row.status is None or not row.status.valid),
    )
