"""One-time links. One salt per purpose, a short max age, and a per-purpose user nonce in the payload.

Each purpose has its own nonce, so issuing or using one kind of link never kills another kind
(an anonymous "forgot password" must not cancel an unused welcome link). A nonce rotates when a
link of its kind is used or issued anew, and every nonce rotates when the password changes.
The two-step enrolment link is bound to the session stamp and to a nonce kept in the session that
asked for it (`bound_to`): it works once, in that browser, while that session lives.
The same answer is given whether or not an account exists.
"""

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.models.user import new_stamp

# purpose → (max age in seconds, the User attribute that makes the link single-use)
PURPOSES = {
    "welcome": (24 * 3600, "token_nonce"),  # first sign-in link in the credentials mail
    "reset": (3600, "reset_nonce"),  # forgot-password link
    "two_step_enrol": (15 * 60, "session_stamp"),  # staff: confirm by mail before enrolling an app
    "email_confirm": (24 * 3600, "email_nonce"),  # confirm a new e-mail address (User.pending_email)
    "sign_in": (15 * 60, "sign_in_nonce"),  # "e-mail me a sign-in link"
}
ROTATING_NONCES = ("token_nonce", "reset_nonce", "email_nonce", "sign_in_nonce")


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"porchlight-{purpose}")


def _nonce(user: User, purpose: str) -> str:
    return getattr(user, PURPOSES[purpose][1])


def make_token(user: User, purpose: str, bound_to: str | None = None) -> str:
    payload = {"u": user.id, "a": user.agency_id, "n": _nonce(user, purpose)}
    if bound_to is not None:
        payload["b"] = bound_to
    return _serializer(purpose).dumps(payload)


def user_for_token(token: str, purpose: str, agency_id: int, bound_to: str | None = None) -> User | None:
    """The user a valid, unused, unexpired token of this purpose belongs to, or None. A token made
    with `bound_to` is valid only when given the same value again."""
    max_age = PURPOSES[purpose][0]
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or data.get("a") != agency_id or not isinstance(data.get("u"), int):
        return None
    if data.get("b") != bound_to:
        return None
    user = db.session.scalar(select(User).where(User.id == data["u"], User.agency_id == agency_id))
    if user is None or not user.is_active or user.is_locked or _nonce(user, purpose) != data.get("n"):
        return None
    return user


def spend_tokens(user: User, purpose: str | None = None) -> None:
    """Kill the outstanding links of one purpose with a nonce of its own, or of every such purpose
    (a password change)."""
    attributes = [PURPOSES[purpose][1]] if purpose else ROTATING_NONCES
    if not set(attributes) <= set(ROTATING_NONCES):
        raise ValueError(f"{purpose} links are not spent this way")
    for attribute in attributes:
        setattr(user, attribute, new_stamp())


# --- invitations: a family member's one-time link to choose a login name and password ------------
# Not a user's link (the account does not exist yet): the payload names the invitation, and the
# invitation's own nonce rotates when the link is used, withdrawn or sent anew.

INVITATION_MAX_AGE = 7 * 24 * 3600
_INVITATION_SALT = "porchlight-invitation"


def _invitation_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_INVITATION_SALT)


def make_invitation_token(invitation) -> str:
    return _invitation_serializer().dumps(
        {"i": invitation.id, "a": invitation.agency_id, "n": invitation.nonce}
    )


def invitation_for_token(token: str, agency_id: int):
    """The sent, unused, unexpired invitation of this agency a token names, or None."""
    from app.models import Invitation, utcnow
    from app.models.statuses import InvitationStatus

    try:
        data = _invitation_serializer().loads(token, max_age=INVITATION_MAX_AGE)
    except BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or data.get("a") != agency_id or type(data.get("i")) is not int:
        return None
    if not isinstance(data.get("n"), str) or not 1 <= data["i"] <= 2**31 - 1:
        return None
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.id == data["i"], Invitation.agency_id == agency_id)
    )
    if invitation is None or invitation.status != InvitationStatus.SENT or invitation.nonce != data["n"]:
        return None
    if invitation.expires_at is not None and invitation.expires_at <= utcnow():
        return None
    return invitation
