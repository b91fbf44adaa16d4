"""Admin home: the office's overview of its agency."""

from flask import g
from sqlalchemy import func, select

from app.auth.policies import AREA_HOME
from app.blueprints.admin import area, bp
from app.extensions import db
from app.models import Client, ScheduleRequest, User
from app.models.statuses import RequestStatus, Role
from app.services import family_access, messages
from app.web.htmx import render_page


@bp.route("/")
@area(AREA_HOME)
def index():
    counts = {
        "clients": db.session.scalar(select(func.count(Client.id)).where(Client.agency_id == g.agency.id)),
        "portal_users": db.session.scalar(
            select(func.count(User.id)).where(User.agency_id == g.agency.id, User.role == Role.PORTAL)
        ),
        "open_requests": db.session.scalar(
            select(func.count(ScheduleRequest.id)).where(
                ScheduleRequest.agency_id == g.agency.id, ScheduleRequest.status == RequestStatus.OPEN
            )
        ),
        "waiting_messages": messages.office_waiting_count(g.agency),
        "waiting_invitations": family_access.waiting_count(g.agency),
    }
    return render_page("admin/index.html", counts=counts)
