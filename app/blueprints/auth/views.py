"""Sign-in and password views. Thin: parse the form, call a service, render or redirect."""

from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, login_required

from app.auth.passwords import verify_secret
from app.auth.sessions import begin_two_step, end_session, pending_two_step_user, start_session
from app.auth.tokens import make_token, user_for_token
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
from app.models.user import new_stamp
from app.services import audit
from app.web.htmx import redirect_page, render_page
from app.web.i18n import N_, _

WRONG_CREDENTIALS = N_(
    "That login name and password do not match. After several wrong tries, sign-in pauses for a few minutes."
)


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


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
@limiter.limit(_login_limit, methods=["POST"])
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
                flash(_("Welcome. Please choose your own password before you continue."), "info")
                return redirect_page(url_for("auth.change_password"))
            return redirect_page(_safe_next(request.args.get("next")))
        _keep_changes()
        error = _(WRONG_CREDENTIALS)
    status = 422 if request.method == "POST" else 200
    return render_page(
        "auth/login.html", fragment="auth/_login_form.html", status=status, form=form, error=error
    )


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        user.session_stamp = new_stamp()  # ends this user's sessions everywhere
        audit.record("logout", actor=user)
    end_session(_("You have signed out."))
    return redirect_page(url_for("auth.login"))


def _new_password_form(form_class, user):
    ask = g.agency.security_questions_enabled and not user.security_answer_hash
    return form_class(username=user.username, agency_name=g.agency.name, ask_question=ask)


def _question_fields(form) -> dict:
    if not form.ask_question:
        return {}
    return {"question": form.security_question.data, "answer": form.security_answer.data}


@bp.route("/password/change", methods=["GET", "POST"])
@login_required
def change_password():
    user = current_user._get_current_object()
    form = _new_password_form(ChangePasswordForm, user)
    if form.validate_on_submit():
        if not verify_secret(user.password_hash, form.current_password.data):
            form.current_password.errors.append(_("That is not your current password."))
            audit.record("password.change_failed", actor=user)
            _keep_changes()
        elif verify_secret(user.password_hash, form.new_password.data):
            # A temporary password the office knows must not survive its own "change".
            form.new_password.errors.append(_("Choose a password different from your current one."))
        else:
            services.set_password(user, form.new_password.data, how="change", **_question_fields(form))
            start_session(user)  # this session continues under the new stamp; the others end
            flash(_("Your password has been changed."), "success")
            return redirect_page(url_for("dashboard.index"))
    status = 422 if request.method == "POST" else 200
    return render_page(
        "auth/change_password.html",
        fragment="auth/_password_form.html",
        status=status,
        form=form,
        title=_("Choose your password") if user.must_change_password else _("Change password"),
    )


@bp.route("/welcome/<token>", methods=["GET", "POST"])
def welcome(token):
    user = user_for_token(token, "welcome", g.agency.id)
    if user is None:
        return render_page("auth/link_invalid.html", status=404)
    form = _new_password_form(NewPasswordForm, user)
    if form.validate_on_submit():
        services.set_password(user, form.new_password.data, how="welcome link", **_question_fields(form))
        audit.record("token.used", actor=user, purpose="welcome")
        start_session(user)
        flash(_("Welcome! Your password is set."), "success")
        return redirect_page(url_for("dashboard.index"))
    status = 422 if request.method == "POST" else 200
    return render_page(
        "auth/choose_password.html",
        fragment="auth/_password_form.html",
        status=status,
        form=form,
        user=user,
        title=_("Welcome, %(name)s", name=user.first_name),
        intro=_("Your login name is %(username)s. Choose your password to finish.", username=user.username),
    )


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def forgot():
    form = ForgotForm()
    if form.validate_on_submit():
        user = services.find_user(form.username.data)
        if request.form.get("method") == "question" and g.agency.security_questions_enabled:
            return redirect_page(url_for("auth.forgot_question", username=form.username.data))
        if user is not None:
            services.send_reset_link(user)
        flash(
            _(
                "If that account has an e-mail address, we have sent a link to reset the password. "
                "It works once, for one hour."
            ),
            "info",
        )
        return redirect_page(url_for("auth.login"))
    status = 422 if request.method == "POST" else 200
    return render_page("auth/forgot.html", fragment="auth/_forgot_form.html", status=status, form=form)


@bp.route("/password/forgot/question", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def forgot_question():
    if not g.agency.security_questions_enabled:
        return redirect(url_for("auth.forgot"))
    username = request.values.get("username", "")
    form = SecurityAnswerForm(username=username)
    user = services.find_user(username)
    question = user.security_question if user is not None and user.security_answer_hash else None
    exhausted = (
        user is not None
        and user.security_failed_attempts >= current_app.config["SECURITY_ANSWER_MAX_ATTEMPTS"]
    )
    if question and not exhausted and form.validate_on_submit():
        ok = services.check_security_answer(user, form.answer.data)
        _keep_changes()
        if ok:
            return redirect_page(url_for("auth.reset", token=make_token(user, "reset")))
        form.answer.errors.append(_("That answer does not match."))
    status = 422 if request.method == "POST" else 200
    return render_page(
        "auth/forgot_question.html",
        status=status,
        form=form,
        # The stored question is the English text of a choice; show it in the reader's language.
        question=_(question) if question else None,
        exhausted=exhausted,
    )


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset(token):
    user = user_for_token(token, "reset", g.agency.id)
    if user is None:
        return render_page("auth/link_invalid.html", status=404)
    form = _new_password_form(NewPasswordForm, user)
    if form.validate_on_submit():
        services.set_password(user, form.new_password.data, how="reset link", **_question_fields(form))
        audit.record("token.used", actor=user, purpose="reset")
        end_session()
        flash(_("Your password has been reset. Please sign in with it."), "success")
        return redirect_page(url_for("auth.login"))
    status = 422 if request.method == "POST" else 200
    return render_page(
        "auth/choose_password.html",
        fragment="auth/_password_form.html",
        status=status,
        form=form,
        user=user,
        title=_("Choose a new password"),
        intro=_("Login name: %(username)s", username=user.username),
    )


@bp.route("/login/two-step", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def two_step():
    user, next_url = pending_two_step_user()
    if user is None:
        flash(_("Please sign in again."), "info")
        return redirect_page(url_for("auth.login"))
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
    status = 422 if request.method == "POST" else 200
    return render_page("auth/two_step.html", fragment="auth/_two_step_form.html", status=status, form=form)


@bp.route("/two-step", methods=["GET", "POST"])
@login_required
def two_step_setup():
    """Switch two-step sign-in on (scan or type the key, confirm a code) or off (with the password)."""
    user = current_user._get_current_object()
    required = user.is_staff and g.agency.staff_two_factor_required
    code_form, off_form = TwoStepCodeForm(), TwoStepOffForm()
    if user.totp_secret is None:
        secret = session.get("totp_pending") or services.new_totp_secret()
        session["totp_pending"] = secret
        if code_form.validate_on_submit():
            if services.totp_matches(user, code_form.code.data, secret):
                services.enable_two_step(user, secret)
                session.pop("totp_pending", None)
                flash(_("Two-step sign-in is on. You will need your app each time you sign in."), "success")
                return redirect_page(url_for("auth.two_step_setup"))
            code_form.code.errors.append(
                _("That code does not match. Check the key and try the newest code.")
            )
    else:
        secret = None
        if not required and off_form.validate_on_submit():
            if verify_secret(user.password_hash, off_form.password.data):
                services.disable_two_step(user)
                flash(_("Two-step sign-in is off."), "success")
                return redirect_page(url_for("auth.two_step_setup"))
            off_form.password.errors.append(_("That is not your password."))
            audit.record("two_step.disable_failed", actor=user)
            _keep_changes()
    status = 422 if request.method == "POST" else 200
    return render_page(
        "auth/two_step_setup.html",
        status=status,
        code_form=code_form,
        off_form=off_form,
        required=required,
        secret=secret,
        uri=services.totp_uri(user, secret) if secret else None,
    )
