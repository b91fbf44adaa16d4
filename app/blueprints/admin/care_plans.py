"""The office edits a client's care plan; each save keeps the previous version.

`/admin/care-plans` finds the client (a search and pages: an agency may have a thousand clients),
`/admin/care-plans/<client_id>` shows the plan as a form and saves it, and `.../history` lists the
earlier versions with who saved each and when. The form carries the version it was opened at:
a save from an older copy answers 409 (`check_version`) instead of overwriting a colleague's work.
Every page that shows the plan is recorded as a view of the client's record, like the portal's.
"""

from types import SimpleNamespace

from flask import abort, g, request, url_for
from flask_login import current_user
from sqlalchemy import and_, func, or_, select

from app.auth.policies import AREA_CARE_PLANS
from app.blueprints.admin import area, bp
from app.blueprints.admin.care_plan_forms import CarePlanForm
from app.extensions import db
from app.i18n import _
from app.models import CarePlan, Client, Task, User
from app.services import care_plans
from app.services.record_views import CARE_PLAN, record_view
from app.web.conflicts import check_version
from app.web.htmx import done, record_view_of_refused, render_form, render_page
from app.web.input_guard import parse_id
from app.web.tenancy import get_scoped_or_404

CLIENTS_PER_PAGE = 25
VERSIONS_PER_PAGE = 10
NO_PLAN = SimpleNamespace(version=0)  # what a form opened before the client had a plan carries


def _staff() -> User:
    return current_user._get_current_object()


def _page() -> int:
    return parse_id(request.args.get("page", "1")) or 1


@bp.route("/care-plans")
@area(AREA_CARE_PLANS)
def care_plans_list():
    """Active clients by name, each with when their plan was last saved (or that there is none);
    one statement whatever the number of clients (the count rides along as a window)."""
    query = (request.args.get("q") or "").strip()[:100]
    page = _page()
    criteria = [Client.agency_id == g.agency.id, Client.is_active.is_(True)]
    if query:
        pattern = f"%{query}%"
        criteria.append(
            or_(
                Client.first_name.ilike(pattern),
                Client.last_name.ilike(pattern),
                (Client.first_name + " " + Client.last_name).ilike(pattern),
            )
        )
    rows = db.session.execute(
        select(Client, CarePlan.updated_at, func.count().over().label("total"))
        .outerjoin(CarePlan, and_(CarePlan.client_id == Client.id, CarePlan.agency_id == g.agency.id))
        .where(*criteria)
        .order_by(Client.last_name, Client.first_name, Client.id)
        .limit(CLIENTS_PER_PAGE)
        .offset((page - 1) * CLIENTS_PER_PAGE)
    ).all()
    if page > 1 and not rows:
        abort(404)
    total = rows[0].total if rows else 0
    return render_page(
        "admin/care_plans.html",
        fragment="admin/_care_plan_list.html",
        rows=rows,
        total=total,
        query=query,
        page=page,
        pages=max(1, -(-total // CLIENTS_PER_PAGE)),
    )


def _tasks(plan: CarePlan | None, posted_ids=()) -> list[Task]:
    """The agency's active tasks, with any task the plan has (or the form sent) that is no longer
    offered, so a save never drops a task nobody unticked; by name."""
    keep = {row.task_id for row in plan.tasks} if plan else set()
    keep |= {task_id for task_id in posted_ids if task_id is not None}
    offered = Task.is_active.is_(True)
    return list(
        db.session.scalars(
            select(Task)
            .where(Task.agency_id == g.agency.id, or_(offered, Task.id.in_(keep)) if keep else offered)
            .order_by(Task.name, Task.id)
        )
    )


def _form(plan: CarePlan | None, tasks: list[Task], formdata=None) -> CarePlanForm:
    notes = {row.task_id: row.per_visit_notes for row in plan.tasks} if plan else {}
    data = {
        "version": plan.version if plan else NO_PLAN.version,
        "goals": plan.goals if plan else "",
        "frequency": plan.frequency if plan else "",
        "special_instructions": plan.special_instructions if plan else "",
        "tasks": [
            {"task_id": task.id, "included": task.id in notes, "per_visit_notes": notes.get(task.id) or ""}
            for task in tasks
        ],
    }
    return CarePlanForm(formdata=formdata, data=data)


def _edit_page(client, plan, form, tasks, problem=None):
    return render_form(
        "admin/care_plan.html",
        client=client,
        plan=plan,
        form=form,
        # By the id as the form holds it: a number when shown, the posted text when sent back.
        task_names={str(task.id): task.name for task in tasks},
        retired={str(task.id) for task in tasks if not task.is_active},
        problem=problem,
    )


@bp.route("/care-plans/<int:client_id>", methods=["GET", "POST"])
@area(AREA_CARE_PLANS)
def care_plan(client_id):
    client = get_scoped_or_404(Client, client_id)
    plan = care_plans.plan_of(client)
    if request.method == "GET":
        tasks = _tasks(plan)
        if plan is not None:
            record_view(CARE_PLAN, _staff(), client.id, plan)
        return _edit_page(client, plan, _form(plan, tasks), tasks)

    # Saved by someone else since this form was opened: refuse the whole submit, before its field
    # errors, rather than overwrite what they saved.
    check_version(plan or NO_PLAN, request.form.get("version"))
    form = CarePlanForm(formdata=request.form)
    tasks = _tasks(plan, [parse_id(entry.form.task_id.data) for entry in form.tasks])
    known = {task.id: task for task in tasks}
    problem = None
    if form.validate_on_submit():
        chosen = []
        for entry in form.tasks:
            if not entry.form.included.data:
                continue
            task = known.get(parse_id(entry.form.task_id.data))
            if task is None:
                problem = _(
                    "The list of tasks changed meanwhile. Reload the page and make your changes again."
                )
                break
            chosen.append((task, entry.form.per_visit_notes.data))
        else:
            _plan, changed = care_plans.save_care_plan(
                g.agency,
                _staff(),
                client,
                goals=form.goals.data,
                frequency=form.frequency.data,
                special_instructions=form.special_instructions.data,
                tasks=chosen,
                expected_version=plan.version if plan else None,
            )
            message = (
                _("Care plan of %(client)s saved.", client=client.display_name)
                if changed
                else _("Nothing changed.")
            )
            return done(message, url_for("admin.care_plan", client_id=client.id))
    response = _edit_page(client, plan, form, tasks, problem=problem)
    if plan is not None:  # the plan is shown again beside the errors
        record_view_of_refused(lambda: record_view(CARE_PLAN, _staff(), client.id, plan))
    return response


@bp.route("/care-plans/<int:client_id>/history")
@area(AREA_CARE_PLANS)
def care_plan_history(client_id):
    """The plan as it is and, newest first, as it was before each save, a page at a time."""
    client = get_scoped_or_404(Client, client_id)
    plan = care_plans.plan_of(client)
    page = _page()
    versions = []
    if plan is not None:
        versions = care_plans.history(
            plan, limit=VERSIONS_PER_PAGE + 1, offset=(page - 1) * VERSIONS_PER_PAGE
        )
    if page > 1 and not versions:
        abort(404)
    more = len(versions) > VERSIONS_PER_PAGE
    if plan is not None:
        record_view(CARE_PLAN, _staff(), client.id, plan, label="history")
    return render_page(
        "admin/care_plan_history.html",
        client=client,
        plan=plan,
        plan_tasks=care_plans.plan_tasks(plan) if plan else [],
        versions=[(version, care_plans.version_tasks(version)) for version in versions[:VERSIONS_PER_PAGE]],
        page=page,
        more=more,
    )
