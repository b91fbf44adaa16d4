"""The care / service plan: `/care-plan` and its print view `/care-plan/print`.

Only the client, a legal representative the agency ticked, and staff (in the office's own pages)
see a plan: the blueprint's guard refuses anyone whose links open no care plan, and
`selected_client(CARE_PLAN)` refuses a client whose plan this user may not see — both 404. Every
showing of a plan, on screen or for printing, is one "viewed" event in the client's record log.
"""

from datetime import datetime

from flask import g
from flask_login import current_user

from app.auth.policies import CARE_PLAN
from app.blueprints.careplan import bp
from app.services import care_plans, record_views
from app.web.formatting import viewer_zone, when
from app.web.htmx import render_page
from app.web.portal import selected_client


def _context(how: str) -> dict:
    client = selected_client(CARE_PLAN)  # 404 for a client out of reach
    plan = care_plans.plan_of(client)
    if plan is not None:
        record_views.record_view(
            record_views.CARE_PLAN, current_user._get_current_object(), client.id, plan, how=how
        )
    return {
        "client": client,
        "clients": g.access.clients(CARE_PLAN),
        "link": g.access.link(client.id),
        "plan": plan,
        "tasks": care_plans.plan_tasks(plan) if plan else [],
    }


@bp.route("/care-plan")
def show():
    return render_page("careplan/page.html", fragment="careplan/_plan.html", **_context(record_views.PAGE))


@bp.route("/care-plan/print")
def print_view():
    """The plan as a plain document for the browser's Print command: no script at all."""
    zone = viewer_zone()
    return render_page(
        "careplan/print.html",
        printed_at=when(datetime.now(zone), "date", zone),
        **_context(record_views.PRINT),
    )
