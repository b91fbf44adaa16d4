"""Static files: served by WhiteNoise, precompressed, fingerprinted and cached for a year.

WhiteNoise answers /static/... in front of Flask, choosing the smallest copy the client accepts:
`x.css.br`, `x.css.gz` (built at install by `compress_static`, see the Makefile) or `x.css`.
Flask-Compress, which squeezes dynamic pages on the fly, never offers gzip for a streamed file
such as send_file's (its streaming algorithms are zstd, br and deflate), and a precompressed copy
costs nothing per request.

Every file is also served under a name carrying its content hash, `css/app.3f2a1b9c0d4e.css`,
which `url_for('static', ...)` produces; that name changes whenever the content does, so it is
cached for a year as immutable. The plain name keeps working (PDF templates, links from outside)
with a short cache. A name with any other hash is not found: a page that asks for it predates a
deploy, and serving today's file under yesterday's immutable name would let a cache keep the pair.

WhiteNoise reads the folder when the app starts: a changed static file needs a restart (`make run`
also rebuilds its compressed copies). A compressed copy not stamped with its file's modification
time is stale and never served.
"""

import hashlib
import logging
import os
import posixpath
import sys
import tempfile
from pathlib import Path

from flask import abort
from whitenoise import WhiteNoise
from whitenoise.base import scantree
from whitenoise.compress import Compressor

from app.web.security import BASE_HEADERS

log = logging.getLogger(__name__)

ONE_YEAR = 365 * 24 * 3600
PLAIN_MAX_AGE = 60  # seconds: an unfingerprinted URL picks up a deploy within a minute
FINGERPRINT_LENGTH = 12
COMPRESSED_SUFFIXES = (".br", ".gz")
# Not worth compressing: formats that are compressed already, and fonts, which only the PDF
# renderer reads (from disk) and which take seconds to squeeze with brotli.
UNCOMPRESSED_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "ttf", "otf")
COMPRESSOR = Compressor(extensions=UNCOMPRESSED_EXTENSIONS, quiet=True)
SQUEEZE = {".br": COMPRESSOR.compress_brotli, ".gz": COMPRESSOR.compress_gzip}


def fingerprinted_name(filename: str, digest: str) -> str:
    """`css/app.css` -> `css/app.<digest>.css`."""
    folder, name = posixpath.split(filename)
    stem, extension = posixpath.splitext(name)
    return posixpath.join(folder, f"{stem}.{digest}{extension}")


def _is_fresh(copy: os.stat_result, source: os.stat_result) -> bool:
    # A compressed copy carries its source's modification time (see compress_static).
    return copy.st_mtime_ns == source.st_mtime_ns


class StaticFiles(WhiteNoise):
    """WhiteNoise that also answers each file's fingerprinted name, immutable for a year."""

    FOREVER = ONE_YEAR  # WhiteNoise's own is ten years; a year is HTTP's customary ceiling

    def __init__(self, application, root: str, prefix: str):
        self.fingerprinted: dict[str, str] = {}  # "css/app.css" -> "css/app.<hash>.css"
        self.sources: dict[str, str] = {}  # and back
        self.immutable_urls: set[str] = set()
        super().__init__(
            application,
            root=root,
            prefix=prefix,
            max_age=PLAIN_MAX_AGE,
            allow_all_origins=False,
            add_headers_function=_add_security_headers,
        )

    # WhiteNoise.add_files calls this once per folder at start-up to fill `self.files`.
    def update_files_dictionary(self, root, prefix):
        stat_cache = dict(scantree(root))
        for path in [p for p in stat_cache if p.endswith(COMPRESSED_SUFFIXES)]:
            source = stat_cache.get(path[:-3])
            if source is None or not _is_fresh(stat_cache[path], source):
                # Leaving it out of the cache means WhiteNoise neither serves it nor offers it.
                log.warning("ignoring stale compressed copy %s (`make install` rebuilds it)", path)
                del stat_cache[path]
        for path in list(stat_cache):
            if path.endswith(COMPRESSED_SUFFIXES):
                continue  # served in place of its source, never under its own name
            relative = path[len(root) :].replace(os.sep, "/")
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:FINGERPRINT_LENGTH]
            fingerprinted = fingerprinted_name(relative, digest)
            self.fingerprinted[relative] = fingerprinted
            self.sources[fingerprinted] = relative
            self.immutable_urls.add(prefix + fingerprinted)
            self.add_file_to_dictionary(prefix + relative, path, stat_cache=stat_cache)
            self.add_file_to_dictionary(prefix + fingerprinted, path, stat_cache=stat_cache)

    def immutable_file_test(self, path, url):
        return url in self.immutable_urls


def _add_security_headers(headers, path, url) -> None:
    # WhiteNoise answers before Flask, so its answers miss the after_request headers.
    for name, value in BASE_HEADERS.items():
        headers[name] = value


def _server_sets_date(wsgi_app):
    """Drop the Date header the app adds (werkzeug's make_conditional, used by send_file,
    Flask-Compress and the calendar feed): the server adds its own, and two confuse caches."""

    def application(environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, [(k, v) for k, v in headers if k.lower() != "date"], exc_info)

        return wsgi_app(environ, start)

    return application


def init_assets(app) -> None:
    """Put WhiteNoise in front of the app (outside ProxyFix: serving a file needs no client address)."""
    static = StaticFiles(_server_sets_date(app.wsgi_app), root=app.static_folder, prefix=app.static_url_path)
    app.wsgi_app = static
    app.extensions["static_files"] = static
    # Every static file is WhiteNoise's; a /static/ URL that reaches Flask names none (404 page).
    # Flask's own view would open any file under the folder, a compressed copy or one added later.
    app.view_functions["static"] = _not_found

    @app.url_defaults
    def _fingerprint(endpoint, values):
        if endpoint == "static" and "filename" in values:
            values["filename"] = static.fingerprinted.get(values["filename"], values["filename"])


def _not_found(filename):
    abort(404)


def compress_static(root: str | Path) -> list[Path]:
    """Bring the .br and .gz copies under root up to date; return the copies written.

    A copy is rewritten when it is missing or its modification time differs from its source's;
    a copy whose source is gone, or that would not save 5 %, is removed. Each is written next to
    the folder and renamed into place, so a running server or a second test run (which may be
    scanning the folder) never meets half a file.
    """
    root = os.path.abspath(root)
    written = []
    for path, stat in scantree(root):
        if path.endswith(COMPRESSED_SUFFIXES):
            if not os.path.exists(path[:-3]):
                Path(path).unlink(missing_ok=True)
            continue
        if not COMPRESSOR.should_compress(path):
            continue
        data = None
        for suffix, squeeze in SQUEEZE.items():
            copy = path + suffix
            if os.path.exists(copy) and _is_fresh(os.stat(copy), stat):
                continue
            if data is None:
                data = Path(path).read_bytes()
            compressed = squeeze(data)
            if len(compressed) > 0.95 * len(data):
                Path(copy).unlink(missing_ok=True)
                continue
            fd, temporary = tempfile.mkstemp(dir=os.path.dirname(root), prefix=".compress-static-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(compressed)
                os.chmod(temporary, 0o644)
                os.utime(temporary, ns=(stat.st_atime_ns, stat.st_mtime_ns))
                os.replace(temporary, copy)
            except BaseException:
                os.remove(temporary)
                raise
            written.append(Path(copy))
    return written


if __name__ == "__main__":
    # `python -m app.web.assets app/static` (the Makefile's install step).
    for copy in compress_static(sys.argv[1]):
        print(f"compressed {copy}")
