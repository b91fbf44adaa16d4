"""Access the family controls, `/profile/access`: for a client and their legal representatives.

Who has portal access to the client and what each may see; invitations (waiting for the office,
sent, declined); invite someone within their relationship's ceiling; revoke anyone's access at
once (never the client's own, never one's own); withdraw an invitation; the consent records; and
"who viewed my record" (the last 90 days of views of the care plan, invoices, signed visit records
and visit notes, by anyone). The invitee's one-time link, `/invitation/<token>`, is public.

Which client: `selected_client(rule=manages_access)`, so a user who manages nobody's access (an
emergency contact, a payer) gets 404, and `?client=` outside their reach too.
"""

from datetime import date

from flask import abort, g, request, url_for
from flask_login import current_user

from app.auth.policies import (
    MESSAGES,
    allowed_sections,
    invitation_needs_approval,
    manages_access,
    may_revoke,
)
from app.auth.sessions import start_session
from app.auth.tokens import invitation_for_token
from app.blueprints.profile import bp
from app.blueprints.profile.access_forms import AcceptInvitationForm, ButtonForm, InviteForm
from app.i18n import _
from app.models import ClientLink, Invitation, utcnow
from app.models.client import REL_EMERGENCY
from app.models.statuses import ConsentAction, InvitationStatus
from app.services import accounts, family_access, record_views
from app.services.family_access import RELATIONSHIP_WORDS, section_words
from app.web.access import public
from app.web.formatting import viewer_zone, when
from app.web.forms import Form
from app.web.htmx import done, render_form, render_page
from app.web.input_guard import parse_id
from app.web.portal import selected_client
from app.web.tenancy import get_scoped_or_404

CONSENTS_PER_PAGE = 10
VIEWS_PER_PAGE = 20
# htmx asks for one part of the page by its id (the pagers); anything else gets the whole panel.
FRAGMENTS = {
    "consent-log": "profile/_access_consents.html",
    "record-views": "profile/_access_views.html",
}
PANEL = "profile/_access.html"


def _user():
    return current_user._get_current_object()


def _managed_client():
    return selected_client(rule=manages_access)


def _managed_ids() -> list[int]:
    return [client_id for client_id, link in g.access.links.items() if manages_access(link)]


def _page(name: str) -> int:
    return parse_id(request.args.get(name, "1")) or 1


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def _invite_form(manager, *, blank: bool = False) -> InviteForm:
    """The invitation form: the posted one, or (`blank`) a fresh one with family preselected."""
    if blank:
        return InviteForm(shareable=allowed_sections(manager), formdata=None, relationship=REL_EMERGENCY)
    return InviteForm(shareable=allowed_sections(manager))


# --- words ----------------------------------------------------------------------------------------


def _person(user) -> str:
    """Who did something, as the client reads it."""
    if user is None:
        return _("Someone whose account was removed")
    if user.id == current_user.id:
        return _("You")
    if user.is_staff:
        return _("%(name)s from the office", name=user.first_name)
    return user.display_name


def consent_sentence(record, actor, zone) -> str:
    values = {
        "actor": _person(actor),
        "subject": record.subject_name,
        "relationship": RELATIONSHIP_WORDS.get(record.relationship_kind, record.relationship_kind or ""),
        "when": when(record.created_at, "date_time", zone),
        "sections": section_words(record.sections),
    }
    action = record.action
    if action == ConsentAction.INVITED:
        return _("%(actor)s invited %(subject)s (%(relationship)s) on %(when)s: %(sections)s.", **values)
    if action == ConsentAction.APPROVED:
        return _("%(actor)s approved the invitation of %(subject)s on %(when)s.", **values)
    if action == ConsentAction.DECLINED:
        return _("%(actor)s declined the invitation of %(subject)s on %(when)s.", **values)
    if action == ConsentAction.WITHDRAWN:
        return _("%(actor)s withdrew the invitation of %(subject)s on %(when)s.", **values)
    if action == ConsentAction.GRANTED:
        return _(
            "%(subject)s accepted the invitation on %(when)s and has access as %(relationship)s: "
            "%(sections)s.",
            **values,
        )
    return _(
        "%(actor)s ended the access of %(subject)s (%(relationship)s) on %(when)s: %(sections)s.", **values
    )


def _visit_day(label: str | None) -> str | None:
    try:
        return when(date.fromisoformat(label or ""), "date")
    except ValueError:
        return None


def view_sentence(view: record_views.RecordView, zone) -> str:
    values = {"person": _person(view.viewer), "when": when(view.at, "date_time", zone), "label": view.label}
    kind, how = view.kind, view.how
    if kind == record_views.INVOICE and view.label:
        sentence = _("%(person)s viewed invoice %(label)s on %(when)s.", **values)
    elif kind == record_views.INVOICE:
        sentence = _("%(person)s viewed an invoice on %(when)s.", **values)
    elif kind == record_views.CARE_PLAN:
        sentence = _("%(person)s viewed the care plan on %(when)s.", **values)
    elif kind == record_views.SIGNED_VISIT and _visit_day(view.label):
        sentence = _(
            "%(person)s viewed the signed record of the visit of %(day)s on %(when)s.",
            day=_visit_day(view.label),
            **values,
        )
    elif kind == record_views.SIGNED_VISIT:
        sentence = _("%(person)s viewed a signed visit record on %(when)s.", **values)
    elif kind == record_views.VISIT_NOTES:
        sentence = _("%(person)s saw the caregivers' visit notes in the schedule on %(when)s.", **values)
    elif kind == record_views.DOCUMENT and view.label:
        sentence = _("%(person)s downloaded the document “%(label)s” on %(when)s.", **values)
    elif kind == record_views.DOCUMENT:
        sentence = _("%(person)s downloaded a document on %(when)s.", **values)
    else:
        sentence = _("%(person)s viewed the record on %(when)s.", **values)
    if how == record_views.PDF:
        return " ".join((sentence, _("(as a PDF)")))
    if how == record_views.PRINT:
        return " ".join((sentence, _("(printable view)")))
    return sentence


def _invitation_state(invitation: Invitation, zone) -> str:
    if invitation.status == InvitationStatus.AWAITING_APPROVAL:
        return _("Waiting for the office to approve it.")
    if invitation.status == InvitationStatus.DECLINED:
        on = when(invitation.decided_at, "date", zone)
        return _("The office declined it on %(date)s. Write to the office to ask why.", date=on)
    if invitation.expires_at is not None and invitation.expires_at <= utcnow():
        return _(
            "The link expired on %(date)s without being used.", date=when(invitation.expires_at, "date", zone)
        )
    return _(
        "The link was sent to %(email)s; it works until %(date)s.",
        email=invitation.email,
        date=when(invitation.expires_at, "date_time", zone),
    )


# --- the page -------------------------------------------------------------------------------------


def _context(client, form=None, **extra) -> dict:
    manager = g.access.link(client.id)
    zone = viewer_zone()
    consents_page, views_page = _page("consents"), _page("views")
    consent_total, consents = family_access.consent_records(client, consents_page, CONSENTS_PER_PAGE)
    views_total, views = record_views.views_of(
        g.agency, client.id, views_page, VIEWS_PER_PAGE, reader=g.access.link(client.id)
    )
    if (consents_page > 1 and not consents) or (views_page > 1 and not views):
        abort(404)
    clients = [c for c in g.access.clients() if manages_access(g.access.link(c.id))]
    return {
        "client": client,
        "clients": clients,
        "manager": manager,
        "links": family_access.people_with_access(client),
        "invitations": family_access.open_invitations(client),
        "form": form if form is not None else _invite_form(manager, blank=True),
        "may_revoke": lambda link: may_revoke(manager, link),
        "allowed_sections": allowed_sections,
        "relationship_words": RELATIONSHIP_WORDS,
        "section_words": section_words,
        "invitation_state": lambda invitation: _invitation_state(invitation, zone),
        "needs_approval": invitation_needs_approval(g.agency, REL_EMERGENCY),
        "consents": [consent_sentence(record, actor, zone) for record, actor in consents],
        "consents_page": consents_page,
        "consents_pages": _pages(consent_total, CONSENTS_PER_PAGE),
        "views": [view_sentence(view, zone) for view in views],
        "views_total": views_total,
        "views_page": views_page,
        "views_pages": _pages(views_total, VIEWS_PER_PAGE),
        "views_days": record_views.LOG_DAYS,
        "ask_office_url": url_for("messages.new", client=client.id)
        if g.access.allows(client.id, MESSAGES)
        else None,
        "page_url": lambda **args: url_for(
            "profile.access",
            client=client.id,
            consents=args.get("consents", consents_page if consents_page > 1 else None),
            views=args.get("views", views_page if views_page > 1 else None),
        ),
        **extra,
    }


@bp.route("/profile/access")
def access():
    client = _managed_client()
    fragment = FRAGMENTS.get(request.headers.get("HX-Target", ""), PANEL)
    return render_page("profile/access.html", fragment=fragment, **_context(client))


@bp.route("/profile/access/invite", methods=["POST"])
def invite():
    client = _managed_client()
    manager = g.access.link(client.id)
    form = _invite_form(manager)
    if form.validate_on_submit():
        if family_access.already_invited_or_linked(client, form.email.data):
            form.email.errors.append(
                _(
                    "Someone with this address already has access to %(client)s or an invitation waiting.",
                    client=client.first_name,
                )
            )
        else:
            invitation = family_access.invite_person(
                g.agency,
                _user(),
                client,
                first_name=form.first_name.data,
                last_name=form.last_name.data,
                email=form.email.data,
                relationship=form.relationship.data,
                sections=form.sections.data,
            )
            names = {"person": invitation.display_name, "email": invitation.email}
            if invitation.status == InvitationStatus.SENT:
                message = _("The invitation is on its way to %(person)s at %(email)s.", **names)
            else:
                message = _("The office will read your invitation of %(person)s and send it.", **names)
            return done(
                message,
                url_for("profile.access", client=client.id),
                fragment=PANEL,
                **_context(client),
            )
    return render_form("profile/access.html", fragment=PANEL, **_context(client, form=form))


def _after_change(message: str, client_id: int):
    """Back to the access page of that client (its whole panel for htmx)."""
    client = g.access.link(client_id).client
    return done(message, url_for("profile.access", client=client_id), fragment=PANEL, **_context(client))


@bp.route("/profile/access/links/<int:link_id>/revoke", methods=["POST"])
def revoke_access(link_id):
    link = get_scoped_or_404(ClientLink, link_id, ClientLink.client_id.in_(_managed_ids()))
    if not may_revoke(g.access.link(link.client_id), link) or not ButtonForm().validate_on_submit():
        abort(404)
    name = link.user.display_name
    client_id = link.client_id
    family_access.revoke_access(g.agency, _user(), link)
    return _after_change(
        _("%(person)s no longer has access. Their sessions have ended.", person=name), client_id
    )


@bp.route("/profile/access/invitations/<int:invitation_id>/withdraw", methods=["POST"])
def withdraw_invitation(invitation_id):
    invitation = get_scoped_or_404(Invitation, invitation_id, Invitation.client_id.in_(_managed_ids()))
    if not ButtonForm().validate_on_submit():
        abort(404)
    if invitation.status not in family_access.PENDING:
        abort(409)
    try:
        family_access.withdraw_invitation(g.agency, _user(), invitation)
    except family_access.InvitationChanged:
        abort(409)
    message = _(
        "The invitation of %(person)s is withdrawn; its link no longer works.", person=invitation.display_name
    )
    return _after_change(message, invitation.client_id)


# --- the invitee's link ---------------------------------------------------------------------------


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token):
    invitation = invitation_for_token(token, g.agency.id)
    if invitation is None or not invitation.client.is_active:
        return render_page("profile/invitation_invalid.html", status=404)
    signed_in = current_user._get_current_object() if current_user.is_authenticated else None
    joinable = family_access.may_join_account(invitation, signed_in)
    if joinable and request.form.get("join") == "1" and Form().validate_on_submit():
        try:
            family_access.accept_into_account(g.agency, invitation, signed_in)
        except family_access.InvitationChanged:
            return render_page("profile/invitation_invalid.html", status=409)
        return done(
            _("%(client)s is added to your account.", client=invitation.client.display_name),
            url_for("dashboard.index", client=invitation.client_id),
        )
    form = AcceptInvitationForm(agency=g.agency)
    if request.method == "GET":
        form.username.data = accounts.login_name_for(g.agency, invitation.first_name, invitation.last_name)
    if form.validate_on_submit():
        try:
            user = family_access.accept_invitation(
                g.agency, invitation, username=form.username.data, password=form.new_password.data
            )
        except family_access.InvitationChanged:
            return render_page("profile/invitation_invalid.html", status=409)
        start_session(user)
        return done(
            _("Welcome, %(name)s! Your account is ready and you are signed in.", name=user.first_name),
            url_for("dashboard.index"),
        )
    return render_form(
        "profile/invitation.html",
        fragment="profile/_invitation_form.html",
        form=form,
        invitation=invitation,
        inviter=invitation.invited_by,
        signed_in_as=signed_in,
        joinable=joinable,
        join_form=Form(),
        sections=section_words(invitation.sections),
        relationship=RELATIONSHIP_WORDS.get(invitation.relationship_kind, ""),
    )
