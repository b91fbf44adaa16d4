"""Office: the agency's visits — the list filtered by days, client, caregiver, status and
"today without a caregiver", searched by client name and paged; a visit's page with its facts and
cancelling it with a reason."""

from datetime import date, timedelta

from flask import abort, g, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import contains_eager

from app.auth.policies import AREA_VISITS
from app.blueprints.admin import area, bp
from app.blueprints.admin.visit_forms import STATUSES, CancelVisitForm, VisitFilterForm, VisitForm
from app.extensions import db
from app.i18n import _
from app.models import Client, ClientCaregiver, Visit
from app.models.visit import VISIT_STATUS_LABELS
from app.services import caregivers as caregiver_service
from app.services import visits as service
from app.services.calendar import day_bounds
from app.services.schedule_requests import agency_zone
from app.web.conflicts import check_version
from app.web.htmx import done, render_form, render_page
from app.web.input_guard import parse_id
from app.web.tenancy import get_scoped_or_404

PER_PAGE = 50
MAX_DAYS = 366


def _today(zone) -> date:
    from datetime import datetime

    return datetime.now(zone).date()


@bp.route("/visits")
@area(AREA_VISITS)
def visits():
    """One statement for the page whatever the number of visits (window count, joined names)."""
    zone = agency_zone(g.agency)
    today = _today(zone)
    form = VisitFilterForm(request.args)
    valid = form.validate()
    unassigned = request.args.get("unassigned") == "1"
    start = (form.start.data if valid else None) or today
    end = (form.end.data if valid else None) or start + timedelta(days=6)
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
    rows = db.session.execute(
        select(Visit, func.count().over().label("total"))
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
    total = rows[0].total if rows else 0
    args = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "q": query or None,
        "status": status or None,
        "client": client_id or None,
        "caregiver": caregiver_id or None,
        "unassigned": "1" if unassigned else None,
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
        args=args,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        status_labels=VISIT_STATUS_LABELS,
    )


def _caregiver_choices(form, client_id=None, keep=None) -> None:
    """The agency's active caregivers, the client's preferred ones first (one query)."""
    preferred = set()
    if client_id:
        preferred = set(
            db.session.scalars(
                select(ClientCaregiver.caregiver_id).where(
                    ClientCaregiver.agency_id == g.agency.id,
                    ClientCaregiver.client_id == client_id,
                    ClientCaregiver.is_preferred.is_(True),
                )
            )
        )
    people = caregiver_service.choices(g.agency)
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
    zone = agency_zone(g.agency)
    form = VisitForm()
    clients = db.session.scalars(
        select(Client)
        .where(Client.agency_id == g.agency.id, Client.is_active.is_(True))
        .order_by(Client.last_name, Client.first_name, Client.id)
    ).all()
    form.client_id.choices = [(str(c.id), f"{c.last_name}, {c.first_name}") for c in clients]
    if request.method == "GET" and request.args.get("client"):
        form.client_id.data = request.args.get("client")
    client = None
    if form.client_id.data:
        client_id = parse_id(form.client_id.data)
        client = next((c for c in clients if c.id == client_id), None)
    _caregiver_choices(form, client.id if client else None)
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
            )
            db.session.commit()
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
    )
    _caregiver_choices(form, visit.client_id, keep=visit.caregiver)
    return form


def _visit_page(visit, cancel_form=None, error=None, status=200, form=None):
    zone = agency_zone(g.agency)
    return render_page(
        "admin/visit.html",
        status=status,
        visit=visit,
        form=form or _edit_form(visit, zone),
        zone=agency_zone(g.agency),
        cancel_form=cancel_form or CancelVisitForm(formdata=None, version=visit.version),
        error=error,
        status_labels=VISIT_STATUS_LABELS,
    )


@bp.route("/visits/<int:visit_id>", methods=["GET", "POST"])
@area(AREA_VISITS)
def visit(visit_id):
    visit = get_scoped_or_404(Visit, visit_id)
    if request.method == "GET":
        return _visit_page(visit)
    form = VisitForm()
    _caregiver_choices(form, visit.client_id, keep=visit.caregiver)
    if not form.validate_on_submit():
        return _visit_page(visit, form=form, status=422)
    check_version(visit, form.version.data)
    times = _times(form, agency_zone(g.agency))
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
        )
    except service.VisitRefused as refused:
        return _visit_page(visit, form=form, error=str(refused), status=422)
    db.session.commit()
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
    db.session.commit()
    return done(_("Visit cancelled."), url_for("admin.visit", visit_id=visit.id))
