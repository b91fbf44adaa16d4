"""CSV import of clients, caregivers and visits from the agency's other software.

Each row names its record by `external_id` (the id in the other software), so a nightly
re-import updates the rows it already made instead of adding them again, and a re-import of an
unchanged file writes nothing and audits nothing. The import is all-or-nothing: `import_rows`
refuses the whole file while any row has an error, so the office never has half a file in.

`preview` (the dry run) reads the file and the database and writes nothing; it says what an
import would do ("create N, update M, unchanged K") and lists the row errors. Row numbers are the
spreadsheet's: the header is row 1, the first record row 2. Both cost a handful of statements
whatever the size: external ids are looked up in batches.

Files: UTF-8 with or without a byte-order mark, comma-separated as Excel writes them, at most
MAX_BYTES and MAX_ROWS rows. Header names are matched without regard to case or surrounding
spaces; COLUMNS lists the required and optional ones of each kind (an unknown column is an error,
so a misspelt "frist_name" is not silently dropped). Times are the agency's local times
(Agency.time_zone), stored in UTC; an end before the start is the next morning (a night shift).
A cell that begins with a single quote followed by = + - @, a tab or a carriage return loses that
quote: it is the mark our export puts before a would-be formula.

Like every service this flushes and never commits, and never reads the request.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.i18n import _
from app.models import Caregiver, Client, Task, Visit, VisitTask
from app.models.statuses import TaskStatus, VisitStatus
from app.services import audit, caregivers, clients, visits
from app.services.invoices import FIRST_DAY, LAST_DAY  # the days a person may mean

KINDS = ("clients", "caregivers", "visits")
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
BATCH = MAX_ROWS  # one IN (...) per lookup: within SQLite's 32,766 and PostgreSQL's 65,535 parameters
TASK_SEPARATOR = ";"

# kind → (required columns, optional columns), in the order an export writes them.
COLUMNS = {
    "clients": (("external_id", "first_name", "last_name"), ("email", "phone", "address")),
    "caregivers": (("external_id", "first_name", "last_name"), ("email", "phone", "bio", "languages")),
    "visits": (
        ("external_id", "client_external_id", "date", "start", "end"),
        ("caregiver_external_id", "status", "tasks"),
    ),
}
# Longest value of each column (the model's column sizes).
LIMITS = {
    "external_id": 64,
    "client_external_id": 64,
    "caregiver_external_id": 64,
    "first_name": 100,
    "last_name": 100,
    "email": 254,
    "phone": 40,
    "address": 500,
    "bio": 1000,
    "languages": 200,
    "date": 10,
    "start": 5,
    "end": 5,
    "status": 20,
    "tasks": 2000,
}
MULTI_LINE = frozenset({"address", "bio"})
EXTERNAL_ID = re.compile(r"[A-Za-z0-9._:/-]+", re.ASCII)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})", re.ASCII)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
FORMULA_MARKS = ("=", "+", "-", "@", "\t", "\r")
STATUSES = tuple(str(s) for s in VisitStatus)


def columns(kind: str) -> list[str]:
    required, optional = COLUMNS[kind]
    return [*required, *optional]


@dataclass(frozen=True)
class RowError:
    row_number: int  # the spreadsheet's row: 1 is the header; 0 the file as a whole
    column: str | None
    message: str


@dataclass
class Outcome:
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    imported: bool = False

    @property
    def error_rows(self) -> int:
        return len({e.row_number for e in self.errors})


@dataclass
class _Change:
    row_number: int
    values: dict
    existing: object = None  # the row to update; None: create
    changed: bool = True


# --- reading the file ----------------------------------------------------------------------------


def _read(data: bytes, kind: str, errors: list[RowError]) -> tuple[set[str], list[tuple[int, dict]]]:
    """(the header's columns, [(row number, {column: text})]); problems go to `errors`."""
    if len(data) > MAX_BYTES:
        errors.append(
            RowError(0, None, _("The file is larger than %(num)d MB.", num=MAX_BYTES // (1024 * 1024)))
        )
        return set(), []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        line = data[: problem.start].count(b"\n") + 1
        errors.append(
            RowError(
                line,
                None,
                _("This is not UTF-8 text. Save the file as “CSV UTF-8” in your spreadsheet and try again."),
            )
        )
        return set(), []
    if "\x00" in text:
        errors.append(RowError(0, None, _("This is not a CSV file.")))
        return set(), []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, dict]] = []
    header: list[str] | None = None
    try:
        for number, cells in enumerate(reader, start=1):
            if header is None:
                header = [cell.strip().lower() for cell in cells]
                if not _check_header(header, kind, errors):
                    return set(header), []
                continue
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            if len(rows) >= MAX_ROWS:
                errors.append(
                    RowError(number, None, _("A file may hold at most %(num)d rows.", num=MAX_ROWS))
                )
                return set(header), []
            if len(cells) > len(header):
                errors.append(
                    RowError(number, None, _("This row has more cells than the header has columns."))
                )
                continue
            cells = cells + [""] * (len(header) - len(cells))
            rows.append((number, dict(zip(header, cells, strict=True))))
    except csv.Error:
        errors.append(
            RowError(reader.line_num, None, _("The file cannot be read as CSV here (a stray quote?)."))
        )
        return set(header or ()), []
    if header is None:
        errors.append(RowError(0, None, _("The file is empty.")))
        return set(), []
    return set(header), rows


def _check_header(header: list[str], kind: str, errors: list[RowError]) -> bool:
    required, optional = COLUMNS[kind]
    known = set(required) | set(optional)
    ok = True
    for name in header:
        if name and name not in known:
            errors.append(
                RowError(
                    1, name, _("Unknown column. The columns are: %(names)s.", names=", ".join(columns(kind)))
                )
            )
            ok = False
    for name in required:
        if name not in header:
            errors.append(RowError(1, name, _("This column is missing.")))
            ok = False
    for name in {n for n in header if header.count(n) > 1}:
        errors.append(RowError(1, name, _("This column appears twice.")))
        ok = False
    return ok


def _cells(number: int, raw: dict, errors: list[RowError]) -> dict | None:
    """The row's cells stripped, checked for length and stray control characters."""
    out = {}
    ok = True
    for name, value in raw.items():
        if not name:
            continue
        if value[:1] == "'" and value[1:2] in FORMULA_MARKS:
            value = value[1:]  # the quote our export puts before a would-be formula
        value = value.strip()
        if CONTROL.search(value) or (name not in MULTI_LINE and any(c in value for c in "\r\n\t")):
            errors.append(RowError(number, name, _("Keep this on one line, without control characters.")))
            ok = False
        elif len(value) > LIMITS[name]:
            errors.append(RowError(number, name, _("Keep this to %(max)d characters.", max=LIMITS[name])))
            ok = False
        out[name] = value
    return out if ok else None


def _external_id(number: int, cells: dict, name: str, errors: list[RowError], required=True) -> str | None:
    value = cells.get(name, "")
    if not value:
        if required:
            errors.append(RowError(number, name, _("Give the id this row has in the other software.")))
        return None
    if not EXTERNAL_ID.fullmatch(value):
        errors.append(
            RowError(number, name, _("Use letters, digits and . _ : / - only, as in the other software."))
        )
        return None
    return value


def _duplicates(number: int, key: str | None, seen: dict, errors: list[RowError]) -> bool:
    if key is None:
        return False
    if key in seen:
        errors.append(RowError(number, "external_id", _("This id is also on row %(row)d.", row=seen[key])))
        return True
    seen[key] = number
    return False


def _batched(model, agency, ids, options=()) -> dict:
    """The agency's rows of `model` with these external ids, by external id (one statement per BATCH,
    and one more per relationship `options` loads)."""
    ids = sorted(set(ids))
    found = {}
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        rows = db.session.scalars(
            select(model).where(model.agency_id == agency.id, model.external_id.in_(chunk)).options(*options)
        )
        found.update({row.external_id: row for row in rows})
    return found


# --- people: clients and caregivers ------------------------------------------------------------------


def _plan_people(agency, kind, header, rows, errors) -> list[_Change]:
    model = Client if kind == "clients" else Caregiver
    required, optional = COLUMNS[kind]
    settable = [name for name in (*required, *optional) if name in header]
    checked = []
    seen: dict = {}
    for number, raw in rows:
        cells = _cells(number, raw, errors)
        if cells is None:
            continue
        key = _external_id(number, cells, "external_id", errors)
        ok = key is not None and not _duplicates(number, key, seen, errors)
        for name, message in (
            ("first_name", _("Enter the first name.")),
            ("last_name", _("Enter the last name.")),
        ):
            if not cells.get(name):
                errors.append(RowError(number, name, message))
                ok = False
        if cells.get("email") and not EMAIL.fullmatch(cells["email"]):
            errors.append(RowError(number, "email", _("Enter an e-mail address like name@example.com.")))
            ok = False
        if ok:
            checked.append((number, key, {name: cells.get(name) or None for name in settable}))
    existing = _batched(model, agency, [key for _n, key, _v in checked])
    plan = []
    for number, key, values in checked:
        row = existing.get(key)
        changed = row is None or any(getattr(row, name) != value for name, value in values.items())
        plan.append(_Change(number, values, row, changed))
    return plan


def _apply_people(agency, actor, kind, plan) -> None:
    for change in plan:
        if not change.changed:
            continue
        if kind == "clients":
            if change.existing is None:
                clients.create_client(agency, actor, **change.values)
            else:
                clients.update_client(agency, actor, change.existing, **change.values)
        elif change.existing is None:
            caregivers.create(agency, actor, **change.values)
        else:
            caregivers.update(agency, actor, change.existing, **change.values)


# --- visits ---------------------------------------------------------------------------------------------


def _clock(number, cells, name, errors) -> time | None:
    match = CLOCK.fullmatch(cells.get(name, ""))
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        return time(int(match[1]), int(match[2]))
    errors.append(
        RowError(number, name, _("Write the time as HH:MM on the 24-hour clock, e.g. 09:30 or 17:00."))
    )
    return None


def _day(number, cells, errors) -> date | None:
    text = cells.get("date", "")
    if DAY.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            day = None
        if day is not None and FIRST_DAY <= day <= LAST_DAY:
            return day
    errors.append(RowError(number, "date", _("Write a real date as YYYY-MM-DD, e.g. 2026-03-14.")))
    return None


def _plan_visits(agency, header, rows, errors) -> list[_Change]:
    zone = agency.zone
    tasks_by_name = {}
    for task in db.session.scalars(
        select(Task).where(Task.agency_id == agency.id, Task.is_active.is_(True)).order_by(Task.id)
    ):
        tasks_by_name.setdefault(task.name.strip().casefold(), task.id)
    checked = []
    seen: dict = {}
    for number, raw in rows:
        cells = _cells(number, raw, errors)
        if cells is None:
            continue
        before = len(errors)
        key = _external_id(number, cells, "external_id", errors)
        if key is not None:
            _duplicates(number, key, seen, errors)
        client_key = _external_id(number, cells, "client_external_id", errors)
        caregiver_key = _external_id(number, cells, "caregiver_external_id", errors, required=False)
        day = _day(number, cells, errors)
        start = _clock(number, cells, "start", errors)
        end = _clock(number, cells, "end", errors)
        values = {}
        if day and start and end:
            starts_at = visits.local_moment(zone, day, start)
            ends_day = day + timedelta(days=1) if end < start else day
            ends_at = visits.local_moment(zone, ends_day, end)
            if start == end:
                errors.append(RowError(number, "end", _("The visit must end after it starts.")))
            elif starts_at is None:
                errors.append(
                    RowError(number, "start", _("This time does not exist that day: the clocks go forward."))
                )
            elif ends_at is None:
                errors.append(
                    RowError(number, "end", _("This time does not exist that day: the clocks go forward."))
                )
            else:
                values.update(starts_at=starts_at, ends_at=ends_at)
        if "status" in header:
            status = cells.get("status", "").lower()
            if status and status not in STATUSES:
                errors.append(
                    RowError(number, "status", _("Use one of: %(names)s.", names=", ".join(STATUSES)))
                )
            elif status:
                values["status"] = status
        if "tasks" in header:
            task_ids = []
            for name in filter(None, (n.strip() for n in cells.get("tasks", "").split(TASK_SEPARATOR))):
                task_id = tasks_by_name.get(name.casefold())
                if task_id is None:
                    errors.append(RowError(number, "tasks", _("No task is called %(name)s.", name=name)))
                elif task_id not in task_ids:
                    task_ids.append(task_id)
            values["task_ids"] = task_ids
        if len(errors) == before:
            checked.append((number, key, client_key, caregiver_key, values))

    existing = _batched(Visit, agency, [row[1] for row in checked], options=(selectinload(Visit.caregiver),))
    clients_by_key = _batched(Client, agency, [row[2] for row in checked])
    caregivers_by_key = _batched(Caregiver, agency, [row[3] for row in checked if row[3]])
    current_tasks: dict[int, list] = {}
    ids = sorted(visit.id for visit in existing.values())
    if "tasks" in header:
        for start in range(0, len(ids), BATCH):
            for row in db.session.execute(
                select(VisitTask.visit_id, VisitTask.task_id, VisitTask.status, VisitTask.refusal_reason)
                .where(VisitTask.agency_id == agency.id, VisitTask.visit_id.in_(ids[start : start + BATCH]))
                .order_by(VisitTask.id)
            ):
                current_tasks.setdefault(row.visit_id, []).append(row)

    plan = []
    for number, key, client_key, caregiver_key, values in checked:
        client = clients_by_key.get(client_key)
        if client is None:
            errors.append(
                RowError(number, "client_external_id", _("No client has this id. Import the clients first."))
            )
            continue
        if caregiver_key and caregiver_key not in caregivers_by_key:
            errors.append(RowError(number, "caregiver_external_id", _("No caregiver has this id.")))
            continue
        visit = existing.get(key)
        if "caregiver_external_id" in header:
            if caregiver_key:
                values["caregiver_id"] = caregivers_by_key[caregiver_key].id
            elif visit is None or visit.caregiver is None or visit.caregiver.external_id is not None:
                values["caregiver_id"] = None
            # else: the visit's caregiver has no id the file could name (added in Porchlight), so an
            # empty cell says nothing about them: an export re-imported keeps them.
        values["client_id"] = client.id
        if visit is None:
            values["external_id"] = key
            plan.append(_Change(number, values))
            continue
        if visit.client_id != client.id:
            errors.append(
                RowError(
                    number,
                    "client_external_id",
                    _("A visit cannot move to another client; give it a new id."),
                )
            )
            continue
        wanted = {name: value for name, value in values.items() if name not in ("client_id", "task_ids")}
        differs = {name: value for name, value in wanted.items() if getattr(visit, name) != value}
        if "task_ids" in values:
            rows_now = current_tasks.get(visit.id, [])
            if sorted(r.task_id for r in rows_now) != sorted(values["task_ids"]):
                kept = {r.task_id: r for r in rows_now}
                differs["tasks"] = [
                    visits.TaskDone(t, kept[t].status, kept[t].refusal_reason)
                    if t in kept
                    else visits.TaskDone(t, TaskStatus.PLANNED)
                    for t in values["task_ids"]
                ]
        plan.append(_Change(number, differs, visit, bool(differs)))
    return plan


def _apply_visits(agency, actor, plan) -> None:
    for change in plan:
        if not change.changed:
            continue
        values = dict(change.values)
        if change.existing is not None:
            visits.update_visit(agency, actor, change.existing, **values)
            continue
        task_ids = values.pop("task_ids", [])
        visit = Visit(agency_id=agency.id, status=values.pop("status", VisitStatus.SCHEDULED), **values)
        visit.tasks = [VisitTask(agency_id=agency.id, task_id=task_id) for task_id in task_ids]
        db.session.add(visit)
        db.session.flush()
        audit.record("visit.created", actor=actor, target=visit, client_id=visit.client_id, source="import")


# --- the two entry points ------------------------------------------------------------------------------


def _plan(agency, kind: str, data: bytes) -> tuple[Outcome, list[_Change]]:
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}")
    outcome = Outcome(kind)
    header, rows = _read(data, kind, outcome.errors)
    plan = []
    if rows:
        if kind == "visits":
            plan = _plan_visits(agency, header, rows, outcome.errors)
        else:
            plan = _plan_people(agency, kind, header, rows, outcome.errors)
    elif not outcome.errors:
        outcome.errors.append(RowError(0, None, _("The file has a header but no rows.")))
    outcome.errors.sort(
        key=lambda e: (e.row_number, columns(kind).index(e.column) if e.column in columns(kind) else -1)
    )
    outcome.created = sum(1 for c in plan if c.existing is None)
    outcome.updated = sum(1 for c in plan if c.existing is not None and c.changed)
    outcome.unchanged = sum(1 for c in plan if not c.changed)
    return outcome, plan


def preview(agency, kind: str, data: bytes) -> Outcome:
    """The dry run: what an import of this file would do, and every row error. Writes nothing."""
    outcome, _plan_rows = _plan(agency, kind, data)
    return outcome


def import_rows(agency, actor, kind: str, data: bytes) -> Outcome:
    """Import the file, all or nothing: with any row error nothing is written (`imported` False).
    An unchanged file writes nothing and audits nothing; otherwise each created or updated row is
    audited by its own service, plus one "import.<kind>" event with the counts. When `imported` is
    False the caller rolls back (nothing should have been written, but an error answer is safe)."""
    outcome, plan = _plan(agency, kind, data)
    if outcome.errors:
        return outcome
    if outcome.created or outcome.updated:
        try:
            if kind == "visits":
                _apply_visits(agency, actor, plan)
            else:
                _apply_people(agency, actor, kind, plan)
        except visits.VisitRefused as refused:
            # Checked above, so not expected; the caller rolls back (an error answer does).
            outcome.errors.append(RowError(0, None, str(refused)))
            return outcome
        audit.record(
            f"import.{kind}",
            actor=actor,
            agency_id=agency.id,
            created=outcome.created,
            updated=outcome.updated,
            unchanged=outcome.unchanged,
        )
    outcome.imported = True
    return outcome
