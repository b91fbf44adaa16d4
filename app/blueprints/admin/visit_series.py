"""Office: weekly visit patterns — set one up (its visits are generated ahead), see it with its
upcoming visits, change it and all its future visits, end it from a day."""

from flask import g, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.auth.policies import AREA_VISITS
from app.blueprints.admin import area, bp
from app.blueprints.admin.series_forms import WEEKDAY_LABELS, EndSeriesForm, SeriesForm
from app.extensions import db
from app.i18n import _
from app.models import Task, Visit, VisitSeries
from app.models.base import utcnow
from app.models.visit import VISIT_STATUS_LABELS
from app.services import caregivers as caregiver_service
from app.services import clients as client_service
from app.services import visit_series as service
from app.web.conflicts import check_version
from app.web.htmx import done, render_form, render_page
from app.web.input_guard import parse_id
from app.web.tenancy import get_scoped_or_404

UPCOMING = 60


def _choices(form, keep_caregiver=None, keep_tasks=()):
    people = caregiver_service.choices(g.agency)
    if keep_caregiver is not None and keep_caregiver.id not in {c.id for c in people}:
        people = [keep_caregiver, *people]
    form.caregiver_id.choices = [("", _("No caregiver yet"))] + [(str(c.id), c.display_name) for c in people]
    tasks = db.session.scalars(
        select(Task)
        .where(Task.agency_id == g.agency.id, Task.is_active.is_(True))
        .order_by(Task.name, Task.id)
    ).all()
    tasks = [*[t for t in keep_tasks if t not in tasks], *tasks]
    form.tasks.choices = [(str(t.id), t.name) for t in tasks]


def _chosen(form):
    """The form's caregiver id (None for none) and task ids, or False with a message beside the field."""
    caregiver_id = None
    value = form.caregiver_id.data or ""
    if value:
        caregiver_id = parse_id(value)
        if not caregiver_id or value not in {v for v, _label in form.caregiver_id.choices}:
            form.caregiver_id.errors = [_("Choose one of the agency's caregivers.")]
            return False
    known = {v for v, _label in form.tasks.choices}
    if not set(form.tasks.data or ()) <= known:
        form.tasks.errors = [_("Choose among the agency's tasks.")]
        return False
    return caregiver_id, [int(v) for v in form.tasks.data or ()]


def _skipped_message(outcome):
    if not outcome.skipped:
        return None
    days = ", ".join(d.isoformat() for d in outcome.skipped)
    return _("No visit on %(days)s: the clocks skip that time on that day.", days=days)


@bp.route("/visits/series/new", methods=["GET", "POST"])
@area(AREA_VISITS)
def new_series():
    form = SeriesForm()
    clients = client_service.active_clients(g.agency)
    form.client_id.choices = [(str(c.id), f"{c.last_name}, {c.first_name}") for c in clients]
    if request.method == "GET" and request.args.get("client"):
        form.client_id.data = request.args.get("client")
    _choices(form)
    if form.validate_on_submit():
        client_id = parse_id(form.client_id.data or "")
        client = next((c for c in clients if c.id == client_id), None)
        if client is None:
            form.client_id.errors = [_("Choose one of the agency's clients.")]
        minutes = form.duration()
        chosen = _chosen(form)
        if client is not None and minutes and chosen is not False:
            try:
                series, outcome = service.create_series(
                    g.agency,
                    current_user._get_current_object(),
                    client,
                    weekdays=[int(d) for d in form.weekdays.data],
                    start_time=form.start_time.data,
                    minutes=minutes,
                    first_day=form.first_day.data,
                    last_day=form.last_day.data,
                    caregiver_id=chosen[0],
                    task_ids=chosen[1],
                    today=g.agency.today(),
                )
            except service.SeriesRefused as refused:
                form.last_day.errors = [str(refused)]
            else:
                db.session.commit()
                message = _("Weekly pattern set up. Visits added: %(count)s.", count=outcome.created)
                skipped = _skipped_message(outcome)
                return done(
                    f"{message} {skipped}" if skipped else message,
                    url_for("admin.series", series_id=series.id),
                    category="warning" if skipped else "success",
                )
    return render_form("admin/series_new.html", form=form)


def _edit_form(series):
    form = SeriesForm(
        formdata=None,
        version=series.version,
        caregiver_id=str(series.caregiver_id or ""),
        weekdays=[str(d) for d in service.weekday_list(series.weekdays)],
        start_time=service.start_of(series),
        minutes=series.minutes,
        first_day=series.first_day,
        last_day=series.last_day,
        tasks=[str(t.id) for t in series.tasks],
    )
    _choices(form, keep_caregiver=series.caregiver, keep_tasks=series.tasks)
    return form


def _load(series_id):
    return get_scoped_or_404(
        VisitSeries,
        series_id,
        options=(
            selectinload(VisitSeries.client),
            selectinload(VisitSeries.caregiver),
            selectinload(VisitSeries.tasks),
        ),
    )


def _series_page(series, form=None, end_form=None, status=200, error=None):
    zone = g.agency.zone
    upcoming = db.session.scalars(
        select(Visit)
        .where(Visit.series_id == series.id, Visit.agency_id == g.agency.id, Visit.starts_at >= utcnow())
        .options(selectinload(Visit.caregiver))
        .order_by(Visit.starts_at, Visit.id)
        .limit(UPCOMING)
    ).all()
    labels = dict(WEEKDAY_LABELS)
    return render_page(
        "admin/series.html",
        status=status,
        series=series,
        weekday_names=[labels[str(d)] for d in service.weekday_list(series.weekdays)],
        upcoming=upcoming,
        form=form or _edit_form(series),
        end_form=end_form or EndSeriesForm(formdata=None, version=series.version),
        zone=zone,
        error=error,
        status_labels=VISIT_STATUS_LABELS,
        limit=UPCOMING,
    )


@bp.route("/visits/series/<int:series_id>", methods=["GET", "POST"])
@area(AREA_VISITS)
def series(series_id):
    series = _load(series_id)
    if request.method == "GET":
        return _series_page(series)
    form = SeriesForm()
    _choices(form, keep_caregiver=series.caregiver, keep_tasks=series.tasks)
    form.first_day.data = series.first_day  # fixed once set up
    form.first_day.raw_data = [series.first_day.isoformat()]
    if not form.validate_on_submit():
        return _series_page(series, form=form, status=422)
    check_version(series, form.version.data)
    minutes = form.duration()
    chosen = _chosen(form)
    if not minutes or chosen is False:
        return _series_page(series, form=form, status=422)
    try:
        changed, outcome = service.change_future(
            g.agency,
            current_user._get_current_object(),
            series,
            weekdays=[int(d) for d in form.weekdays.data],
            start_time=form.start_time.data,
            minutes=minutes,
            last_day=form.last_day.data,
            caregiver_id=chosen[0],
            task_ids=chosen[1],
            today=g.agency.today(),
        )
    except service.SeriesRefused as refused:
        form.last_day.errors = [str(refused)]
        return _series_page(series, form=form, status=422)
    db.session.commit()
    if not changed:
        return done(_("Nothing changed."), url_for("admin.series", series_id=series.id))
    message = _(
        "Pattern saved. Visits changed: %(moved)s, added: %(created)s, cancelled: %(cancelled)s.",
        moved=outcome.moved,
        created=outcome.created,
        cancelled=outcome.cancelled,
    )
    skipped = _skipped_message(outcome)
    return done(
        f"{message} {skipped}" if skipped else message,
        url_for("admin.series", series_id=series.id),
        category="warning" if skipped else "success",
    )


@bp.route("/visits/series/<int:series_id>/end", methods=["POST"])
@area(AREA_VISITS)
def end_series(series_id):
    series = _load(series_id)
    form = EndSeriesForm()
    if not form.validate_on_submit():
        return _series_page(series, end_form=form, status=422)
    check_version(series, form.version.data, reload_to=url_for("admin.series", series_id=series.id))
    try:
        outcome = service.end_series(
            g.agency, current_user._get_current_object(), series, form.from_day.data, form.reason.data
        )
    except service.SeriesRefused as refused:
        form.reason.errors = [str(refused)]
        return _series_page(series, end_form=form, status=422)
    db.session.commit()
    return done(
        _("The pattern ends. Visits cancelled: %(count)s.", count=outcome.cancelled),
        url_for("admin.series", series_id=series.id),
    )
