"""A portal user's own profile: contact details, e-mail address, profile picture.

Each change takes the agency, the acting user and the user changed explicitly, flushes, audits
(field names only, never the values) and never commits; none reads the request.

- Phone numbers are parsed with `phonenumbers` in the agency's country (read from its time
  zone, see `phone_region`), stored in E.164 (+13125550142) and shown in national format.
- A new e-mail address takes effect only when the link mailed to it is opened: it waits in
  `User.pending_email`, and the old address hears that a change was asked for. Removing the
  address takes effect at once.
- A picture is decoded only when it is a JPEG, PNG or WebP of at most 5 MB and 25 megapixels,
  then re-encoded (orientation applied, at most 512×512, sRGB, no metadata) before it is
  stored: the bytes kept and served are ours, never the upload's.
"""

import io
import re
import warnings
from functools import cache
from importlib import resources

import phonenumbers
from PIL import Image, ImageCms, ImageOps

from app.auth.tokens import make_token, spend_tokens
from app.extensions import db
from app.i18n import _l
from app.models import StoredFile, User, utcnow
from app.services import audit, storage
from app.services.links import agency_url
from app.services.mail import queue_mail

CONTACT_FIELDS = ("first_name", "last_name", "phone", "address")
DEFAULT_REGION = "US"  # the demo agencies, and any zone zone.tab does not name (UTC, US/Central…)
# What the phone field's message shows as an example, per country (else libphonenumber's own).
PHONE_EXAMPLES = {"US": "(312) 555-0142"}
MAX_PHONE_LENGTH = 40  # User.phone

MAX_PICTURE_BYTES = 5 * 1024 * 1024
MAX_PICTURE_PIXELS = 25_000_000
PICTURE_SIZE = (512, 512)
PICTURE_QUALITY = 85
# Only these decoders ever see an upload; the first bytes must agree with the decoder.
PICTURE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# A file that is also a web page or a script (a polyglot) is refused even though we re-encode.
_MARKUP = re.compile(rb"<(?:html|script|svg|iframe|body|object|embed|!doctype|\?php)\b", re.IGNORECASE)
_ZIP_END = b"PK\x05\x06"  # a ZIP archive's end record, which a ZIP reader looks for near the end
_ZIP_TAIL = 65_557  # the end record plus the longest archive comment


class PictureRefused(ValueError):
    """The upload is not a picture we keep; `message` (translatable) says why, beside the field."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


# --- phone numbers -------------------------------------------------------------------------------


@cache
def _zone_countries() -> dict[str, str]:
    """Time zone → ISO country code, from the tz database's zone.tab (tzdata is pinned)."""
    try:
        text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return {}
    countries = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, _coordinates, zone, *_comment = line.split("\t")
            countries[zone] = code
    return countries


def phone_region(agency) -> str:
    """The country whose numbers may be typed without +country code: the agency's, read from its
    time zone (America/Chicago → US); US when the zone names no country."""
    return _zone_countries().get(agency.time_zone or "", DEFAULT_REGION)


def phone_example(region: str) -> str:
    if region in PHONE_EXAMPLES:
        return PHONE_EXAMPLES[region]
    example = phonenumbers.example_number(region)
    if example is None:
        return PHONE_EXAMPLES[DEFAULT_REGION]
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)


def normalize_phone(text: str, region: str) -> str | None:
    """The number in E.164 (+13125550142, an extension kept as +13125550142;ext=12), or None when
    it is no valid phone number (or too long for the column)."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    stored = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if number.extension:
        stored += f";ext={number.extension}"
    return stored if len(stored) <= MAX_PHONE_LENGTH else None


def format_phone(stored: str | None, region: str) -> str:
    """A stored number as people write it: national format at home, international abroad;
    a number that does not parse (typed in by the office before) as it was stored."""
    if not stored:
        return ""
    try:
        number = phonenumbers.parse(stored, region)
    except phonenumbers.NumberParseException:
        return stored
    if not phonenumbers.is_valid_number(number):
        return stored
    home = phonenumbers.region_code_for_number(number) == region
    style = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


# --- contact details and e-mail ------------------------------------------------------------------


def mask_email(address: str) -> str:
    """n***@example.com: enough for the owner to recognise, not enough to learn the address."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def update_contact(agency, actor, user: User, *, email: str | None, **values) -> str | None:
    """Save the contact form: first name, last name, phone (E.164 or None) and postal address at
    once (the names of the fields that changed are audited as `profile.contact_changed`), then the
    e-mail address: None removes it at once, a different one waits for its link (an address
    waiting already stays when the field is left empty on an account without one). Returns what
    became of the address: None (unchanged), "removed" or "pending"."""
    changed = []
    for name in CONTACT_FIELDS:
        value = values[name]
        if isinstance(value, str):
            value = value.strip() or None
        if name in ("first_name", "last_name"):
            value = value or ""
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    if changed:
        audit.record("profile.contact_changed", actor=actor, target=user, changed=changed)
    outcome = None
    if email is None:
        if user.email:
            remove_email(agency, actor, user)
            outcome = "removed"
    elif not (user.email and email.casefold() == user.email.casefold()):
        request_email_change(agency, actor, user, email)
        outcome = "pending"
    db.session.flush()
    return outcome


def request_email_change(agency, actor, user: User, new_email: str) -> None:
    """Keep `new_email` waiting and mail it a 24-hour confirmation link; tell the old address.
    An earlier pending change's link stops working."""
    user.pending_email = new_email
    spend_tokens(user, "email_confirm")
    db.session.flush()
    link = agency_url(agency, "profile.confirm_email", token=make_token(user, "email_confirm"))
    queue_mail(new_email, "email_confirm", agency=agency, locale=user.language, user=user, link=link)
    if user.email:
        queue_mail(
            user.email,
            "email_change_notice",
            agency=agency,
            locale=user.language,
            user=user,
            masked=mask_email(new_email),
        )
    audit.record("profile.email_change_requested", actor=actor, target=user)


def remove_email(agency, actor, user: User) -> None:
    """No e-mail address any more, at once; a pending change and its link go too. The old address
    is told, so someone who took over the account cannot remove it unnoticed."""
    old = user.email
    user.email = None
    user.email_confirmed_at = None
    user.pending_email = None
    spend_tokens(user, "email_confirm")
    db.session.flush()
    if old:
        queue_mail(old, "email_removed_notice", agency=agency, locale=user.language, user=user)
    audit.record("profile.email_removed", actor=actor, target=user)


def cancel_email_change(agency, actor, user: User) -> None:
    """Forget the address waiting for confirmation; its link stops working."""
    user.pending_email = None
    spend_tokens(user, "email_confirm")
    db.session.flush()
    audit.record("profile.email_change_cancelled", actor=actor, target=user)


def confirm_email(agency, actor, user: User) -> str:
    """The confirmation link was opened (and its button pressed): the waiting address becomes the
    account's, confirmed now; the link is spent. Returns the new address."""
    if not user.pending_email:
        raise ValueError("no e-mail address is waiting for confirmation")
    user.email = user.pending_email
    user.email_confirmed_at = utcnow()
    user.pending_email = None
    spend_tokens(user, "email_confirm")
    db.session.flush()
    audit.record("profile.email_confirmed", actor=actor, target=user)
    return user.email


# --- the profile picture -------------------------------------------------------------------------

NOT_A_PICTURE = _l("Choose a photo in JPEG, PNG or WebP format.")
UNREADABLE = _l("This picture could not be read; the file may be damaged or cut short. Try another one.")
TOO_LARGE = _l("The picture is larger than 5 MB. Choose a smaller one.")
TOO_MANY_PIXELS = _l("The picture has more than 25 megapixels. Choose a smaller one.")
HIDDEN_CONTENT = _l("This file contains more than a picture. Save it again as a photo and try once more.")


def _check_container(data: bytes, kind: str) -> None:
    """Refuse a picture that is also something else: markup a browser could run, a ZIP archive
    at its end, or (PNG, WebP) any bytes after the image itself. JPEGs may carry data after
    their end (phones add a second picture or a short video there): the re-encoding drops it."""
    if _MARKUP.search(data) or _ZIP_END in data[-_ZIP_TAIL:]:
        raise PictureRefused(HIDDEN_CONTENT)
    if kind == "image/png":
        end = data.find(b"IEND\xaeB`\x82")
        if end == -1:
            raise PictureRefused(UNREADABLE)
        if end + 8 != len(data):
            raise PictureRefused(HIDDEN_CONTENT)
    elif kind == "image/webp":
        declared = int.from_bytes(data[4:8], "little") + 8
        if declared < len(data):
            raise PictureRefused(HIDDEN_CONTENT)
        if declared > len(data):
            raise PictureRefused(UNREADABLE)


def _to_srgb(image: Image.Image, mode: str) -> Image.Image:
    """The pixels in `mode` (RGB or RGBA), in sRGB as the picture's ICC profile means its colours
    (a wide-gamut phone photo, a CMYK scan); the profile itself is not kept."""
    profile = image.info.get("icc_profile")
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken profile, or one that does not fit the pixels: convert them as they are
    return image.convert(mode)


def _upright(image: Image.Image) -> Image.Image:
    """Turned as the camera's EXIF orientation says; a damaged EXIF block leaves it as it is."""
    try:
        return ImageOps.exif_transpose(image)
    except (ValueError, TypeError, KeyError, OSError, SyntaxError):
        return image


def prepare_picture(data: bytes) -> bytes:
    """The upload re-encoded as a JPEG of at most 512×512 with no metadata; PictureRefused with
    the reason otherwise. The size and the first bytes are checked before any decoder runs, the
    pixel count before the pixels are decoded."""
    if len(data) > MAX_PICTURE_BYTES:
        raise PictureRefused(TOO_LARGE)
    kind = storage.image_type(data)
    if kind is None:
        raise PictureRefused(NOT_A_PICTURE)
    _check_container(data, kind)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[PICTURE_FORMATS[kind]])
        width, height = image.size
        if width < 1 or height < 1:
            raise PictureRefused(UNREADABLE)
        if width * height > MAX_PICTURE_PIXELS:
            raise PictureRefused(TOO_MANY_PIXELS)
        if kind == "image/jpeg":
            image.draft("RGB", PICTURE_SIZE)  # decode at a fraction of the size where the JPEG allows
        image.load()
        image = _to_srgb(_upright(image), "RGBA" if _has_alpha(image) else "RGB")
        image.thumbnail(PICTURE_SIZE, Image.Resampling.LANCZOS)
        if image.mode == "RGBA":  # flattened on white: a JPEG every browser and old tablet shows
            flat = Image.new("RGB", image.size, "white")
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        out = io.BytesIO()
        image.save(out, "JPEG", quality=PICTURE_QUALITY, optimize=True, progressive=True)
    except PictureRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise PictureRefused(TOO_MANY_PIXELS) from error
    except Exception as error:  # noqa: BLE001 - damaged files make decoders raise all sorts of errors
        raise PictureRefused(UNREADABLE) from error
    return out.getvalue()


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def set_picture(agency, actor, user: User, data: bytes) -> StoredFile:
    """Re-encode the upload and make it the user's picture; the previous one is forgotten.
    PictureRefused, and nothing stored, when it is not a picture we keep."""
    prepared = prepare_picture(data)
    stored = storage.put(agency, prepared, "image/jpeg")
    previous = storage.get(agency, user.photo_file_id)
    user.photo_file_id = stored.id
    db.session.flush()
    if previous is not None and previous.id != stored.id:
        storage.delete(previous)  # kept while anything else still uses the same bytes
    audit.record("profile.picture_changed", actor=actor, target=user)
    return stored


def remove_picture(agency, actor, user: User) -> bool:
    """No picture any more; False when there was none."""
    if user.photo_file_id is None:
        return False
    previous = storage.get(agency, user.photo_file_id)
    user.photo_file_id = None
    db.session.flush()
    if previous is not None:
        storage.delete(previous)
    audit.record("profile.picture_removed", actor=actor, target=user)
    return True
