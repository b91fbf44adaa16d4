"""One-time links. One salt per purpose, a short max age, and a per-purpose user nonce in the payload.

Each purpose has its own nonce, so issuing or using one kind of link never kills another kind
(an anonymous "forgot password" must not cancel an unused welcome link). A nonce rotates when a
link of its kind is used or issued anew, and every nonce rotates when the password changes.
The two-step enrolment link is bound to the session stamp instead: it only works while the
sessions it was sent to are alive.
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
}
ROTATING_NONCES = ("token_nonce", "reset_nonce")


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"porchlight-{purpose}")


def _nonce(user: User, purpose: str) -> str:
    return getattr(user, PURPOSES[purpose][1])


def make_token(user: User, purpose: str) -> str:
    return _serializer(purpose).dumps({"u": user.id, "a": user.agency_id, "n": _nonce(user, purpose)})


def user_for_token(token: str, purpose: str, agency_id: int) -> User | None:
    """The user a valid, unused, unexpired token of this purpose belongs to, or None."""
    max_age = PURPOSES[purpose][0]
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or data.get("a") != agency_id or not isinstance(data.get("u"), int):
        return None
    user = db.session.scalar(select(User).where(User.id == data["u"], User.agency_id == agency_id))
    if user is None or not user.is_active or user.is_locked or _nonce(user, purpose) != data.get("n"):
        return None
    return user


def spend_tokens(user: User, purpose: str | None = None) -> None:
    """Kill the outstanding links of one purpose, or of every purpose (a password change)."""
    attributes = [PURPOSES[purpose][1]] if purpose else ROTATING_NONCES
    for attribute in attributes:
        if attribute in ROTATING_NONCES:
            setattr(user, attribute, new_stamp())
