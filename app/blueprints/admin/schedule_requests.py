"""The office's schedule-request queue: `/admin/schedule-requests`, open requests first; staff mark
one handled or declined with a note the requester reads in the portal.

By-id lookups go through `get_scoped_or_404`, so another agency's request id answers 404.
"""

from flask import g, render_template, request, url_for
from flask_login import current_user

from app.auth.policies import AREA_SCHEDULE_REQUESTS
from app.blueprints.admin import area, bp
from app.blueprints.admin.forms import DecisionForm
from app.i18n import _
from app.models import ScheduleRequest
from app.models.statuses import RequestStatus
from app.services import schedule_requests as service
from app.web.htmx import done, is_partial_request, render_page
from app.web.tenancy import get_scoped_or_404


def _context(**extra) -> dict:
    return {
        "zone": g.agency.zone,
        "status_labels": service.STATUS_LABELS,
        **extra,
    }


@bp.route("/schedule-requests")
@area(AREA_SCHEDULE_REQUESTS)
def schedule_requests():
    rows = service.office_queue(g.agency)
    forms = {row.id: DecisionForm(formdata=None, staff_note=row.staff_note) for row in rows}
    return render_page(
        "admin/schedule_requests.html",
        **_context(requests=rows, forms=forms, open_count=sum(r.status == RequestStatus.OPEN for r in rows)),
    )


@bp.route("/schedule-requests/<int:request_id>", methods=["POST"])
@area(AREA_SCHEDULE_REQUESTS)
def decide_schedule_request(request_id):
    row = get_scoped_or_404(ScheduleRequest, request_id)
    form = DecisionForm()
    decision = request.form.get("decision")
    if form.validate_on_submit() and form.check_decision(decision):
        service.decide_request(row, current_user._get_current_object(), decision, form.staff_note.data)
        names = {"person": row.requested_by.display_name, "client": row.client.first_name}
        if decision == RequestStatus.HANDLED:
            message = _("Request from %(person)s for %(client)s marked handled.", **names)
        else:
            message = _("Request from %(person)s for %(client)s marked declined.", **names)
        return done(
            message,
            url_for("admin.schedule_requests"),
            fragment="admin/_schedule_request_row.html",
            **_context(r=row, form=form),
        )
    if is_partial_request():
        return render_template("admin/_schedule_request_row.html", **_context(r=row, form=form)), 422
    rows = service.office_queue(g.agency)
    forms = {r.id: DecisionForm(formdata=None, staff_note=r.staff_note) for r in rows}
    forms[row.id] = form
    return render_page(
        "admin/schedule_requests.html",
        status=422,
        **_context(requests=rows, forms=forms, open_count=sum(r.status == RequestStatus.OPEN for r in rows)),
    )
