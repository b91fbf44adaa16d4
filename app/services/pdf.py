"""PDFs from HTML templates (schedules, invoices, signed visit records) via xhtml2pdf.

A PDF template is a dedicated print template, rendered by Jinja like any page and turned into a
PDF here. The renderer may read files from app/static only (the embedded DejaVu fonts):
`link_callback` maps `/static/...` and relative names into that folder and turns everything else
into a name that cannot be read, and xhtml2pdf's resource policy — confined to the same folder,
no network — refuses whatever slips past the callback. Built-in Helvetica cannot draw "Ł" or "ź",
so templates embed DejaVu Sans with @font-face (see `pdf_fonts.css`).

The agency's logo lives in the private file store, not under static, and the renderer is not
opened to it: `pdf_logo(agency)` (a function every PDF template gets) reads the bytes through the
storage service and hands them to the template inside a `data:` URI, the one kind of URI besides
static files that `link_callback` lets through — and only a base64 PNG or JPEG, which reads no
file and reaches no network.
"""

import base64
import logging
import re
import time
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from PIL import Image, ImageOps
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

from app.services import storage

log = logging.getLogger(__name__)

# A render that takes longer than this is abandoned rather than holding a worker.
MAX_RENDER_SECONDS = 60

# The agency's logo: a PNG or JPEG (read from its bytes, not from what the row says), drawn within
# this box in CSS pixels (240 × 72 px = 2.5 × 0.75 in) with its proportions kept. Every render
# embeds the image at a cost that grows with its bytes (reportlab encodes them in pure Python), so
# the logo is first made print-sized — at most twice the box (about 190 dpi), flattened onto the
# white page, a PNG still heavy after that (a photograph) turned JPEG — once per process and file:
# a drawn logo then adds about 10 ms to a render. A logo past the limits of a profile picture is
# left off (and logged).
LOGO_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}
LOGO_BOX = (240, 72)
LOGO_PIXELS = (LOGO_BOX[0] * 2, LOGO_BOX[1] * 2)
LOGO_QUALITY = 90  # JPEG
MAX_PRINT_PNG_BYTES = 48 * 1024
MAX_LOGO_BYTES = 5 * 1024 * 1024
MAX_LOGO_PIXELS = 25_000_000
_PREPARED_LOGOS: dict[str, "PdfLogo"] = {}  # sha256 of the stored bytes → the logo to draw
_PREPARED_LOGOS_KEPT = 32
# The only URIs besides static files a PDF template may name: inline base64 PNG and JPEG images.
_IMAGE_DATA_URI = re.compile(r"data:image/(?:png|jpeg);base64,[A-Za-z0-9+/]+={0,2}")


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
    bare relative names such as `fonts/x.ttf`, and passes a base64 PNG or JPEG `data:` URI (the
    logo, see `pdf_logo`) through untouched. Other `data:` URIs, remote URLs, `file:` URLs,
    absolute paths elsewhere and `..` escapes all come back as a path that does not exist, so the
    resource is dropped.
    """
    root = static_root()
    refused = str(root / ".refused")
    if str(uri).startswith("data:"):
        return str(uri) if _IMAGE_DATA_URI.fullmatch(str(uri)) else refused
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


@dataclass(frozen=True)
class PdfLogo:
    """An image ready for `<img src="{{ logo.uri }}" width="{{ logo.width }}" height="{{ logo.height }}">`."""

    uri: str
    width: int  # CSS pixels
    height: int


def pdf_logo(agency) -> PdfLogo | None:
    """The agency's logo, print-sized, as a `data:` URI and the size that fits `LOGO_BOX` (never
    enlarged); None when it has none, or when the file is missing, damaged, not a PNG or JPEG or
    too large (logged: the PDF prints without it rather than failing). The stored bytes are read
    and checked against their hash every time; only the resizing is remembered."""
    stored = storage.get(agency, agency.logo_file_id) if agency is not None else None
    if stored is None:
        return None
    try:
        if stored.size_bytes > MAX_LOGO_BYTES:
            raise ValueError(f"{stored.size_bytes} bytes")
        data = storage.read(stored)
        logo = _PREPARED_LOGOS.get(stored.sha256) or _prepare_logo(data)
    except Exception as error:  # noqa: BLE001 - a missing or damaged file, decoders' many errors: no logo
        log.warning("logo %s of agency %s left off the PDF: %s", stored.id, agency.id, error)
        return None
    if stored.sha256 not in _PREPARED_LOGOS:
        while len(_PREPARED_LOGOS) >= _PREPARED_LOGOS_KEPT:
            _PREPARED_LOGOS.pop(next(iter(_PREPARED_LOGOS)), None)
        _PREPARED_LOGOS[stored.sha256] = logo
    return logo


def _prepare_logo(data: bytes) -> PdfLogo:
    """Decode a PNG or JPEG (only those decoders see it), turn it upright, flatten it onto white,
    shrink it to `LOGO_PIXELS` and encode it again in its own format."""
    kind = storage.image_type(data)
    if kind not in LOGO_FORMATS:
        raise ValueError(f"not a PNG or JPEG ({kind})")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(BytesIO(data), formats=[LOGO_FORMATS[kind]]) as image:
            width, height = image.size  # from the header: nothing decoded yet
            if not 0 < width * height <= MAX_LOGO_PIXELS:
                raise ValueError(f"{width}×{height} pixels")
            image.draft("RGB", LOGO_PIXELS)  # a JPEG decodes at a fraction of its size
            image = ImageOps.exif_transpose(image)
            width, height = image.size
            image = image.convert("RGBA")
    page = Image.new("RGB", image.size, "white")
    page.paste(image, mask=image.getchannel("A"))
    page.thumbnail(LOGO_PIXELS, Image.Resampling.LANCZOS)
    out = BytesIO()
    if kind == "image/png":
        page.save(out, "PNG")
    if kind == "image/jpeg" or out.tell() > MAX_PRINT_PNG_BYTES:  # a photograph saved as PNG
        kind, out = "image/jpeg", BytesIO()
        page.save(out, "JPEG", quality=LOGO_QUALITY)
    scale = min(LOGO_BOX[0] / width, LOGO_BOX[1] / height, 1)
    return PdfLogo(
        f"data:{kind};base64,{base64.b64encode(out.getvalue()).decode('ascii')}",
        max(1, round(width * scale)),
        max(1, round(height * scale)),
    )


def render_pdf(template: str, **context) -> bytes:
    """Render a Jinja template and turn it into PDF bytes. The template may call
    `pdf_logo(agency)` for the agency's logo."""
    return html_to_pdf(render_template(template, pdf_logo=pdf_logo, **context))
