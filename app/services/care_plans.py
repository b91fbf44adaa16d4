"""Care / service plans: the office saves a client's plan, and every save keeps the one before it.

A save snapshots the plan as it stood (its text, its tasks with their per-visit notes, who had
saved it and when) into `CarePlanVersion` before changing anything, so the history answers "what
did the plan say on the day of that visit, and who wrote it". The plan row is versioned
(`version_id_col`): a save made from an older copy is refused here (`expected_version`) and, should
another request win the race after that check, by the database at the flush; both raise
`StaleDataError`, which the web layer answers with a 409.

The audit names the fields that changed, never what they say: the plan is health information and
the audit log is read by people who need not see it.
"""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from app.models import CarePlan, CarePlanTask, CarePlanVersion, Client, Task, User
from app.models.base import utcnow
from app.services import audit

SAVED = "care_plan.saved"
TEXT_FIELDS = ("goals", "frequency", "special_instructions")


@dataclass(frozen=True)
class PlanTask:
    """One task of a plan, the current one or an earlier version, as the pages show it."""

    task_id: int
    name: str
    per_visit_notes: str | None


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def plan_of(client: Client) -> CarePlan | None:
    """The client's plan with its tasks, their names and who saved it last: one statement."""
    return db.session.scalar(
        select(CarePlan)
        .where(CarePlan.agency_id == client.agency_id, CarePlan.client_id == client.id)
        .options(
            joinedload(CarePlan.tasks).joinedload(CarePlanTask.task),
            joinedload(CarePlan.updated_by),
        )
    )


def plan_tasks(plan: CarePlan) -> list[PlanTask]:
    return [PlanTask(row.task_id, row.task.name, row.per_visit_notes) for row in plan.tasks]


def version_tasks(version: CarePlanVersion) -> list[PlanTask]:
    """The tasks an earlier version listed, by the names they had then."""
    return [
        PlanTask(int(item.get("task_id") or 0), str(item.get("name") or ""), item.get("per_visit_notes"))
        for item in version.tasks or []
    ]


def _snapshot(plan: CarePlan) -> list[dict]:
    return [
        {"task_id": row.task_id, "name": row.task.name, "per_visit_notes": row.per_visit_notes}
        for row in plan.tasks
    ]


def save_care_plan(
    agency,
    actor: User,
    client: Client,
    *,
    goals: str | None,
    frequency: str | None,
    special_instructions: str | None,
    tasks: list[tuple[Task, str | None]],
    expected_version: int | None,
) -> tuple[CarePlan, list[str]]:
    """Save the client's care plan; (the plan, the names of the fields that changed).

    A client without a plan gets one (`expected_version` None or 0: the form was opened before
    there was one). Otherwise the plan as it stood goes into the history first, with who saved it
    then and when, and the plan takes the new text and tasks, the actor and a new version. Nothing
    changed: nothing is written, no version is kept, nothing is audited. Flushes, never commits."""
    if client.agency_id != agency.id:
        raise ValueError("the client is not of this agency")
    if any(task.agency_id != agency.id for task, _notes in tasks):
        raise ValueError("a task is not of this agency")
    values = {
        "goals": _text(goals),
        "frequency": _text(frequency),
        "special_instructions": _text(special_instructions),
    }
    wanted: dict[int, str | None] = {}
    for task, notes in tasks:
        wanted[task.id] = _text(notes)  # a task named twice keeps its last notes
    plan = db.session.scalar(
        select(CarePlan)
        .where(CarePlan.agency_id == agency.id, CarePlan.client_id == client.id)
        .options(selectinload(CarePlan.tasks))
    )
    now = utcnow()
    if plan is None:
        if expected_version not in (None, 0):
            raise StaleDataError("the care plan this form was opened on is gone")
        plan = CarePlan(
            agency_id=agency.id, client_id=client.id, updated_by_id=actor.id, updated_at=now, **values
        )
        plan.tasks = [
            CarePlanTask(agency_id=agency.id, task_id=task_id, per_visit_notes=notes)
            for task_id, notes in wanted.items()
        ]
        db.session.add(plan)
        changed = [name for name in TEXT_FIELDS if values[name] is not None] + (["tasks"] if wanted else [])
        db.session.flush()
        audit.record(
            SAVED,
            actor=actor,
            target=plan,
            client_id=client.id,
            fields=changed,
            version=plan.version,
            created=True,
        )
        return plan, changed

    if expected_version is None or expected_version != plan.version:
        raise StaleDataError(f"care plan {plan.id} is at version {plan.version}, not {expected_version}")
    current = {row.task_id: row for row in plan.tasks}
    changed = [name for name in TEXT_FIELDS if getattr(plan, name) != values[name]]
    tasks_changed = set(current) != set(wanted) or any(
        current[task_id].per_visit_notes != notes for task_id, notes in wanted.items()
    )
    if tasks_changed:
        changed.append("tasks")
    if not changed:
        return plan, []

    db.session.add(
        CarePlanVersion(
            agency_id=agency.id,
            care_plan_id=plan.id,
            version=plan.version,
            goals=plan.goals,
            frequency=plan.frequency,
            special_instructions=plan.special_instructions,
            tasks=_snapshot(plan),
            saved_at=plan.updated_at,
            saved_by_id=plan.updated_by_id,
        )
    )
    for name in TEXT_FIELDS:
        setattr(plan, name, values[name])
    if tasks_changed:
        kept = []
        for task_id, notes in wanted.items():
            row = current.get(task_id)
            if row is None:
                row = CarePlanTask(agency_id=agency.id, task_id=task_id)
            row.per_visit_notes = notes
            kept.append(row)
        plan.tasks = kept  # rows left out are deleted (delete-orphan)
    # Always a change to the row itself, so the version moves even when only tasks changed.
    plan.updated_by_id = actor.id
    plan.updated_at = now
    db.session.flush()
    audit.record(SAVED, actor=actor, target=plan, client_id=client.id, fields=changed, version=plan.version)
    return plan, changed


def history(plan: CarePlan, *, limit: int | None = None, offset: int = 0) -> list[CarePlanVersion]:
    """The plan's earlier versions, newest first, with who saved each: one statement."""
    query = (
        select(CarePlanVersion)
        .where(CarePlanVersion.agency_id == plan.agency_id, CarePlanVersion.care_plan_id == plan.id)
        .options(joinedload(CarePlanVersion.saved_by))
        .order_by(CarePlanVersion.version.desc(), CarePlanVersion.id.desc())
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))
