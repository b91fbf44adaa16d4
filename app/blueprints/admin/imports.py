"""CSV import and export of clients, caregivers and visits (DESIGN.md "The admin area": import).

`/admin/import`: choose what the file holds, upload it, and press Preview (a dry run: the counts
and the row errors, nothing written) or Import (all or nothing: with any row error nothing is
imported). Import takes the file again rather than one kept from the preview: nothing of a
half-finished preview stays on the server (health and contact details in a file nobody imports),
and what is imported is exactly what was just checked, even when the other software wrote a newer
file in between. The rules are app/services/csv_import.py's.

`/admin/export/<kind>.csv`: the lists in the columns the import reads, streamed; visits for a
bounded range of local days (`?from=…&to=…`, the next 30 days by default, at most 400).
"""

from datetime import timedelta

from flask import Response, g, request, stream_with_context, url_for
from flask_login import current_user

from app.auth.policies import AREA_PEOPLE
from app.blueprints.admin import area, bp
from app.blueprints.admin.import_forms import KIND_LABELS, ImportForm, VisitExportForm
from app.i18n import _
from app.services import audit, csv_export, csv_import
from app.tenancy import enter_agency, leave_agency
from app.web.htmx import done, render_form, render_page

ERRORS_SHOWN = 200
PAGE = "admin/import.html"
FRAGMENT = "admin/_import_result.html"


def _staff():
    return current_user._get_current_object()


def _page(form, outcome=None, status=None, export_form=None, refused=False):
    context = {
        "form": form,
        "outcome": outcome,
        "refused": refused,
        "errors_shown": ERRORS_SHOWN,
        "columns": {kind: csv_import.COLUMNS[kind] for kind in csv_import.KINDS},
        "kind_labels": KIND_LABELS,
        "max_rows": csv_import.MAX_ROWS,
        "max_mb": csv_import.MAX_BYTES // (1024 * 1024),
        "export_form": export_form or VisitExportForm(formdata=None),
        "default_days": csv_export.DEFAULT_DAYS,
        "max_days": csv_export.MAX_DAYS,
    }
    if status is not None:
        return render_page(PAGE, fragment=FRAGMENT, status=status, **context)
    return render_form(PAGE, fragment=FRAGMENT, **context)


@bp.route("/import", methods=["GET", "POST"])
@area(AREA_PEOPLE)
def import_csv():
    form = ImportForm()
    if request.method == "GET":
        return _page(form)
    if not form.validate_on_submit():
        return _page(form)
    upload = form.file.data
    if upload is None or not getattr(upload, "filename", None):
        form.file.errors.append(_("Choose the CSV file to read."))
        return _page(form)
    data = upload.stream.read(csv_import.MAX_BYTES + 1)
    kind = form.kind.data
    if request.form.get("action") != "import":
        return _page(form, csv_import.preview(g.agency, kind, data), status=200)
    outcome = csv_import.import_rows(g.agency, _staff(), kind, data)
    if not outcome.imported:
        return _page(form, outcome, status=422, refused=True)
    message = _(
        "Imported: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
        created=outcome.created,
        updated=outcome.updated,
        unchanged=outcome.unchanged,
    )
    return done(message, url_for("admin.import_csv"))


def _csv(name: str, kind: str, rows, header=None, **details):
    """Stream `rows` as a CSV attachment under `header` (default: the import's columns of `kind`)."""
    audit.record(f"export.{kind}", actor=_staff(), **details)
    agency_id = g.agency.id
    header = header or csv_import.columns(kind)

    def lines():
        # The body is read after the view returns (and the request commits): name the agency again.
        token = enter_agency(agency_id)
        try:
            yield from csv_export.csv_lines(header, rows)
        finally:
            leave_agency(token)

    response = Response(stream_with_context(lines()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/export/clients.csv")
@area(AREA_PEOPLE)
def export_clients():
    return _csv("clients.csv", "clients", csv_export.client_rows(g.agency))


@bp.route("/export/caregivers.csv")
@area(AREA_PEOPLE)
def export_caregivers():
    return _csv("caregivers.csv", "caregivers", csv_export.caregiver_rows(g.agency))


@bp.route("/export/visits.csv")
@area(AREA_PEOPLE)
def export_visits():
    export_form = VisitExportForm(request.args)
    if not export_form.validate():
        return _page(ImportForm(formdata=None), status=400, export_form=export_form)
    first = export_form.first.data or g.agency.today()
    last = export_form.last.data or first + timedelta(days=csv_export.DEFAULT_DAYS - 1)
    if last < first or (last - first).days >= csv_export.MAX_DAYS:
        export_form.last.errors = [_("Export at most %(num)d days at a time.", num=csv_export.MAX_DAYS)]
        return _page(ImportForm(formdata=None), status=400, export_form=export_form)
    name = f"visits-{first.isoformat()}-{last.isoformat()}.csv"
    rows = csv_export.visit_rows(g.agency, first, last)
    return _csv(name, "visits", rows, first=first.isoformat(), last=last.isoformat())


@bp.route("/export/people.csv")
@area(AREA_PEOPLE)
def export_people():
    return _csv("people.csv", "people", csv_export.people_rows(g.agency), header=csv_export.PEOPLE_COLUMNS)


@bp.route("/export/leads.csv")
@area(AREA_PEOPLE)
def export_leads():
    return _csv("leads.csv", "leads", csv_export.lead_rows(g.agency), header=csv_export.LEAD_COLUMNS)
