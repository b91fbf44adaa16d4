"""Password hashing (argon2id) and the NIST SP 800-63B-4 rules for a password used alone.

At least 15 characters, at most 128, no composition rules, and refused when it is a common
or breached password (zxcvbn's bundled list of 30,000), a run of repeated or sequential
characters, or contains the login name or the agency name.
"""

import unicodedata

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from app.i18n import _

MIN_LENGTH = 15
MAX_LENGTH = 128
ZXCVBN_MAX = 72
_COMMON = frozenset(FREQUENCY_LISTS["passwords"])


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST"],
        parallelism=config["ARGON2_PARALLELISM"],
        type=Type.ID,
    )


def normalise(secret: str) -> str:
    # NIST: apply NFKC so the same password typed on two keyboards matches.
    return unicodedata.normalize("NFKC", secret)


def hash_secret(secret: str) -> str:
    return _hasher().hash(normalise(secret))


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    if not stored_hash:
        # Spend the same time as a real check, so a missing account does not answer faster.
        _hasher().hash(normalise(secret))
        return False
    try:
        return _hasher().verify(stored_hash, normalise(secret))
    except (VerificationError, InvalidHashError):
        return False


def password_problems(password: str, *, username: str = "", agency_name: str = "") -> list[str]:
    """Reasons a new password is refused, in words a user understands; empty when it is fine."""
    password = normalise(password or "")
    lowered = password.lower()
    if len(password) < MIN_LENGTH:
        return [
            _(
                "Use at least %(min)d characters. Three or four everyday words that do not "
                "belong together are easy to remember and hard to guess.",
                min=MIN_LENGTH,
            )
        ]
    if len(password) > MAX_LENGTH:
        return [_("Use at most %(max)d characters.", max=MAX_LENGTH)]
    compact = "".join(lowered.split())
    if lowered in _COMMON or compact in _COMMON:
        return [_("That password is on a list of common or breached passwords. Choose another.")]
    for word, message in (
        (username, _("Do not use your login name in your password.")),
        (agency_name, _("Do not use the agency's name in your password.")),
    ):
        word = "".join((word or "").lower().split())
        if len(word) >= 4 and word in compact:
            return [message]
    if len(set(compact)) <= 3:
        return [_("Avoid repeating the same few characters.")]
    # zxcvbn refuses more than 72 characters; a strong start makes the whole strong enough.
    result = zxcvbn(password[:ZXCVBN_MAX], user_inputs=[username or "", agency_name or ""])
    if result["score"] < 3:
        return [_("That password is too easy to guess (a pattern or a common phrase). Choose another.")]
    return []
