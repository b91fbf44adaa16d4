"""One-time links. One salt per purpose, a short max age, and the user's token nonce in the payload.

The nonce rotates whenever a link is used or the password changes, so a used link is dead.
The same answer is given whether or not an account exists.
"""

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.models.user import new_stamp

PURPOSES = {
    "welcome": 24 * 3600,  # first sign-in link in the credentials mail
    "reset": 3600,  # forgot-password link
}


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"porchlight-{purpose}")


def make_token(user: User, purpose: str) -> str:
    return _serializer(purpose).dumps({"u": user.id, "a": user.agency_id, "n": user.token_nonce})


def user_for_token(token: str, purpose: str, agency_id: int) -> User | None:
    """The user a valid, unused, unexpired token of this purpose belongs to, or None."""
    try:
        data = _serializer(purpose).loads(token, max_age=PURPOSES[purpose])
    except BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or data.get("a") != agency_id:
        return None
    user = db.session.scalar(select(User).where(User.id == data.get("u"), User.agency_id == agency_id))
    if user is None or not user.is_active or user.is_locked or user.token_nonce != data.get("n"):
        return None
    return user


def spend_tokens(user: User) -> None:
    """Kill every outstanding link of this user."""
    user.token_nonce = new_stamp()
