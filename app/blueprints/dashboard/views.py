"""My <agency>: the icon row and the sections this user may see, with real counts."""

from flask import g
from sqlalchemy import func, select

from app.auth import policies
from app.blueprints.dashboard import bp
from app.extensions import db
from app.models import CarePlan, CarePlanTask
from app.services import invoice_listing, portal_queries
from app.services.calendar import who_is_coming_today
from app.web.formatting import viewer_zone
from app.web.htmx import render_page
from app.web.portal import selected_client


@bp.route("/")
@bp.route("/dashboard")
def index():
    access = g.access
    if not access.links:
        return render_page("dashboard/no_clients.html")
    client = selected_client()
    link = access.link(client.id)
    allows = lambda section: policies.link_allows(link, section)  # noqa: E731
    upcoming_count, upcoming = (
        portal_queries.upcoming_visits([client.id]) if allows(policies.SCHEDULE) else (0, [])
    )
    today = who_is_coming_today(client, viewer_zone()) if allows(policies.SCHEDULE) else None
    outstanding, recent_invoices = portal_queries.invoices_summary(access, client.id)
    care_plan, care_plan_tasks = None, 0
    if allows(policies.CARE_PLAN):
        # The plan and how many tasks it has, in one statement (the badge needs the count only).
        task_count = select(func.count(CarePlanTask.id)).where(CarePlanTask.care_plan_id == CarePlan.id)
        row = db.session.execute(
            select(CarePlan, task_count.scalar_subquery()).where(CarePlan.client_id == client.id)
        ).first()
        if row is not None:
            care_plan, care_plan_tasks = row
    return render_page(
        "dashboard/index.html",
        client=client,
        link=link,
        clients=access.clients(),
        pending_signatures=portal_queries.pending_signature_count(
            [client.id] if allows(policies.SIGNATURES) else []
        ),
        upcoming_count=upcoming_count,
        upcoming=upcoming,
        today=today,
        outstanding=outstanding,
        recent_invoices=recent_invoices,
        invoice_state=invoice_listing.state_of,
        invoice_state_labels=invoice_listing.STATE_LABELS,
        care_plan=care_plan,
        care_plan_tasks=care_plan_tasks,
        documents=portal_queries.document_counts(access, client.id),
    )
