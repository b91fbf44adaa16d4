"""The office's invitation queue, `/admin/invitations`: the invitations families sent that wait for
the office (oldest first), and the decisions of the last 30 days. Approving sends the invitee their
one-time link; declining shows on the inviter's access page. Each decision is a consent record.

By-id lookups go through `get_scoped_or_404`, so another agency's invitation answers 404.
"""

from flask import g, render_template, request, url_for
from flask_login import current_user

from app.auth.policies import AREA_PEOPLE
from app.blueprints.admin import area, bp
from app.i18n import _, _l
from app.models import Invitation
from app.models.statuses import InvitationStatus
from app.services import family_access
from app.web.forms import Form
from app.web.htmx import done, is_partial_request, render_page
from app.web.tenancy import get_scoped_or_404

APPROVE, DECLINE = "approve", "decline"
STATUS_LABELS = {
    InvitationStatus.AWAITING_APPROVAL: _l("Waiting"),
    InvitationStatus.SENT: _l("Approved, link sent"),
    InvitationStatus.ACCEPTED: _l("Accepted"),
    InvitationStatus.DECLINED: _l("Declined"),
    InvitationStatus.WITHDRAWN: _l("Withdrawn"),
}


class InvitationDecisionForm(Form):
    """Approve or decline: a CSRF-checked form whose pressed button decides."""


def _context(**extra) -> dict:
    return {
        "zone": g.agency.zone,
        "status_labels": STATUS_LABELS,
        "relationship_words": family_access.RELATIONSHIP_WORDS,
        "section_words": family_access.section_words,
        **extra,
    }


def _queue_page(status=200, **extra):
    waiting, decided = family_access.office_queue(g.agency)
    return render_page(
        "admin/invitations.html", status=status, **_context(waiting=waiting, decided=decided, **extra)
    )


@bp.route("/invitations")
@area(AREA_PEOPLE)
def invitations():
    return _queue_page()


@bp.route("/invitations/<int:invitation_id>", methods=["POST"])
@area(AREA_PEOPLE)
def decide_invitation(invitation_id):
    invitation = get_scoped_or_404(Invitation, invitation_id)
    decision = request.form.get("decision")
    form = InvitationDecisionForm()
    if not form.validate_on_submit() or decision not in (APPROVE, DECLINE):
        return _answer(invitation, _("Choose Approve or Decline."), 422)
    staff = current_user._get_current_object()
    names = {"person": invitation.display_name, "client": invitation.client.display_name}
    try:
        if decision == APPROVE:
            family_access.approve_invitation(g.agency, staff, invitation)
            message = _("Invitation of %(person)s for %(client)s approved; the link is on its way.", **names)
        else:
            family_access.decline_invitation(g.agency, staff, invitation)
            message = _("Invitation of %(person)s for %(client)s declined.", **names)
    except family_access.InvitationChanged:
        return _answer(invitation, _("This invitation was decided or withdrawn meanwhile."), 409)
    except family_access.InviterLostAccess:
        message = _(
            "%(inviter)s no longer manages access for %(client)s, so this invitation cannot be sent. "
            "Decline it.",
            inviter=invitation.invited_by.display_name,
            client=invitation.client.display_name,
        )
        return _answer(invitation, message, 409)
    return done(
        message,
        url_for("admin.invitations"),
        fragment="admin/_invitation_row.html",
        **_context(inv=invitation),
    )


def _answer(invitation, error: str, status: int):
    """The row with the reason (htmx), or the whole queue with it (a page)."""
    if is_partial_request():
        return render_template("admin/_invitation_row.html", **_context(inv=invitation, error=error)), status
    return _queue_page(status=status, error=error, error_id=invitation.id)
