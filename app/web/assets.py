"""Fingerprinted static files: url_for('static') adds a content hash, which is cached for a year."""

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from flask import request
from werkzeug.security import safe_join

ONE_YEAR = 365 * 24 * 3600


@lru_cache(maxsize=256)
def _fingerprint(static_folder: str, filename: str) -> str | None:
    # Only regular files inside the static folder: the name may come from a crafted URL, and
    # opening "../../dev/zero" or a pipe would exhaust or hang the worker.
    path = safe_join(static_folder, filename)
    if path is None or not os.path.isfile(path):
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    except OSError:
        return None


def init_assets(app) -> None:
    static_folder = str(Path(app.static_folder))

    @app.url_defaults
    def _add_fingerprint(endpoint, values):
        if endpoint == "static" and "filename" in values and "v" not in values:
            digest = _fingerprint(static_folder, values["filename"])
            if digest:
                values["v"] = digest

    original = app.get_send_file_max_age

    def max_age(filename):
        # Only a URL carrying the current fingerprint may be cached for a year.
        version = request.args.get("v")
        if filename and version and version == _fingerprint(static_folder, filename):
            return ONE_YEAR
        return original(filename)

    app.get_send_file_max_age = max_age

    @app.after_request
    def _immutable(response):
        if request.endpoint == "static" and response.cache_control.max_age == ONE_YEAR:
            response.cache_control.public = True
            response.cache_control.immutable = True
        return response
