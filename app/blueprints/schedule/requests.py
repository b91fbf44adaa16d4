"""Schedule requests from the portal: `/schedule/requests` (mine, with status) and
`/schedule/requests/new` (a dialog with htmx, a full page without JavaScript — one view).

The schedule blueprint's guard already requires the schedule section; `selected_client(
SCHEDULE_REQUESTS)` narrows to the clients this user may make requests for, so a link with
schedule requests switched off (or a payer, whose ceiling lacks it) gets 404.
"""

from urllib.parse import urlsplit

from flask import abort, g, request, url_for
from flask_login import current_user

from app.auth.policies import SCHEDULE_REQUESTS
from app.blueprints.schedule import bp
from app.blueprints.schedule.forms import ScheduleRequestForm
from app.i18n import _
from app.services import schedule_requests as service
from app.web.htmx import done, is_partial_request, render_page
from app.web.portal import selected_client
from app.web.zones import zone_label


def _list_context() -> dict:
    clients = g.access.clients(SCHEDULE_REQUESTS)
    if not clients:
        abort(404)
    return {
        "requests": service.requests_for_clients([c.id for c in clients]),
        "several_clients": len(clients) > 1,
        "zone": g.agency.zone,
        "status_labels": service.STATUS_LABELS,
    }


def _sent_from_request_list() -> bool:
    """Was the dialog opened on "My requests" (which has a list to refresh), not on the calendar?
    htmx names the page in HX-Current-URL; an out-of-band swap without its target is an error."""
    try:
        page = urlsplit(request.headers.get("HX-Current-URL", "")).path
    except ValueError:  # the header is the sender's to write: "http://[" does not parse
        return False
    return page == url_for("schedule.requests")


@bp.route("/schedule/requests", endpoint="requests")
def request_list():
    client = selected_client(SCHEDULE_REQUESTS)
    return render_page(
        "schedule/requests.html", fragment="schedule/_request_list.html", client=client, **_list_context()
    )


@bp.route("/schedule/requests/new", methods=["GET", "POST"])
def new_request():
    client = selected_client(SCHEDULE_REQUESTS)
    agency = g.agency
    form = ScheduleRequestForm(
        caregivers=service.offered_caregivers(client),
        tasks=service.active_tasks(agency),
        today=agency.today(),
        horizon_days=agency.schedule_request_horizon_days,
    )
    if form.validate_on_submit():
        service.create_request(
            agency,
            client,
            current_user._get_current_object(),
            day=form.date.data,
            start=form.start_time.data,
            end=form.end_time.data,
            care_needed=form.care_needed.data,
            caregiver=form.caregiver,
            task_ids=form.tasks.data or [],
            notes=form.notes.data,
        )
        message = _(
            "Your request for %(client)s was sent to the office. "
            "It is not a booked visit yet: the office will get back to you.",
            client=client.first_name,
        )
        oob = is_partial_request() and _sent_from_request_list()
        return done(
            message,
            url_for("schedule.requests", client=client.id),
            fragment="schedule/_request_sent.html",
            client=client,
            oob=oob,
            **(_list_context() if oob else {}),
        )
    posted = request.method == "POST"
    return render_page(
        "schedule/request_new.html",
        # A posted form swaps itself; a fresh one opens as a dialog.
        fragment="schedule/_request_form.html" if posted else "schedule/_request_dialog.html",
        status=422 if posted else 200,
        form=form,
        client=client,
        clients=g.access.clients(SCHEDULE_REQUESTS),
        zone_name=zone_label(agency.time_zone),
        in_dialog=is_partial_request(),
    )
