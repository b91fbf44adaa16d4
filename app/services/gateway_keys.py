"""An agency's payment-gateway keys, sealed for the database and masked for the page.

`seal` encrypts a key with Fernet (AES-128-CBC and HMAC-SHA256) under the deployment's
GATEWAY_KEYS_SECRET, so someone reading the database or a backup does not get the agency's Stripe
keys; `unseal` reads one back for a call to Stripe. The settings page only ever shows `masked`:
the key's kind and its last four characters.
"""

import re

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

_PREFIX = re.compile(r"^(?:(?:sk|rk)_(?:live|test)_|sk_|rk_|whsec_)")


class SealError(ValueError):
    """No usable GATEWAY_KEYS_SECRET, or a stored key it cannot read."""


def _fernet() -> Fernet:
    secret = current_app.config.get("GATEWAY_KEYS_SECRET")
    if not secret:
        raise SealError("GATEWAY_KEYS_SECRET is not configured")
    try:
        return Fernet(secret)
    except (ValueError, TypeError) as error:
        raise SealError("GATEWAY_KEYS_SECRET is not a Fernet key (32 bytes, url-safe base64)") from error


def available() -> bool:
    """Whether keys can be stored here (GATEWAY_KEYS_SECRET is set and well formed)."""
    try:
        _fernet()
    except SealError:
        return False
    return True


def seal(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode("ascii")


def unseal(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as error:
        raise SealError("the stored key cannot be read with this GATEWAY_KEYS_SECRET") from error


def masked(text: str) -> str:
    """ "sk_live_…1234": the kind of key and its last four characters, never more."""
    prefix = _PREFIX.match(text)
    head = prefix.group(0) if prefix else ""
    rest = text[len(head) :]
    return f"{head}…{rest[-4:] if len(rest) > 8 else ''}"


def unseal_or_none(token: str | None) -> str | None:
    """The stored key, or None when there is none or it cannot be read."""
    if not token:
        return None
    try:
        return unseal(token)
    except SealError:
        return None
