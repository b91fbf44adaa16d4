"""Jinja filters: money from integer cents, and datetimes in the viewer's time zone."""

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import g
from flask_login import current_user


def money(cents: int | None) -> str:
    cents = cents or 0
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


def viewer_zone() -> ZoneInfo:
    name = None
    if current_user and current_user.is_authenticated:
        name = current_user.time_zone
    agency = g.get("agency")
    return ZoneInfo(name or (agency.time_zone if agency else "UTC"))


def local(moment: datetime | None, fmt: str = "%a %b %-d, %-I:%M %p") -> str:
    if moment is None:
        return ""
    return moment.astimezone(viewer_zone()).strftime(fmt)


def init_formatting(app) -> None:
    app.add_template_filter(money)
    app.add_template_filter(local)
