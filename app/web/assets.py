"""Fingerprinted static files: url_for('static') adds a content hash, which is cached for a year."""

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import request

ONE_YEAR = 365 * 24 * 3600


@lru_cache(maxsize=256)
def _fingerprint(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    except OSError:
        return None


def init_assets(app) -> None:
    static_folder = Path(app.static_folder)

    @app.url_defaults
    def _add_fingerprint(endpoint, values):
        if endpoint == "static" and "filename" in values and "v" not in values:
            digest = _fingerprint(str(static_folder / values["filename"]))
            if digest:
                values["v"] = digest

    original = app.get_send_file_max_age

    def max_age(filename):
        # Only a URL carrying the current fingerprint may be cached for a year.
        if filename and request.args.get("v") == _fingerprint(str(static_folder / filename)):
            return ONE_YEAR
        return original(filename)

    app.get_send_file_max_age = max_age

    @app.after_request
    def _immutable(response):
        if request.endpoint == "static" and response.cache_control.max_age == ONE_YEAR:
            response.cache_control.public = True
            response.cache_control.immutable = True
        return response
