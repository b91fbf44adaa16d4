"""Sign-in and password views. Thin: parse the form, call a service, render or redirect."""

import secrets
from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, make_response, redirect, request, session, url_for
from flask_login import current_user, login_required

from app.auth.passwords import verify_secret
from app.auth.policies import offers_security_question, two_step_required
from app.auth.sessions import begin_two_step, end_session, pending_two_step_user, start_session
from app.auth.tokens import spend_tokens, user_for_token
from app.blueprints.auth import bp, services
from app.blueprints.auth.forms import (
    ChangePasswordForm,
    ForgotForm,
    LoginForm,
    NewPasswordForm,
    SecurityAnswerForm,
    TwoStepCodeForm,
    TwoStepOffForm,
)
from app.extensions import limiter
from app.i18n import N_, _
from app.models import utcnow
from app.models.statuses import LinkPurpose
from app.services import accounts, audit, password_resets, storage
from app.web.access import public
from app.web.forms import Form
from app.web.htmx import done, redirect_page, render_form, render_page

# Once the mailed link is opened: time to scan the key and type a first code.
ENROLMENT_WINDOW_SECONDS = 15 * 60
WRONG_CREDENTIALS = N_(
    "That login name and password do not match. After several wrong tries, sign-in pauses for a few minutes."
)


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


# One per-address budget for everything that checks a password, code or answer: sign-in, two-step,
# forgot password, the security question (its page too: showing it is a probe) and re-authentication.
sign_in_limit = limiter.shared_limit(_login_limit, scope="sign-in", methods=["POST"])
question_limit = limiter.shared_limit(_login_limit, scope="sign-in")


def _safe_next(target: str | None) -> str:
    # Browsers read a backslash as "/" and drop tabs and newlines: "/\evil.example" leaves the site.
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("dashboard.index")


def _keep_changes() -> None:
    """Commit this request's changes even though the answer is an error (failure counters, audit)."""
    g.keep_changes = True


@bp.route("/login", methods=["GET", "POST"])
@public
@sign_in_limit
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = services.authenticate(form.username.data, form.password.data)
        if user is not None and user.totp_secret:
            begin_two_step(user, request.args.get("next"))
            return redirect_page(url_for("auth.two_step"))
        if user is not None:
            start_session(user)
            if user.must_change_password:
                return done(
                    _("Welcome. Please choose your own password before you continue."),
                    url_for("auth.change_password"),
                    category="info",
                )
            return redirect_page(_safe_next(request.args.get("next")))
        _keep_changes()
        error = _(WRONG_CREDENTIALS)
    return render_form("auth/login.html", fragment="auth/_login_form.html", form=form, error=error)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        accounts.end_all_sessions(user)  # signing out here signs out everywhere
        audit.record("logout", actor=user)
    end_session(_("You have signed out."))
    return redirect_page(url_for("auth.login"))


def _new_password_form(form_class, user):
    ask = offers_security_question(g.agency, user) and not user.security_answer_hash
    return form_class(username=user.username, agency_name=g.agency.name, ask_question=ask)


def _question_fields(form) -> dict:
    if not form.ask_question:
        return {}
    return {"question": form.security_question.data, "answer": form.security_answer.data}


@bp.route("/profile/password", methods=["GET", "POST"])  # the URL contract's other name for it
@bp.route("/password/change", methods=["GET", "POST"])
@login_required
@sign_in_limit
def change_password():
    user = current_user._get_current_object()
    form = _new_password_form(ChangePasswordForm, user)
    if form.validate_on_submit():
        refused = services.reauthenticate(user, form.current_password.data)
        if refused:
            form.current_password.errors.append(_(refused))
            audit.record("password.change_failed", actor=user)
            _keep_changes()
        elif verify_secret(user.password_hash, form.new_password.data):
            # A temporary password the office knows must not survive its own "change".
            form.new_password.errors.append(_("Choose a password different from your current one."))
        else:
            services.set_password(user, form.new_password.data, how="change", **_question_fields(form))
            start_session(user)  # this session continues under the new stamp; the others end
            return done(_("Your password has been changed."), url_for("dashboard.index"))
    return render_form(
        "auth/change_password.html",
        fragment="auth/_password_form.html",
        form=form,
        title=_("Choose your password") if user.must_change_password else _("Change password"),
    )


@bp.route("/welcome/<token>", methods=["GET", "POST"])
@public
def welcome(token):
    user = user_for_token(token, "welcome", g.agency.id)
    if user is None:
        return render_page("auth/link_invalid.html", status=404)
    form = _new_password_form(NewPasswordForm, user)
    if form.validate_on_submit():
        services.set_password(user, form.new_password.data, how="welcome link", **_question_fields(form))
        audit.record("token.used", actor=user, purpose="welcome")
        if user.totp_secret:  # the link stands in for the password, never for the code
            begin_two_step(user, url_for("dashboard.index"))
            return done(
                _("Your password is set. Now enter the code from your authenticator app."),
                url_for("auth.two_step"),
            )
        start_session(user)
        return done(_("Welcome! Your password is set."), url_for("dashboard.index"))
    return render_form(
        "auth/choose_password.html",
        fragment="auth/_password_form.html",
        form=form,
        user=user,
        title=_("Welcome, %(name)s", name=user.first_name),
        intro=_("Your login name is %(username)s. Choose your password to finish.", username=user.username),
    )


def _link_queued(form, purpose: str, message: str):
    """Queue a mailed link for the name typed, whatever it is (the worker looks it up), and give the
    one answer known and unknown names share."""
    password_resets.request_reset(g.agency, form.username.data, request.remote_addr, purpose=purpose)
    flash(message, "info")
    return redirect_page(url_for("auth.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@sign_in_limit
def forgot():
    form = ForgotForm()
    if form.validate_on_submit():
        if request.form.get("method") == "question" and g.agency.security_questions_enabled:
            return redirect_page(url_for("auth.forgot_question", username=form.username.data))
        return _link_queued(
            form,
            LinkPurpose.RESET,
            _(
                "If that account has an e-mail address, we have sent a link to reset the password. "
                "It works once, for one hour."
            ),
        )
    return render_form("auth/forgot.html", fragment="auth/_forgot_form.html", form=form)


@bp.route("/login/email", methods=["GET", "POST"])
@public
@sign_in_limit
def email_link():
    """ "E-mail me a sign-in link": queued whatever the name, answered alike (see password_resets)."""
    if not g.agency.email_sign_in_enabled:
        abort(404)
    form = ForgotForm()
    if form.validate_on_submit():
        return _link_queued(
            form,
            LinkPurpose.SIGN_IN,
            _(
                "If that account has a confirmed e-mail address, we have sent it a sign-in link. "
                "It works once, for 15 minutes."
            ),
        )
    return render_form("auth/email_link.html", fragment="auth/_email_link_form.html", form=form)


@bp.route("/login/link/<token>", methods=["GET", "POST"])
@public
@sign_in_limit
def link_sign_in(token):
    """The link from the mail. Opening it shows a button; only pressing it signs in, so a mail
    program that opens links to check them does not use it up."""
    user = user_for_token(token, "sign_in", g.agency.id)
    if user is None or not password_resets.may_sign_in_by_link(g.agency, user):
        return render_page("auth/link_invalid.html", status=404)
    form = Form()
    if form.validate_on_submit():
        spend_tokens(user, "sign_in")
        audit.record("token.used", actor=user, purpose="sign_in")
        if user.totp_secret:  # the link stands in for the password, never for the code
            begin_two_step(user, url_for("dashboard.index"))
            return redirect_page(url_for("auth.two_step"))
        services.complete_sign_in(user)
        start_session(user)
        if user.must_change_password:
            return done(
                _("Welcome. Please choose your own password before you continue."),
                url_for("auth.change_password"),
                category="info",
            )
        return redirect_page(url_for("dashboard.index"))
    return render_page("auth/link_sign_in.html", form=form, user=user)


@bp.route("/password/forgot/question", methods=["GET", "POST"])
@public
@question_limit
def forgot_question():
    """Every login name gets the same-looking page: its own question, or a stable decoy."""
    if not g.agency.security_questions_enabled:
        return redirect(url_for("auth.forgot"))
    username = request.values.get("username", "").strip()
    if not username:
        return redirect(url_for("auth.forgot"))
    form = SecurityAnswerForm(username=username)
    challenge = services.security_challenge(g.agency, username)
    exhausted = challenge.exhausted  # as it stood when the page was asked for
    if not exhausted and form.validate_on_submit():
        user = services.answer_security_question(g.agency, challenge, form.answer.data)
        _keep_changes()
        if user is not None:
            return redirect_page(url_for("auth.reset", token=password_resets.issue_reset_token(user)))
        form.answer.errors.append(_("That answer does not match."))
    return render_form(
        "auth/forgot_question.html",
        form=form,
        # The stored question is the English text of a choice; show it in the reader's language.
        question=_(challenge.question),
        exhausted=exhausted,
    )


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
def reset(token):
    user = user_for_token(token, "reset", g.agency.id)
    if user is None:
        return render_page("auth/link_invalid.html", status=404)
    form = _new_password_form(NewPasswordForm, user)
    if form.validate_on_submit():
        services.set_password(user, form.new_password.data, how="reset link", **_question_fields(form))
        audit.record("token.used", actor=user, purpose="reset")
        end_session()
        return done(_("Your password has been reset. Please sign in with it."), url_for("auth.login"))
    return render_form(
        "auth/choose_password.html",
        fragment="auth/_password_form.html",
        form=form,
        user=user,
        title=_("Choose a new password"),
        intro=_("Login name: %(username)s", username=user.username),
    )


@bp.route("/login/two-step", methods=["GET", "POST"])
@public
@sign_in_limit
def two_step():
    user, next_url = pending_two_step_user()
    if user is None:
        return done(_("Please sign in again."), url_for("auth.login"), category="info")
    form = TwoStepCodeForm()
    if form.validate_on_submit():
        if services.verify_two_step(user, form.code.data):
            start_session(user)
            if user.must_change_password:
                return redirect_page(url_for("auth.change_password"))
            return redirect_page(_safe_next(next_url))
        _keep_changes()
        form.code.errors.append(
            _("That code is not right. Codes change every 30 seconds; try the newest one.")
        )
    return render_form("auth/two_step.html", fragment="auth/_two_step_form.html", form=form)


@bp.route("/two-step", methods=["GET", "POST"])
@login_required
@sign_in_limit
def two_step_setup():
    """Switch two-step sign-in on (scan or type the key, confirm a code) or off (with the password).

    Staff whose agency requires two-step confirm by e-mail first (`two_step_confirm`): on a session
    that only proved the password, enrolling an app would let a password thief in for good.
    """
    user = current_user._get_current_object()
    required = two_step_required(g.agency, user)
    code_form, off_form = TwoStepCodeForm(), TwoStepOffForm()
    needs_mail = required and user.totp_secret is None and not _enrolment_confirmed(user)
    secret = None
    if user.totp_secret is None and not needs_mail:
        secret = session.get("totp_pending") or services.new_totp_secret()
        session["totp_pending"] = secret
        if code_form.validate_on_submit():
            if services.totp_matches(user, code_form.code.data, secret):
                services.enable_two_step(user, secret)
                session.pop("totp_pending", None)
                session.pop("two_step_enrol", None)
                return done(
                    _("Two-step sign-in is on. You will need your app each time you sign in."),
                    url_for("auth.two_step_setup"),
                )
            code_form.code.errors.append(
                _("That code does not match. Check the key and try the newest code.")
            )
    elif user.totp_secret is not None and not required and off_form.validate_on_submit():
        refused = services.reauthenticate(user, off_form.password.data)
        if refused is None:
            services.disable_two_step(user)
            return done(_("Two-step sign-in is off."), url_for("auth.two_step_setup"))
        off_form.password.errors.append(_(refused))
        audit.record("two_step.disable_failed", actor=user)
        _keep_changes()
    return render_form(
        "auth/two_step_setup.html",
        code_form=code_form,
        off_form=off_form,
        required=required,
        needs_mail=needs_mail,
        mail_form=Form(),
        secret=secret,
        uri=services.totp_uri(user, secret) if secret else None,
    )


def _enrolment_confirmed(user) -> bool:
    confirmed = session.get("two_step_enrol") or {}
    fresh = utcnow().timestamp() - confirmed.get("at", 0) < ENROLMENT_WINDOW_SECONDS
    return fresh and confirmed.get("user") == user.get_id()


@bp.route("/two-step/confirm", methods=["POST"])
@login_required
@sign_in_limit
def two_step_send_confirmation():
    """Mail the signed-in staff member a link that unlocks enrolling an authenticator app."""
    user = current_user._get_current_object()
    if Form().validate_on_submit():
        session["two_step_enrol_nonce"] = nonce = secrets.token_urlsafe(16)
        if services.send_two_step_enrolment_link(g.agency, user, nonce):
            flash(
                _("We sent a link to %(email)s. Open it within 15 minutes to continue.", email=user.email),
                "info",
            )
        else:
            flash(_("Your account has no e-mail address. Ask the agency's owner to add one."), "error")
    return redirect_page(url_for("auth.two_step_setup"))


@bp.route("/two-step/confirm/<token>")
@login_required
def two_step_confirm(token):
    """The e-mailed link: valid 15 minutes, once, for the account and the session that asked for it."""
    user = current_user._get_current_object()
    nonce = session.get("two_step_enrol_nonce")
    owner = user_for_token(token, "two_step_enrol", g.agency.id, bound_to=nonce) if nonce else None
    if owner is None or owner.id != user.id:
        return render_page("auth/link_invalid.html", status=404)
    session.pop("two_step_enrol_nonce")
    session["two_step_enrol"] = {"user": user.get_id(), "at": utcnow().timestamp()}
    audit.record("two_step.enrolment_confirmed", actor=user)
    return done(_("Thank you. You can now set up your authenticator app."), url_for("auth.two_step_setup"))


@bp.route("/logo")
@public
def logo():
    """The agency's logo, for every page's header (sign-in pages too). The pages link it with
    `?v=<stored file id>`, so a new logo is a new address and the old one may be cached for long."""
    stored = storage.get(g.agency, g.agency.logo_file_id)
    try:
        data = storage.read(stored) if stored else b""
    except (OSError, storage.StoredFileDamaged):
        current_app.logger.exception("agency %s: stored logo %s unreadable", g.agency.id, stored.id)
        data = b""
    mimetype = storage.image_type(data)  # from the bytes: only JPEG, PNG and WebP are served
    if mimetype is None:
        abort(404)
    response = make_response(data)
    response.mimetype = mimetype
    response.headers["Content-Disposition"] = "inline"
    if request.args.get("v") == str(stored.id):
        response.cache_control.public = True
        response.cache_control.max_age = 365 * 24 * 3600
        response.cache_control.immutable = True
    else:
        response.cache_control.no_cache = True
    return response
