"""Owner: the agency's audit log, newest first, filtered by who, client, kind of event and days,
with a check of the hash chain (`services.audit.chain_breaks`) and a CSV export of what is shown.

A page is one statement: the events (by the (agency_id, id) index, keyset-paged on the id) with
their actor, the person they were about and the client joined in; the client choices are one more.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

from flask import Response, g, request, stream_with_context
from flask_login import current_user
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased

from app.auth.policies import AREA_AUDIT
from app.blueprints.admin import area, bp
from app.blueprints.admin.staff_forms import AuditFilterForm, VerifyChainForm
from app.extensions import db
from app.i18n import _, _l
from app.models import AuditEvent, Client, User
from app.services import audit
from app.services.calendar import day_bounds
from app.services.history import ACTION_LABELS as HISTORY_LABELS
from app.tenancy import enter_agency, leave_agency
from app.web.htmx import render_page
from app.web.input_guard import parse_id

PER_PAGE = 50

# Readable names of events; an event without one shows its code ("invoice.issued").
ACTION_LABELS = {
    **HISTORY_LABELS,
    "client.updated": _l("Client details changed"),
    "account.updated": _l("Account details changed"),
    "account.paused": _l("Account paused"),
    "login.success": _l("Signed in"),
    "login.failed": _l("Sign-in failed"),
    "login.password_ok": _l("Password accepted, second step asked"),
    "login.link_sent": _l("Sign-in link sent"),
    "logout": _l("Signed out"),
    "password.changed": _l("Password changed"),
    "password.change_failed": _l("Password change refused"),
    "password.reset_requested": _l("Password reset asked for"),
    "token.used": _l("One-time link used"),
    "two_step.enabled": _l("Two-step sign-in turned on"),
    "two_step.disabled": _l("Two-step sign-in turned off"),
    "message.sent": _l("Message sent"),
    "office_settings.changed": _l("Office settings changed"),
    "invoice.draft_discarded": _l("Draft invoice discarded"),
    "document.removed": _l("Document removed"),
    "invitation.sent": _l("Invitation sent"),
    "invitation.accepted": _l("Invitation accepted"),
    "invitation.approved": _l("Invitation approved"),
    "invitation.declined": _l("Invitation declined"),
    "invitation.withdrawn": _l("Invitation withdrawn"),
    "schedule_request.created": _l("Schedule change asked for"),
    "visit.updated": _l("Visit changed"),
    "staff.role_changed": _l("Staff role changed"),
    "staff.removed": _l("Staff member removed"),
    "audit.exported": _l("Audit log exported"),
}

# The kinds offered beside the "What" box (any prefix or exact event may be typed).
KINDS = (
    "account.",
    "audit.",
    "calendar_feed.",
    "care_plan.",
    "caregiver.",
    "client.",
    "credentials.",
    "document.",
    "document_category.",
    "invitation.",
    "invoice.",
    "login.",
    "message.",
    "office_settings.",
    "password.",
    "payment.",
    "profile.",
    "schedule_request.",
    "staff.",
    "two_step.",
    "visit.",
)


@dataclass
class LogRow:
    id: int
    at: datetime
    who: str | None  # None: the system, or someone not signed in
    what: str
    about: str | None
    client: str | None
    ip: str | None
    action: str


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _criteria(form: AuditFilterForm) -> list:
    """The filters as SQL on audit_events; the form has been validated (bad fields are ignored)."""
    criteria = [AuditEvent.agency_id == g.agency.id]
    person = (form.person.data or "").strip() if not form.person.errors else ""
    if person:
        person_id = parse_id(person.lstrip("#"))
        if person_id is not None:
            criteria.append(AuditEvent.actor_id == person_id)
        else:
            pattern = f"%{_like(person)}%"
            matching = select(User.id).where(
                User.agency_id == g.agency.id,
                or_(
                    User.first_name.ilike(pattern, escape="\\"),
                    User.last_name.ilike(pattern, escape="\\"),
                    (User.first_name + " " + User.last_name).ilike(pattern, escape="\\"),
                    User.organisation_name.ilike(pattern, escape="\\"),
                    User.username.ilike(pattern, escape="\\"),
                ),
            )
            criteria.append(AuditEvent.actor_id.in_(matching))
    client_id = parse_id(form.client_id.data)
    if client_id is not None:
        criteria.append(AuditEvent.client_id == client_id)
    kind = (form.kind.data or "").strip() if not form.kind.errors else ""
    if kind:
        if kind.endswith("."):
            criteria.append(AuditEvent.action.like(_like(kind) + "%", escape="\\"))
        else:
            criteria.append(
                or_(AuditEvent.action == kind, AuditEvent.action.like(_like(kind) + ".%", escape="\\"))
            )
    start = form.start.data if not form.start.errors else None
    end = form.end.data if not (form.end.errors or form.start.errors) else None
    if start or end:
        first, last = day_bounds(g.agency.zone, start or date(2000, 1, 1), end or date(2099, 12, 31))
        if start:
            criteria.append(AuditEvent.created_at >= first)
        if end:
            criteria.append(AuditEvent.created_at < last)
    return criteria


def _events(criteria, before: int | None = None, limit: int | None = PER_PAGE + 1):
    """The events with their actor, the person they were about and their client: one statement."""
    actor, about = aliased(User), aliased(User)
    query = (
        select(AuditEvent, actor, about, Client)
        .outerjoin(actor, and_(actor.id == AuditEvent.actor_id, actor.agency_id == g.agency.id))
        .outerjoin(
            about,
            and_(
                AuditEvent.target_type == "User",
                about.id == AuditEvent.target_id,
                about.agency_id == g.agency.id,
            ),
        )
        .outerjoin(Client, and_(Client.id == AuditEvent.client_id, Client.agency_id == g.agency.id))
        .where(*criteria)
        .order_by(AuditEvent.id.desc())
    )
    if before is not None:
        query = query.where(AuditEvent.id < before)
    if limit is not None:
        query = query.limit(limit)
    return query


def _row(event: AuditEvent, actor, about, client) -> LogRow:
    label = ACTION_LABELS.get(event.action)
    if about is not None:
        target = about.display_name
    elif client is not None and event.target_type == "Client":
        target = client.display_name
    elif event.target_type:
        target = f"{event.target_type} #{event.target_id}"
    else:
        target = None
    return LogRow(
        id=event.id,
        at=event.created_at,
        who=actor.display_name if actor is not None else None,
        what=str(label) if label else event.action,
        about=target,
        client=client.display_name if client is not None else None,
        ip=event.ip_address,
        action=event.action,
    )


def _client_choices():
    clients = db.session.execute(
        select(Client.id, Client.first_name, Client.last_name)
        .where(Client.agency_id == g.agency.id)
        .order_by(Client.last_name, Client.first_name, Client.id)
    ).all()
    return [("", _("Every client"))] + [(str(c.id), f"{c.first_name} {c.last_name}") for c in clients]


def _filter_form() -> AuditFilterForm:
    form = AuditFilterForm(request.args)
    form.client_id.choices = _client_choices()
    form.validate()
    return form


def _filters(form: AuditFilterForm) -> dict:
    """The filters as query-string values, for the next-page and export links."""
    values = {
        "person": form.person.data,
        "client_id": form.client_id.data,
        "kind": form.kind.data,
        "start": form.start.data.isoformat() if form.start.data and not form.start.errors else None,
        "end": form.end.data.isoformat() if form.end.data and not form.end.errors else None,
    }
    return {name: value for name, value in values.items() if value}


def _audit_page(status: int = 200, verification: dict | None = None):
    form = _filter_form()
    before = parse_id(request.args.get("before"))
    rows = [_row(*r) for r in db.session.execute(_events(_criteria(form), before)).all()]
    older = rows[PER_PAGE - 1].id if len(rows) > PER_PAGE else None
    if form.errors and status == 200:
        status = 422  # a message beside the field; the other filters still apply
    return render_page(
        "admin/audit.html",
        fragment="admin/_audit_list.html",
        status=status,
        form=form,
        rows=rows[:PER_PAGE],
        older=older,
        first_page=before is None,
        filters=_filters(form),
        kinds=KINDS,
        zone=g.agency.zone,
        verification=verification,
    )


@bp.route("/audit")
@area(AREA_AUDIT)
def audit_log():
    return _audit_page()


@bp.route("/audit/verify", methods=["POST"])
@area(AREA_AUDIT)
def audit_verify():
    if not VerifyChainForm().validate_on_submit():
        return _audit_page(400, verification={"error": _("The form expired; press the button again.")})
    breaks = audit.chain_breaks(g.agency.id)
    broken_id = breaks.get(g.agency.id)
    if broken_id is None:
        return _audit_page(verification={"intact": True})
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.id == broken_id, AuditEvent.agency_id == g.agency.id)
    )
    return _audit_page(verification={"intact": False, "event": event})


@bp.route("/audit.csv")
@area(AREA_AUDIT)
def audit_export():
    """The filtered log as CSV, streamed newest first (times in the agency's zone, ISO 8601)."""
    form = _filter_form()
    query = _events(_criteria(form), limit=None).execution_options(yield_per=500)  # built before the commit
    zone = g.agency.zone
    audit.record("audit.exported", actor=current_user._get_current_object(), filters=_filters(form))
    header = [str(_("Number")), str(_("When")), str(_("Who")), str(_("What")), str(_("Event")),
              str(_("About")), str(_("Client")), str(_("From address"))]  # fmt: skip

    agency_id = g.agency.id

    def lines():
        # The body is read after the view returns: the generator names its agency again.
        token = enter_agency(agency_id)
        try:
            yield from _csv_lines(query, header, zone)
        finally:
            leave_agency(token)

    response = Response(stream_with_context(lines()), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response


def _csv_lines(query, header, zone):
    """The CSV text, a few hundred rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for number, result in enumerate(db.session.execute(query)):
        row = _row(*result)
        writer.writerow(
            [
                row.id,
                row.at.astimezone(zone).isoformat(),
                _safe(row.who or _("the system")),
                _safe(row.what),
                _safe(row.action),
                _safe(row.about or ""),
                _safe(row.client or ""),
                row.ip or "",
            ]
        )
        if number % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
