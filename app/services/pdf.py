"""PDFs from HTML templates (schedules, invoices, signed visit records) via xhtml2pdf.

A PDF template is a dedicated print template, rendered by Jinja like any page and turned into a
PDF here. The renderer may read files from app/static only (the embedded DejaVu fonts, the
agency logo): `link_callback` maps `/static/...` and relative names into that folder and turns
everything else into a name that cannot be read, and xhtml2pdf's resource policy — confined to
the same folder, no network — refuses whatever slips past the callback. Built-in Helvetica
cannot draw "Ł" or "ź", so templates embed DejaVu Sans with @font-face (see `pdf_fonts.css`).
"""

import logging
import time
from io import BytesIO
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

log = logging.getLogger(__name__)

# A render that takes longer than this is abandoned rather than holding a worker.
MAX_RENDER_SECONDS = 60


class PdfError(RuntimeError):
    """xhtml2pdf reported errors while building the document."""


def static_root() -> Path:
    return Path(current_app.static_folder).resolve()


def _source_of(filename: str) -> str:
    """The file behind a fingerprinted static name (`css/app.<hash>.css` → `css/app.css`), from the
    static-file server the web layer set up; other names unchanged."""
    static_files = current_app.extensions.get("static_files")
    return static_files.sources.get(filename, filename) if static_files else filename


def link_callback(uri: str, rel: str | None = None) -> str:
    """Resolve a URI in a PDF template to a file inside app/static, or to nothing.

    Accepts `/static/fonts/x.ttf`, what url_for gives (`/static/fonts/x.<fingerprint>.ttf`) and
    bare relative names such as `fonts/x.ttf`. Remote URLs, `file:` URLs, absolute paths elsewhere and
    `..` escapes all come back as a path that does not exist, so the resource is dropped.
    """
    root = static_root()
    refused = str(root / ".refused")
    parts = urlsplit(str(uri))
    if parts.scheme or parts.netloc:
        return refused
    path = unquote(parts.path)
    static_prefix = (current_app.static_url_path or "/static").rstrip("/") + "/"
    if path.startswith(static_prefix):
        path = _source_of(path[len(static_prefix) :])
    elif path.startswith("/"):
        return refused
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return refused
    return str(candidate)


def _policy() -> ResourceAccessPolicy:
    return ResourceAccessPolicy.server(
        base_dir=static_root(), allow_remote=False, max_render_seconds=MAX_RENDER_SECONDS
    )


def html_to_pdf(html: str) -> bytes:
    """Turn finished HTML into PDF bytes; raises PdfError when xhtml2pdf reports errors."""
    out = BytesIO()
    started = time.perf_counter()
    result = pisa.CreatePDF(
        html,
        dest=out,
        encoding="utf-8",
        link_callback=link_callback,
        resource_policy=_policy(),
    )
    log.info("pdf rendered in %.2fs (%d bytes)", time.perf_counter() - started, out.tell())
    if result.err:
        raise PdfError(f"xhtml2pdf reported {result.err} error(s)")
    return out.getvalue()


def render_pdf(template: str, **context) -> bytes:
    """Render a Jinja template and turn it into PDF bytes."""
    return html_to_pdf(render_template(template, **context))
