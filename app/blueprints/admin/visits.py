"""Office: the agency's visits — the list filtered by days, client, caregiver, status and
"today without a caregiver", searched by client name and paged; a visit's page with its facts,
changing it (times, caregiver, tasks, note), marking it completed as the caregiver reported it, and
cancelling it with a reason; a client's preferred caregivers. The request commits once."""

from datetime import timedelta

from flask import abort, g, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import contains_eager, joinedload

from app.auth.policies import AREA_VISITS
from app.blueprints.admin import area, bp
from app.blueprints.admin.visit_forms import (
    STATUSES,
    CancelVisitForm,
    CompleteVisitForm,
    PreferredCaregiversForm,
    VisitFilterForm,
    VisitForm,
)
from app.extensions import db
from app.i18n import _
from app.models import Client, ClientCaregiver, Visit
from app.models.statuses import TaskStatus
from app.models.visit import TASK_STATUS_LABELS, VISIT_STATUS_LABELS
from app.services import caregivers as caregiver_service
from app.services import clients as client_service
from app.services import office
from app.services import visits as service
from app.services.calendar import day_bounds
from app.services.record_views import record_visit_notes
from app.web.conflicts import check_version
from app.web.htmx import done, render_form, render_page
from app.web.input_guard import parse_id
from app.web.tenancy import get_scoped_or_404

PER_PAGE = 50
MAX_DAYS = 366


@bp.route("/visits")
@area(AREA_VISITS)
def visits():
    """One statement for the page whatever the number of visits (window count, joined names)."""
    zone = g.agency.zone
    today = g.agency.today()
    form = VisitFilterForm(request.args)
    valid = form.validate()
    unassigned = request.args.get("unassigned") == "1"
    unsigned = request.args.get("unsigned") == "1"
    default_start = office.unsigned_since(today) if unsigned else today
    start = (form.start.data if valid else None) or default_start
    end = (form.end.data if valid else None) or (today if unsigned else start + timedelta(days=6))
    if unassigned:
        start = end = today
    if end < start:
        end = start
    end = min(end, start + timedelta(days=MAX_DAYS))
    begins, ends = day_bounds(zone, start, end)
    query = (form.q.data or "").strip() if valid else ""
    status = form.status.data if form.status.data in STATUSES else ""
    client_id = parse_id(request.args.get("client", "")) if request.args.get("client") else None
    caregiver_id = parse_id(request.args.get("caregiver", "")) if request.args.get("caregiver") else None
    page = parse_id(request.args.get("page", "1")) or 1

    criteria = [Visit.agency_id == g.agency.id, Visit.starts_at >= begins, Visit.starts_at < ends]
    if unassigned:
        criteria.append(Visit.caregiver_id.is_(None))
    if unsigned:
        criteria.append(office.unsigned_criterion(g.agency))
    if status:
        criteria.append(Visit.status == status)
    if client_id:
        criteria.append(Visit.client_id == client_id)
    if caregiver_id:
        criteria.append(Visit.caregiver_id == caregiver_id)
    if query:
        like = f"%{query.lower()}%"
        criteria.append(
            or_(
                func.lower(Client.first_name + " " + Client.last_name).like(like),
                func.lower(Client.last_name).like(like),
            )
        )
    # The page walks the (agency, start) index and stops at its last row; the count stops at
    # COUNT_CAP ("1000+ visits"), so four months of a large agency cost what a week costs.
    rows = db.session.scalars(
        select(Visit)
        .join(Visit.client)
        .outerjoin(Visit.caregiver)
        .options(contains_eager(Visit.client), contains_eager(Visit.caregiver))
        .where(*criteria)
        .order_by(Visit.starts_at, Visit.id)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    if page > 1 and not rows:
        abort(404)
    counted = select(Visit.id).join(Visit.client).where(*criteria).limit(office.COUNT_CAP).subquery()
    total = db.session.scalar(select(func.count()).select_from(counted))
    args = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "q": query or None,
        "status": status or None,
        "client": client_id or None,
        "caregiver": caregiver_id or None,
        "unassigned": "1" if unassigned else None,
        "unsigned": "1" if unsigned else None,
    }
    return render_page(
        "admin/visits.html",
        fragment="admin/_visit_list.html",
        form=form,
        rows=rows,
        total=total,
        zone=zone,
        start=start,
        end=end,
        unassigned=unassigned,
        unsigned=unsigned,
        args=args,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        capped=total >= office.COUNT_CAP,
        status_labels=VISIT_STATUS_LABELS,
    )


def _caregiver_choices(form, client_id=None, keep=None) -> None:
    """The agency's active caregivers, the client's preferred ones first (one query)."""
    rows = caregiver_service.choices_for(g.agency, client_id or None)
    preferred = {caregiver.id for caregiver, is_preferred in rows if is_preferred}
    people = [caregiver for caregiver, _is_preferred in rows]
    if keep is not None and keep.id not in {c.id for c in people}:
        people = [keep, *people]
    people = sorted(people, key=lambda c: c.id not in preferred)
    form.caregiver_id.choices = [("", _("No caregiver yet"))] + [
        (str(c.id), c.display_name + (" ★" if c.id in preferred else "")) for c in people
    ]


def _times(form, zone):
    """The form's local day and times in UTC, or None with a message beside the field."""
    if form.day.data is None or form.start_time.data is None or form.end_time.data is None:
        return None
    starts = service.local_moment(zone, form.day.data, form.start_time.data)
    ends = service.local_moment(zone, form.day.data, form.end_time.data)
    if starts is None:
        form.start_time.errors = [_("The clocks skip this time on that day; choose another.")]
    if ends is None:
        form.end_time.errors = [_("The clocks skip this time on that day; choose another.")]
    if starts is None or ends is None:
        return None
    if ends <= starts:
        form.end_time.errors = [_("The visit must end after it starts.")]
        return None
    return starts, ends


def _chosen_caregiver(form):
    value = form.caregiver_id.data or ""
    if not value:
        return None
    chosen = parse_id(value)
    if not chosen or value not in {v for v, _label in form.caregiver_id.choices}:
        form.caregiver_id.errors = [_("Choose one of the agency's caregivers.")]
        return False
    return chosen


@bp.route("/visits/new", methods=["GET", "POST"])
@area(AREA_VISITS)
def new_visit():
    zone = g.agency.zone
    form = VisitForm()
    clients = client_service.active_clients(g.agency)
    form.client_id.choices = [(str(c.id), f"{c.last_name}, {c.first_name}") for c in clients]
    if request.method == "GET" and request.args.get("client"):
        form.client_id.data = request.args.get("client")
    client = None
    if form.client_id.data:
        client_id = parse_id(form.client_id.data)
        client = next((c for c in clients if c.id == client_id), None)
    _caregiver_choices(form, client.id if client else None)
    _task_choices(form)
    if form.validate_on_submit():
        if client is None:
            form.client_id.errors = [_("Choose one of the agency's clients.")]
        times = _times(form, zone)
        caregiver_id = _chosen_caregiver(form)
        if client is not None and times and caregiver_id is not False:
            visit = service.create_visit(
                g.agency,
                current_user._get_current_object(),
                client,
                starts_at=times[0],
                ends_at=times[1],
                caregiver_id=caregiver_id,
                caregiver_note=form.caregiver_note.data,
                task_ids=[int(value) for value in form.tasks.data or []],
            )
            return done(_("Visit added."), url_for("admin.visit", visit_id=visit.id))
    return render_form("admin/visit_new.html", form=form)


def _edit_form(visit, zone):
    local_start = visit.starts_at.astimezone(zone)
    form = VisitForm(
        formdata=None,
        version=visit.version,
        caregiver_id=str(visit.caregiver_id or ""),
        day=local_start.date(),
        start_time=local_start.time().replace(second=0, microsecond=0),
        end_time=visit.ends_at.astimezone(zone).time().replace(second=0, microsecond=0),
        caregiver_note=visit.caregiver_note,
        tasks=[str(row.task_id) for row in visit.tasks],
    )
    _caregiver_choices(form, visit.client_id, keep=visit.caregiver)
    _task_choices(form, keep=[row.task for row in visit.tasks])
    return form


def _task_choices(form, keep=()) -> None:
    """The agency's active tasks (and any the visit has that were retired since)."""
    tasks = {task.id: task for task in caregiver_service.task_choices(g.agency)}
    for task in keep:
        tasks.setdefault(task.id, task)
    form.tasks.choices = [(str(task.id), task.name) for task in sorted(tasks.values(), key=lambda t: t.name)]


def _complete_form(visit, zone, formdata=None):
    start = (visit.clock_in_at or visit.starts_at).astimezone(zone)
    end = (visit.clock_out_at or visit.ends_at).astimezone(zone)
    return CompleteVisitForm(
        formdata=formdata,
        version=visit.version,
        clock_in=start.time().replace(second=0, microsecond=0),
        clock_out=end.time().replace(second=0, microsecond=0),
        caregiver_note=visit.caregiver_note,
    )


def _visit_page(
    visit, cancel_form=None, error=None, status=200, form=None, complete_form=None, task_errors=None
):
    zone = g.agency.zone
    if form is not None and not form.tasks.choices:
        _task_choices(form, keep=[row.task for row in visit.tasks])
    outcomes = {row.task_id: (row.status, row.refusal_reason or "") for row in visit.tasks}
    if complete_form is not None and complete_form.is_submitted():
        outcomes = {
            tid: (request.form.get(f"task-{tid}", ""), request.form.get(f"reason-{tid}", ""))
            for tid in outcomes
        }
    return render_page(
        "admin/visit.html",
        status=status,
        visit=visit,
        form=form or _edit_form(visit, zone),
        zone=zone,
        cancel_form=cancel_form or CancelVisitForm(formdata=None, version=visit.version),
        complete_form=complete_form or _complete_form(visit, zone),
        outcomes=outcomes,
        task_errors=task_errors or {},
        task_labels=TASK_STATUS_LABELS,
        error=error,
        status_labels=VISIT_STATUS_LABELS,
    )


@bp.route("/visits/<int:visit_id>", methods=["GET", "POST"])
@area(AREA_VISITS)
def visit(visit_id):
    visit = get_scoped_or_404(
        Visit, visit_id, options=(joinedload(Visit.client), joinedload(Visit.caregiver))
    )
    if request.method == "GET":
        # The office reads the caregiver's note and refusal reasons here, as a family does.
        record_visit_notes(current_user._get_current_object(), [visit], lambda _client_id: True)
        return _visit_page(visit)
    form = VisitForm()
    _caregiver_choices(form, visit.client_id, keep=visit.caregiver)
    _task_choices(form, keep=[row.task for row in visit.tasks])
    if not form.validate_on_submit():
        return _visit_page(visit, form=form, status=422)
    check_version(visit, form.version.data)
    times = _times(form, g.agency.zone)
    caregiver_id = _chosen_caregiver(form)
    if not times or caregiver_id is False:
        return _visit_page(visit, form=form, status=422)
    try:
        changed = service.update_visit(
            g.agency,
            current_user._get_current_object(),
            visit,
            starts_at=times[0],
            ends_at=times[1],
            caregiver_id=caregiver_id,
            caregiver_note=(form.caregiver_note.data or "").strip() or None,
            tasks=_kept_outcomes(visit, form.tasks.data or []),
        )
    except service.VisitRefused as refused:
        return _visit_page(visit, form=form, error=str(refused), status=422)
    message = _("Visit saved.") if changed else _("Nothing changed.")
    return done(message, url_for("admin.visit", visit_id=visit.id))


@bp.route("/visits/<int:visit_id>/cancel", methods=["POST"])
@area(AREA_VISITS)
def cancel_visit(visit_id):
    visit = get_scoped_or_404(Visit, visit_id)
    form = CancelVisitForm()
    if not form.validate_on_submit():
        return _visit_page(visit, cancel_form=form, status=422)
    check_version(visit, form.version.data, reload_to=url_for("admin.visit", visit_id=visit.id))
    try:
        service.cancel_visit(g.agency, current_user._get_current_object(), visit, form.reason.data)
    except service.VisitRefused as refused:
        return _visit_page(visit, cancel_form=form, error=str(refused), status=422)
    return done(_("Visit cancelled."), url_for("admin.visit", visit_id=visit.id))


def _kept_outcomes(visit, chosen) -> list:
    """The chosen tasks; one the visit had keeps its outcome, a new one is planned."""
    by_task = {row.task_id: row for row in visit.tasks}
    wanted = []
    for value in chosen:
        task_id = int(value)
        row = by_task.get(task_id)
        wanted.append(
            service.TaskDone(task_id, row.status, row.refusal_reason)
            if row
            else service.TaskDone(task_id, TaskStatus.PLANNED)
        )
    return wanted


def _clock_times(form, visit, zone):
    """The clock times on the visit's local day (a clock-out before the clock-in: the next day)."""
    day = visit.starts_at.astimezone(zone).date()
    clock_in = service.local_moment(zone, day, form.clock_in.data)
    out_day = day + timedelta(days=1) if form.clock_out.data <= form.clock_in.data else day
    clock_out = service.local_moment(zone, out_day, form.clock_out.data)
    if clock_in is None:
        form.clock_in.errors = [_("The clocks skip this time on that day; choose another.")]
    if clock_out is None:
        form.clock_out.errors = [_("The clocks skip this time on that day; choose another.")]
    return (clock_in, clock_out) if clock_in and clock_out else None


def _task_outcomes(visit) -> tuple[list, dict]:
    """Each of the visit's tasks as reported in the form, and the errors beside them."""
    outcomes, errors = [], {}
    for row in visit.tasks:
        status = request.form.get(f"task-{row.task_id}", "")
        reason = (request.form.get(f"reason-{row.task_id}") or "").strip()
        if status not in (TaskStatus.DONE, TaskStatus.REFUSED, TaskStatus.PLANNED):
            errors[row.task_id] = _("Say whether this task was done or refused.")
        elif status == TaskStatus.REFUSED and not reason:
            errors[row.task_id] = _("Say why the task was refused.")
        elif len(reason) > 500:
            errors[row.task_id] = _("Keep the reason under 500 characters.")
        outcomes.append(
            service.TaskDone(row.task_id, status, reason if status == TaskStatus.REFUSED else None)
        )
    return outcomes, errors


@bp.route("/visits/<int:visit_id>/complete", methods=["POST"])
@area(AREA_VISITS)
def complete_visit(visit_id):
    visit = get_scoped_or_404(Visit, visit_id)
    zone = g.agency.zone
    form = _complete_form(visit, zone, formdata=request.form)
    valid = form.validate_on_submit()
    outcomes, task_errors = _task_outcomes(visit)
    times = _clock_times(form, visit, zone) if valid else None
    if not valid or times is None or task_errors:
        return _visit_page(visit, complete_form=form, task_errors=task_errors, status=422)
    check_version(visit, form.version.data, reload_to=url_for("admin.visit", visit_id=visit.id))
    try:
        service.complete_visit(
            g.agency,
            current_user._get_current_object(),
            visit,
            clock_in_at=times[0],
            clock_out_at=times[1],
            tasks=outcomes,
            caregiver_note=form.caregiver_note.data,
        )
    except service.VisitRefused as refused:
        return _visit_page(visit, complete_form=form, error=str(refused), status=422)
    return done(_("Visit marked completed."), url_for("admin.visit", visit_id=visit.id))


@bp.route("/visits/preferred/<int:client_id>", methods=["GET", "POST"])
@area(AREA_VISITS)
def preferred_caregivers(client_id):
    """The caregivers the agency prefers for a client: offered first for visits and requests."""
    client = get_scoped_or_404(Client, client_id)
    people = caregiver_service.choices(g.agency)
    chosen = {
        str(cid)
        for cid in db.session.scalars(
            select(ClientCaregiver.caregiver_id).where(
                ClientCaregiver.agency_id == g.agency.id,
                ClientCaregiver.client_id == client.id,
                ClientCaregiver.is_preferred.is_(True),
            )
        )
    }
    form = PreferredCaregiversForm(data={"caregivers": sorted(chosen)})
    form.caregivers.choices = [(str(c.id), c.display_name) for c in people]
    if request.method == "POST":
        form = PreferredCaregiversForm()
        form.caregivers.choices = [(str(c.id), c.display_name) for c in people]
        if form.validate_on_submit():
            changed = caregiver_service.set_preferred(
                g.agency,
                current_user._get_current_object(),
                client,
                [int(value) for value in form.caregivers.data or []],
            )
            return done(
                _("Preferred caregivers saved.") if changed else _("Nothing changed."),
                url_for("admin.preferred_caregivers", client_id=client.id),
            )
        return render_form("admin/preferred_caregivers.html", form=form, client=client)
    return render_page("admin/preferred_caregivers.html", form=form, client=client)
