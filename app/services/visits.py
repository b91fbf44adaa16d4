"""Changing a visit: the one way the office edits times, the caregiver, what was done and the
note. A change to a fact the client signed (caregiver, scheduled or clocked times, tasks) voids
the visit's signature with the reason, so the client is asked to sign again.

`update_visit` changes rows, audits and flushes; it never commits. A stale edit is the caller's to
refuse first (app/web/conflicts.check_version against the form's version); the versioned row
catches a race after that.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from app.extensions import db
from app.i18n import _
from app.models import Caregiver, Task, Visit, VisitTask
from app.models.statuses import TaskStatus, VisitStatus
from app.services import audit, signatures

UNCHANGED = object()
TIMES = ("starts_at", "ends_at", "clock_in_at", "clock_out_at")


class VisitRefused(ValueError):
    """The change cannot be made; the message says why."""


@dataclass(frozen=True)
class TaskDone:
    task_id: int
    status: str  # planned | done | refused
    refusal_reason: str | None = None


def _task_rows(visit: Visit) -> list[tuple]:
    return sorted((t.task_id, t.status, t.refusal_reason or "") for t in visit.tasks)


def update_visit(
    agency,
    actor,
    visit: Visit,
    *,
    starts_at: datetime = UNCHANGED,
    ends_at: datetime = UNCHANGED,
    clock_in_at: datetime | None = UNCHANGED,
    clock_out_at: datetime | None = UNCHANGED,
    caregiver_id: int | None = UNCHANGED,
    status: str = UNCHANGED,
    caregiver_note: str | None = UNCHANGED,
    tasks: list[TaskDone] = UNCHANGED,
) -> list[str]:
    """Apply the given changes (the others stay); the names of the fields that changed."""
    if visit.agency_id != agency.id:
        raise VisitRefused(_("This visit is not the agency's."))
    wanted = {
        "starts_at": starts_at,
        "ends_at": ends_at,
        "clock_in_at": clock_in_at,
        "clock_out_at": clock_out_at,
        "caregiver_id": caregiver_id,
        "status": status,
        "caregiver_note": caregiver_note,
    }
    wanted = {name: value for name, value in wanted.items() if value is not UNCHANGED}
    after = {name: wanted.get(name, getattr(visit, name)) for name in TIMES}
    if after["ends_at"] <= after["starts_at"]:
        raise VisitRefused(_("The visit must end after it starts."))
    if after["clock_in_at"] and after["clock_out_at"] and after["clock_out_at"] <= after["clock_in_at"]:
        raise VisitRefused(_("The clock-out time must be after the clock-in time."))
    if "status" in wanted and wanted["status"] not in set(VisitStatus):
        raise VisitRefused(_("Unknown visit status."))
    if tasks is not UNCHANGED:
        for done in tasks:
            if done.status not in set(TaskStatus):
                raise VisitRefused(_("Unknown task status."))
            if done.status == TaskStatus.REFUSED and not (done.refusal_reason or "").strip():
                raise VisitRefused(_("Say why a refused task was refused."))

    if wanted.get("caregiver_id") is not None and not db.session.scalar(
        select(Caregiver.id).where(Caregiver.id == wanted["caregiver_id"], Caregiver.agency_id == agency.id)
    ):
        raise VisitRefused(_("This caregiver is not the agency's."))
    if tasks is not UNCHANGED:
        task_ids = {done.task_id for done in tasks}
        known = set(
            db.session.scalars(select(Task.id).where(Task.id.in_(task_ids), Task.agency_id == agency.id))
        )
        if known != task_ids:
            raise VisitRefused(_("A task is not the agency's."))

    changed = [name for name, value in wanted.items() if getattr(visit, name) != value]
    for name in changed:
        setattr(visit, name, wanted[name])
    if tasks is not UNCHANGED:
        before = _task_rows(visit)
        by_task = {row.task_id: row for row in visit.tasks}
        keep = {done.task_id for done in tasks}
        for row in list(visit.tasks):
            if row.task_id not in keep:
                visit.tasks.remove(row)
        for done in tasks:
            row = by_task.get(done.task_id)
            if row is None:
                row = VisitTask(agency_id=visit.agency_id, task_id=done.task_id)
                visit.tasks.append(row)
            row.status = done.status
            row.refusal_reason = (done.refusal_reason or "").strip() or None
        if _task_rows(visit) != before:
            changed.append("tasks")
    if not changed:
        return []
    db.session.flush()
    signed_facts = [
        "caregiver" if name == "caregiver_id" else name
        for name in changed
        if name in (*TIMES, "caregiver_id", "tasks")
    ]
    if signed_facts:
        signatures.void_changed(visit, actor, signed_facts)
    audit.record("visit.updated", actor=actor, target=visit, client_id=visit.client_id, fields=changed)
    return changed


def cancel_visit(agency, actor, visit: Visit, reason: str) -> None:
    """Cancel a visit with the office's reason (kept on the visit and in the audit log)."""
    reason = (reason or "").strip()
    if visit.agency_id != agency.id:
        raise VisitRefused(_("This visit is not the agency's."))
    if not reason:
        raise VisitRefused(_("Say why the visit is cancelled."))
    if visit.status == VisitStatus.COMPLETED:
        raise VisitRefused(_("A completed visit cannot be cancelled."))
    visit.status = VisitStatus.CANCELLED
    visit.cancel_reason = reason
    db.session.flush()
    audit.record("visit.cancelled", actor=actor, target=visit, client_id=visit.client_id, reason=reason)


def local_moment(zone, day, at) -> datetime | None:
    """`day` at local time `at` in `zone`, in UTC; None for a time the clocks skip (DST gap)."""
    naive = datetime.combine(day, at)
    moment = naive.replace(tzinfo=zone)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        return None
    return moment.astimezone(UTC)


def create_visit(
    agency,
    actor,
    client,
    *,
    starts_at,
    ends_at,
    caregiver_id=None,
    caregiver_note=None,
    task_ids=(),
    series_id=None,
) -> Visit:
    """A new scheduled visit for the agency's client, with its planned tasks (`series_id`: the
    weekly pattern that made it)."""
    if client.agency_id != agency.id:
        raise VisitRefused(_("This client is not the agency's."))
    if ends_at <= starts_at:
        raise VisitRefused(_("The visit must end after it starts."))
    if caregiver_id is not None and not db.session.scalar(
        select(Caregiver.id).where(
            Caregiver.id == caregiver_id, Caregiver.agency_id == agency.id, Caregiver.is_active.is_(True)
        )
    ):
        raise VisitRefused(_("This caregiver is not the agency's."))
    task_ids = sorted(set(task_ids))
    if task_ids and len(
        db.session.scalars(select(Task.id).where(Task.id.in_(task_ids), Task.agency_id == agency.id)).all()
    ) != len(task_ids):
        raise VisitRefused(_("A task is not the agency's."))
    visit = Visit(
        agency_id=agency.id,
        client_id=client.id,
        caregiver_id=caregiver_id,
        starts_at=starts_at,
        ends_at=ends_at,
        status=VisitStatus.SCHEDULED,
        caregiver_note=(caregiver_note or "").strip() or None,
        series_id=series_id,
    )
    visit.tasks = [VisitTask(agency_id=agency.id, task_id=task_id) for task_id in task_ids]
    db.session.add(visit)
    db.session.flush()
    audit.record("visit.created", actor=actor, target=visit, client_id=client.id, series_id=series_id)
    return visit


def complete_visit(
    agency, actor, visit: Visit, *, clock_in_at, clock_out_at, tasks: list[TaskDone], caregiver_note
) -> list[str]:
    """Mark a visit completed as the caregiver reported it: clock times, each task done or refused
    (with the reason), the caregiver's note. A cancelled visit cannot be completed."""
    if visit.status == VisitStatus.CANCELLED:
        raise VisitRefused(_("A cancelled visit cannot be marked completed."))
    return update_visit(
        agency,
        actor,
        visit,
        status=VisitStatus.COMPLETED,
        clock_in_at=clock_in_at,
        clock_out_at=clock_out_at,
        tasks=tasks,
        caregiver_note=(caregiver_note or "").strip() or None,
    )
