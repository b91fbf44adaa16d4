"""Office: caregivers (list, add, edit, deactivate and reactivate, photo) with their history.

A deactivated caregiver keeps the visits they have but is no longer offered for new ones
(`services.caregivers.choices`). The photo goes through the profile picture's re-encoding; the
office sees it at `/admin/caregivers/<id>/photo`, families through the schedule's own photo route.
"""

from flask import g, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.auth.policies import AREA_PEOPLE
from app.blueprints.admin import area, bp
from app.blueprints.admin.caregiver_forms import CaregiverForm, CaregiverPhotoForm, CaregiverSearchForm
from app.blueprints.admin.client_forms import ActiveForm
from app.blueprints.admin.forms import external_id_taken
from app.i18n import _
from app.models import Caregiver, User
from app.services import caregivers as service
from app.services.history import audit_history
from app.services.profile import MAX_PICTURE_BYTES, PictureRefused
from app.web import downloads
from app.web.htmx import done, render_form, render_page
from app.web.paging import page_of
from app.web.tenancy import get_scoped_or_404

PER_PAGE = 50


def _staff() -> User:
    return current_user._get_current_object()


@bp.route("/caregivers")
@area(AREA_PEOPLE)
def caregivers():
    """Caregivers by name, searched and paged: one statement whatever their number."""
    form = CaregiverSearchForm(request.args)
    query = (form.q.data or "").strip() if form.validate() else ""
    status = form.status.data if form.status.data in ("active", "inactive", "all") else "active"
    criteria = [Caregiver.agency_id == g.agency.id]
    if status != "all":
        criteria.append(Caregiver.is_active.is_(status == "active"))
    if query:
        criteria.append(service.search_criterion(query))
    found = page_of(
        select(Caregiver).where(*criteria).order_by(Caregiver.last_name, Caregiver.first_name, Caregiver.id),
        PER_PAGE,
    )
    return render_page(
        "admin/caregivers.html",
        fragment="admin/_caregiver_list.html",
        form=form,
        **found.context(),
        query=query,
        shown=status,
    )


def _details(form) -> dict:
    return {name: getattr(form, name).data for name in service.EDITABLE}


def _external_id_taken(form, caregiver_id=None) -> bool:
    return external_id_taken(
        form, Caregiver, g.agency, _("Another caregiver already has this id."), caregiver_id
    )


@bp.route("/caregivers/new", methods=["GET", "POST"])
@area(AREA_PEOPLE)
def new_caregiver():
    form = CaregiverForm()
    if form.validate_on_submit() and not _external_id_taken(form):
        caregiver = service.create(g.agency, _staff(), **_details(form))
        return done(_("Caregiver added."), url_for("admin.caregiver", caregiver_id=caregiver.id))
    return render_form("admin/caregiver_new.html", form=form)


def _caregiver_page(caregiver, status=200, form=None, photo_form=None, error=None):
    return render_page(
        "admin/caregiver.html",
        status=status,
        caregiver=caregiver,
        form=form or CaregiverForm(obj=caregiver),
        photo_form=photo_form or CaregiverPhotoForm(formdata=None),
        active_form=ActiveForm(),
        history=audit_history(g.agency, caregiver),
        error=error,
    )


@bp.route("/caregivers/<int:caregiver_id>", methods=["GET", "POST"])
@area(AREA_PEOPLE)
def caregiver(caregiver_id):
    caregiver = get_scoped_or_404(Caregiver, caregiver_id)
    if request.method == "GET":
        return _caregiver_page(caregiver)
    form = CaregiverForm()
    if form.validate_on_submit() and not _external_id_taken(form, caregiver.id):
        changed = service.update(g.agency, _staff(), caregiver, **_details(form))
        return done(
            _("Details saved.") if changed else _("Nothing changed."),
            url_for("admin.caregiver", caregiver_id=caregiver.id),
        )
    return _caregiver_page(caregiver, 422, form=form)


@bp.route("/caregivers/<int:caregiver_id>/active", methods=["POST"])
@area(AREA_PEOPLE)
def caregiver_active(caregiver_id):
    caregiver = get_scoped_or_404(Caregiver, caregiver_id)
    form = ActiveForm()
    if not form.validate_on_submit() or form.active.data not in ("0", "1"):
        return _caregiver_page(caregiver, 422, error=_("Choose whether the caregiver is active."))
    active = form.active.data == "1"
    service.set_active(g.agency, _staff(), caregiver, active)
    if active:
        message = _("Caregiver reactivated; they can be given new visits again.")
    else:
        message = _("Caregiver deactivated; they keep their visits but are not offered for new ones.")
    return done(message, url_for("admin.caregiver", caregiver_id=caregiver.id))


@bp.route("/caregivers/<int:caregiver_id>/photo", methods=["GET", "POST"])
@area(AREA_PEOPLE)
def caregiver_photo(caregiver_id):
    caregiver = get_scoped_or_404(Caregiver, caregiver_id)
    if request.method == "GET":
        return downloads.caregiver_photo(caregiver)
    form = CaregiverPhotoForm()
    if form.validate_on_submit():
        if request.form.get("remove") == "1":
            service.set_photo(g.agency, _staff(), caregiver, None)
            return done(_("Photo removed."), url_for("admin.caregiver", caregiver_id=caregiver.id))
        upload = form.photo.data
        if upload is None or not getattr(upload, "filename", None):
            form.photo.errors.append(_("Choose a photo to upload."))
        else:
            try:
                service.set_photo(g.agency, _staff(), caregiver, upload.stream.read(MAX_PICTURE_BYTES + 1))
            except PictureRefused as refused:
                form.photo.errors.append(str(refused.message))
            else:
                return done(_("Photo saved."), url_for("admin.caregiver", caregiver_id=caregiver.id))
    return _caregiver_page(caregiver, 422, photo_form=form)
