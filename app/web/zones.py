"""Time zones as people say them: one short list with translated names, used by every screen.

Stored values stay IANA names ("America/Chicago"); people only ever read "Central time". The office
and each family member choose from this list. A zone already stored that is not on it (an agency
set up with "America/Indiana/Indianapolis", say) stays valid and is named after the listed zone
keeping the same clock ("Eastern time (Indianapolis)"), else by the place name CLDR gives it.
"""

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import get_timezone_location
from flask_babel import get_locale

from app.i18n import _, _l

# As they read after a time: "9:00 AM Central time", "9:00 a. m. hora del centro".
ZONES = (
    ("America/New_York", _l("Eastern time")),
    ("America/Chicago", _l("Central time")),
    ("America/Denver", _l("Mountain time")),
    ("America/Phoenix", _l("Arizona time (no daylight saving)")),
    ("America/Los_Angeles", _l("Pacific time")),
    ("America/Anchorage", _l("Alaska time")),
    ("Pacific/Honolulu", _l("Hawaii time")),
    ("America/Puerto_Rico", _l("Atlantic time (Puerto Rico)")),
    ("America/Mexico_City", _l("Mexico City time")),
    ("Europe/London", _l("UK time")),
    ("Europe/Madrid", _l("Spain time")),
    ("UTC", _l("Universal time (UTC)")),
)
_LABELS = dict(ZONES)


def _same_clock(name: str) -> str | None:
    """The listed zone whose clock agrees with `name` in winter and in summer, if any."""
    year = datetime.now().year
    probes = [datetime(year, 1, 15, 12), datetime(year, 7, 15, 12)]

    def offsets(zone_name: str) -> list:
        zone = ZoneInfo(zone_name)
        return [zone.utcoffset(moment) for moment in probes]

    wanted = offsets(name)
    return next((listed for listed in _LABELS if offsets(listed) == wanted), None)


def zone_label(name: str) -> str:
    """A zone's friendly name in the request's language; never the raw IANA name for a real zone."""
    if name in _LABELS:
        return str(_LABELS[name])
    try:
        twin = _same_clock(name)
    except (ZoneInfoNotFoundError, ValueError):
        return name
    if twin:
        place = name.rsplit("/", 1)[-1].replace("_", " ")
        return _("%(zone)s (%(place)s)", zone=_LABELS[twin], place=place)
    return get_timezone_location(name, locale=get_locale() or "en")


def zone_choices(*keep: str | None) -> list[tuple[str, str]]:
    """The short list for a select box, after any zone in `keep` (a stored value) missing from it."""
    extra = [(name, zone_label(name)) for name in dict.fromkeys(keep) if name and name not in _LABELS]
    return [(name, _capitalized(label)) for name, label in extra] + [
        (name, _capitalized(str(label))) for name, label in ZONES
    ]


def _capitalized(label: str) -> str:
    # "hora del centro" reads well after a time; in a list it starts with a capital.
    return label[:1].upper() + label[1:]
