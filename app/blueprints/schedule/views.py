"""My Schedule: the calendar (month, week, day), its print view and PDF, and caregiver photos.

All three renderings of the calendar read the same query string
(`view=month|week|day&date=YYYY-MM-DD&client=ID|all`) through `_calendar_context`, so the page,
the printout and the PDF always show the same visits. Client ids come from the access policy;
the blueprint's before_request has already refused users whose schedule is switched off.
"""

from datetime import datetime

from flask import abort, g, make_response, request, url_for
from flask_login import current_user

from app.auth.policies import SCHEDULE, SCHEDULE_REQUESTS
from app.blueprints.schedule import bp
from app.blueprints.schedule import services as cal
from app.models import Caregiver
from app.services import calendar as visits_calendar
from app.services import record_views
from app.services.pdf import render_pdf
from app.web import downloads
from app.web.formatting import viewer_zone, weekday_names, when
from app.web.htmx import is_partial_request, render_page
from app.web.portal import selected_client
from app.web.tenancy import get_scoped_or_404
from app.web.zones import zone_label


def _calendar_context() -> dict:
    """Parse the query string, ask the policy which clients, and load the period's visits."""
    view = cal.parse_view(request.args.get("view"))
    zone = viewer_zone()
    today = datetime.now(zone).date()
    anchor = cal.parse_date(request.args.get("date"), today)
    client = selected_client(SCHEDULE, allow_all=True)  # 404 for a client out of reach
    clients = g.access.clients(SCHEDULE)
    client_ids = [client.id] if client else g.access.client_ids(SCHEDULE)
    client_param = client.id if client else "all"
    period = visits_calendar.Period.of(view, anchor)

    def here(endpoint: str = "schedule.calendar", *, view: str = view, day=None) -> str:
        """This calendar's URL with the view or the date changed (client kept)."""
        return url_for(endpoint, view=view, date=(day or anchor).isoformat(), client=client_param)

    return {
        "view": view,
        "views": cal.VIEWS,
        "weekday_names": weekday_names(),
        "today": today,
        "period": period,
        "schedule": visits_calendar.build_schedule(client_ids, period, zone),
        "client": client,
        "clients": clients,
        "clients_by_id": {c.id: c for c in clients},
        "client_param": client_param,
        "show_client": client is None and len(clients) > 1,
        "here": here,
        "request_url": _request_url(client),
        "zone_name": zone_label(zone.key),
        # The same sentence names the zone ("Times in Eastern time. Printed …").
        "printed_at": when(datetime.now(zone), "date_time", zone, zoned=False),
    }


def _request_url(client) -> str | None:
    """Where "Make schedule request" leads, when this user may send schedule requests."""
    if client is None:
        return url_for("schedule.new_request") if g.access.any_allows(SCHEDULE_REQUESTS) else None
    if g.access.allows(client.id, SCHEDULE_REQUESTS):
        return url_for("schedule.new_request", client=client.id)
    return None


def _record_notes_shown(context: dict, how: str) -> None:
    """The caregivers' notes and refusal reasons are part of the client's record: one "viewed"
    event per client whose notes this answer shows (written with the request's commit)."""
    visits = (visit for day in context["schedule"].days for visit in day.visits)
    record_views.record_visit_notes(
        current_user._get_current_object(), visits, g.access.shows_visit_notes, how=how
    )


@bp.errorhandler(cal.BadCalendarQuery)
@bp.errorhandler(cal.TooManyForPdf)
def _calendar_error(error):
    """Say exactly what was wrong with the query, not just "could not be understood"."""
    return render_page(
        "errors/page.html",
        fragment="errors/_error.html",
        status=error.code,
        code=error.code,
        message=error.description,
    )


@bp.route("/schedule")
def calendar():
    context = _calendar_context()
    _record_notes_shown(context, record_views.PAGE)
    return render_page(
        "schedule/calendar.html",
        fragment="schedule/_calendar.html",
        partial=is_partial_request(),
        **context,
    )


@bp.route("/schedule/print")
def print_view():
    """The calendar as a plain document for the browser's Print command: no script at all."""
    context = _calendar_context()
    _record_notes_shown(context, record_views.PRINT)
    return render_page("schedule/print.html", **context)


@bp.route("/schedule.pdf")
def pdf():
    context = _calendar_context()
    if context["schedule"].count > cal.MAX_PDF_VISITS:
        raise cal.TooManyForPdf(context["schedule"].count)
    data = render_pdf("schedule/pdf.html", **context)
    _record_notes_shown(context, record_views.PDF)
    response = make_response(data)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'inline; filename="schedule-{context["period"].start.isoformat()}.pdf"'
    )
    return response


@bp.route("/schedule/caregivers/<int:caregiver_id>/photo")
def caregiver_photo(caregiver_id: int):
    """A caregiver's photo, only for someone whose client that caregiver visits."""
    if not visits_calendar.caregiver_reaches(caregiver_id, g.access.client_ids(SCHEDULE)):
        abort(404)
    return downloads.caregiver_photo(get_scoped_or_404(Caregiver, caregiver_id))
