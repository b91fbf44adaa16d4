"""Documents the agency shares with a client's portal users, and the categories they are kept in.

What a file *is* comes from its bytes, never from its name or the type the browser sent: a PDF
starts with `%PDF-`, a JPEG and a PNG with their signatures, a Word document (DOCX) is a ZIP whose
entries include `[Content_Types].xml` declaring a Word document and `word/document.xml`. The ZIP is
only read, never extracted: its entry count is checked from the end record before the directory is
parsed, and only the small content-types entry is read, to a bound. Anything else is refused with
a message for beside the field (`DocumentRefused`). The type found is the one stored and served.

The bytes go through the storage service (a private directory, never under static/). A file's name
is kept only as the name a download suggests, cleaned of paths, control and direction characters
and cut to a sane length, its extension matching the type found (`safe_filename`);
`content_disposition` spells it for the header, with RFC 5987 `filename*` for a name that is not
ASCII ("Łucja.pdf").

Like every service these take the agency and the acting user, flush, audit and never commit. The
view decides who may upload where (`policies.may_upload_document` in the portal, the office's
admin area); the read queries below serve both the portal's page and the office's.
"""

import io
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from urllib.parse import quote
from xml.etree import ElementTree

from flask import current_app
from flask_babel import format_decimal
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.i18n import _, _l
from app.models import Agency, Client, ClientLink, Document, DocumentCategory, StoredFile, User
from app.services import audit, storage

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# The types we accept and the extensions a download of each may carry (the first is the usual one).
EXTENSIONS = {PDF: (".pdf",), JPEG: (".jpg", ".jpeg"), PNG: (".png",), DOCX: (".docx",)}
TYPE_LABELS = {
    PDF: _l("PDF"),
    JPEG: _l("JPEG image"),
    PNG: _l("PNG image"),
    DOCX: _l("Word document"),
    "text/plain": _l("Text file"),
}
ACCEPT = ",".join([*EXTENSIONS, *(ext for exts in EXTENSIONS.values() for ext in exts)])  # <input accept>

TITLE_MAX = 200  # Document.title
CATEGORY_NAME_MAX = 100  # DocumentCategory.name
FILENAME_MAX = 120  # characters of a stored file name, extension included (the column holds 255)
MAX_ZIP_ENTRIES = 1000  # a Word document has a few dozen
_CONTENT_TYPES_MAX = 256 * 1024  # the largest `[Content_Types].xml` we read
_ZIP_LOCAL = b"PK\x03\x04"
_ZIP_END = b"PK\x05\x06"
_ZIP_TAIL = 22 + 65_535  # the end record and the longest archive comment
_WORD_MAIN = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_RELS_MAX = 256 * 1024  # the largest relationships part we read
# Parts that run code or fetch something when Word opens the file: macros (whatever the part is
# called), ActiveX controls, embedded or linked OLE objects.
_ACTIVE_CONTENT = re.compile(rb"vbaproject|vbadata|macroenabled|activex|oleobject", re.IGNORECASE)
_RESERVED = set('<>:"/\\|?*')  # not in a file name on some system the download lands on
_DEVICE_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(10)), *(f"LPT{n}" for n in range(10))}

CHOOSE_FILE = _l("Choose a file to upload.")
EMPTY = _l("This file is empty. Choose another one.")
NOT_ALLOWED = _l(
    "Choose a PDF, a JPEG or PNG picture, or a Word document (DOCX). This file is none of these, "
    "whatever its name says."
)
NAME_TAKEN = _l("There is already a category with this name.")
NAME_NEEDED = _l("Give the category a name.")


class DocumentRefused(ValueError):
    """Not a file or a name we keep; `message` (translated text) says why, beside the field."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


# --- what a file is --------------------------------------------------------------------------------


def max_bytes() -> int:
    return int(current_app.config["DOCUMENT_MAX_BYTES"])


def size_label(size: int) -> str:
    """A file size as people read it: "640 KB", "2.5 MB" (in the viewer's number format)."""
    if size < 1024 * 1024:
        return _("%(size)s KB", size=format_decimal(max(1, round(size / 1024)), format="#,##0"))
    return _("%(size)s MB", size=format_decimal(size / (1024 * 1024), format="#,##0.#"))


def file_hint() -> str:
    """What an upload field takes, for beside it."""
    return _(
        "A PDF, a JPEG or PNG picture, or a Word document (DOCX), at most %(size)s.",
        size=size_label(max_bytes()),
    )


def type_label(content_type: str) -> str:
    return str(TYPE_LABELS.get(content_type, _("File")))


def sniff_type(data: bytes) -> str | None:
    """The accepted type these bytes are (PDF, JPEG, PNG, DOCX), None for anything else."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(_ZIP_LOCAL) and _is_word_document(data):
        return DOCX
    return None


def _is_word_document(data: bytes) -> bool:
    """A ZIP archive laid out as a Word document (not a template, not one with macros)."""
    end = data.rfind(_ZIP_END, max(0, len(data) - _ZIP_TAIL))
    if end < 0 or end + 22 > len(data):
        return False
    entries = int.from_bytes(data[end + 10 : end + 12], "little")  # the end record's total
    if not 0 < entries <= MAX_ZIP_ENTRIES:
        return False  # 0xFFFF (ZIP64) is beyond the bound too
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                return False
            names = {info.filename for info in infos}
            if "[Content_Types].xml" not in names or "word/document.xml" not in names:
                return False
            if any(_ACTIVE_CONTENT.search(name.encode()) for name in names):
                return False  # a macro-enabled document renamed .docx
            declared = archive.getinfo("[Content_Types].xml")
            if declared.file_size > _CONTENT_TYPES_MAX:
                return False
            with archive.open(declared) as handle:
                content_types = handle.read(_CONTENT_TYPES_MAX + 1)
            for info in infos:
                if info.filename.lower().endswith(".rels") and not _safe_relationships(archive, info):
                    return False
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError):
        return False  # damaged, encrypted, or packed in a way no Word document is
    except (OSError, ValueError, zlib.error):
        return False
    return (
        len(content_types) <= _CONTENT_TYPES_MAX
        and _WORD_MAIN in content_types
        and not _ACTIVE_CONTENT.search(content_types)
    )


def _safe_relationships(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """A relationships part that links no code and nothing outside the file but web links: a
    macro or an ActiveX or OLE part under any name, or a template, frame or picture Word would
    fetch from elsewhere when the file is opened, make the document one we do not keep. Read as
    XML (so character references cannot disguise an attribute), never with a DTD."""
    if info.file_size > _RELS_MAX:
        return False
    with archive.open(info) as handle:
        text = handle.read(_RELS_MAX + 1)
    if len(text) > _RELS_MAX or b"<!" in text:  # a DOCTYPE or ENTITY has no place here
        return False
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return False
    for relationship in root.iter():
        kind = relationship.get("Type", "")
        if _ACTIVE_CONTENT.search(kind.encode()) or _ACTIVE_CONTENT.search(
            relationship.get("Target", "").encode()
        ):
            return False
        if relationship.get("TargetMode", "").lower() == "external" and not kind.endswith("/hyperlink"):
            return False
    return True


def read_upload(upload) -> bytes:
    """The uploaded file's bytes, read to one past the limit (a larger file costs no more, and
    `check_file` refuses it)."""
    if upload is None or not getattr(upload, "filename", None):
        raise DocumentRefused(CHOOSE_FILE)
    return upload.stream.read(max_bytes() + 1)


def check_file(data: bytes) -> str:
    """The type of an acceptable file, read from its bytes; DocumentRefused otherwise."""
    limit = max_bytes()
    if len(data) > limit:
        raise DocumentRefused(
            _("The file is larger than %(size)s. Choose a smaller one.", size=size_label(limit))
        )
    if not data:
        raise DocumentRefused(EMPTY)
    kind = sniff_type(data)
    if kind is None:
        raise DocumentRefused(NOT_ALLOWED)
    return kind


# --- names -----------------------------------------------------------------------------------------


def clean_text(text: str | None) -> str:
    """One line of text a person typed or a browser sent: no control, format (bidi override, zero
    width) or private-use characters, whitespace runs folded to one space."""
    kept = []
    for ch in unicodedata.normalize("NFC", text or ""):
        if ch in "\t\n\v\f\r":
            kept.append(" ")
        elif not unicodedata.category(ch).startswith("C"):
            kept.append(ch)
    return " ".join("".join(kept).split())  # split() also takes the Unicode line separators


def safe_filename(name: str | None, content_type: str) -> str:
    """The name a download of this file suggests: the last part of what the browser sent (no
    folders), cleaned, cut to FILENAME_MAX characters, with an extension that matches its type."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join("_" if ch in _RESERVED else ch for ch in clean_text(name)).strip(" .")
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    allowed = EXTENSIONS.get(content_type, ())
    known = {ext for exts in EXTENSIONS.values() for ext in exts}
    given = f".{extension}" if extension else ""
    extension = given.lower()
    if extension not in allowed:
        if extension and extension not in known:
            stem = f"{stem}{given}"  # "minutes.2024": the dot was part of the name
        extension = allowed[0] if allowed else ""
    stem = stem.strip(" .")[: FILENAME_MAX - len(extension)].rstrip(" .") or "document"
    if stem.split(".", 1)[0].upper() in _DEVICE_NAMES:
        stem = f"_{stem}"[: FILENAME_MAX - len(extension)]
    return f"{stem}{extension}"


def title_from(filename: str) -> str:
    """A title for a file uploaded without one: its name without the extension."""
    stem, dot, _extension = filename.rpartition(".")
    return (stem if dot else filename)[:TITLE_MAX] or filename[:TITLE_MAX]


def content_disposition(filename: str, content_type: str = "") -> str:
    """`attachment; filename="…"` for the download, with RFC 5987 `filename*` when the name is not
    plain ASCII (the ASCII `filename` stays for older programs)."""
    name = safe_filename(filename, content_type) if content_type in EXTENSIONS else _plain_name(filename)
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    fallback = _ascii(stem).strip(" .")
    if not fallback.strip("_"):
        fallback = "document"
    if extension:
        fallback = f"{fallback}.{_ascii(extension)}"
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


# A downloaded file is never a page of ours: opened in the browser, it runs and embeds nothing.
DOWNLOAD_CSP = "default-src 'none'; sandbox"


def download_headers(filename: str, content_type: str) -> dict[str, str]:
    """The headers of a download: the stored type (read from the bytes at upload), as an
    attachment, never sniffed again by the browser, kept by no shared cache nor on disk."""
    return {
        "Content-Type": content_type,
        "Content-Disposition": content_disposition(filename, content_type),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": DOWNLOAD_CSP,
        "Cache-Control": "private, no-store",
    }


def _ascii(text: str) -> str:
    """Plain ASCII letters, digits and a few marks for the `filename` fallback ("Łucja" → "ucja")."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch if ch.isalnum() or ch in " ._()-" else "_" for ch in text)


def _plain_name(name: str) -> str:
    """A stored name of a type we no longer take (the demo's text files): cleaned, its own extension."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join("_" if ch in _RESERVED else ch for ch in clean_text(name)).strip(" .")
    return name[-FILENAME_MAX:] or "document"


# --- documents -------------------------------------------------------------------------------------


def upload(agency: Agency, actor: User, client: Client, category: DocumentCategory, title, file_storage):
    """Keep an uploaded file as the client's document in this category; DocumentRefused, and nothing
    stored, when it is not a file we take. The title defaults to the file's name."""
    if client.agency_id != agency.id or category.agency_id != agency.id:
        raise ValueError("the client and the category must be the agency's")
    data = read_upload(file_storage)
    kind = check_file(data)
    filename = safe_filename(file_storage.filename, kind)
    title = clean_text(title)[:TITLE_MAX] or title_from(filename)
    stored = storage.put(agency, data, kind)
    document = Document(
        agency_id=agency.id,
        client_id=client.id,
        category_id=category.id,
        title=title,
        filename=filename,
        file_id=stored.id,
        uploaded_by_id=actor.id,
    )
    db.session.add(document)
    db.session.flush()
    audit.record(
        "document.uploaded",
        actor=actor,
        target=document,
        client_id=client.id,
        category=category.name,
        title=title,
        filename=filename,
        content_type=kind,
        size_bytes=len(data),
        by=getattr(actor, "role", None),
    )
    return document


def remove(agency: Agency, actor: User, document: Document) -> None:
    """The document is no longer shared; its file goes too unless another row still uses the bytes."""
    if document.agency_id != agency.id:
        raise ValueError("the document must be the agency's")
    stored = storage.get(agency, document.file_id)
    details = {"title": document.title, "filename": document.filename, "category_id": document.category_id}
    client_id = document.client_id
    db.session.delete(document)
    db.session.flush()
    if stored is not None:
        storage.delete(stored)  # after the row: a file still in use elsewhere stays
    audit.record("document.removed", actor=actor, target=document, client_id=client_id, **details)


@dataclass
class DocumentRow:
    """A document with what a list shows of it: its file's type and size, who added it."""

    document: Document
    stored: StoredFile
    uploader: User | None

    @property
    def type_label(self) -> str:
        return type_label(self.stored.content_type)

    @property
    def size_label(self) -> str:
        return size_label(self.stored.size_bytes)

    @property
    def by_family(self) -> bool:
        return self.uploader is not None and not self.uploader.is_staff


@dataclass
class CategoryListing:
    """One category of a client's documents: how many there are, and the newest of them."""

    category: DocumentCategory
    total: int
    rows: list[DocumentRow]


def _rows_statement(client_id: int):
    uploader = aliased(User)
    return (
        select(Document, StoredFile, uploader)
        .join(StoredFile, StoredFile.id == Document.file_id)
        .outerjoin(uploader, uploader.id == Document.uploaded_by_id)
        .where(Document.client_id == client_id)
    )


def categories(agency: Agency, hidden_ids=()) -> list[DocumentCategory]:
    """The agency's categories in its order, without the hidden ones."""
    statement = select(DocumentCategory).where(DocumentCategory.agency_id == agency.id)
    if hidden_ids:
        statement = statement.where(DocumentCategory.id.not_in(list(hidden_ids)))
    return list(db.session.scalars(statement.order_by(*_ORDER)))


def hidden_category_ids(link: ClientLink) -> list[int]:
    return [category.id for category in link.hidden_categories]


def grouped(agency: Agency, client_id: int, shown: list[DocumentCategory], per_category: int):
    """The client's documents in the `shown` categories, by category in that order, newest first,
    at most `per_category` of each with each category's total: one statement whatever the data."""
    if not shown:
        return []
    newest = func.row_number().over(
        partition_by=Document.category_id, order_by=(Document.uploaded_at.desc(), Document.id.desc())
    )
    total = func.count().over(partition_by=Document.category_id)
    ranked = (
        select(Document.id.label("document_id"), newest.label("rank"), total.label("total"))
        .where(
            Document.agency_id == agency.id,
            Document.client_id == client_id,
            Document.category_id.in_([category.id for category in shown]),
        )
        .subquery()
    )
    rows = db.session.execute(
        _rows_statement(client_id)
        .add_columns(ranked.c.total)
        .join(ranked, ranked.c.document_id == Document.id)
        .where(ranked.c.rank <= per_category)
        .order_by(Document.uploaded_at.desc(), Document.id.desc())
    ).all()
    by_category: dict[int, CategoryListing] = {c.id: CategoryListing(c, 0, []) for c in shown}
    for document, stored, uploader, count in rows:
        listing = by_category[document.category_id]
        listing.total = count
        listing.rows.append(DocumentRow(document, stored, uploader))
    return [by_category[c.id] for c in shown]


def category_page(client_id: int, category_id: int | None, page: int, per_page: int):
    """One page of a client's documents (of one category, or all), newest first: (total, rows)."""
    total = func.count().over().label("total")
    statement = _rows_statement(client_id).add_columns(total)
    if category_id is not None:
        statement = statement.where(Document.category_id == category_id)
    rows = db.session.execute(
        statement.order_by(Document.uploaded_at.desc(), Document.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return (rows[0].total if rows else 0), [DocumentRow(d, s, u) for d, s, u, _total in rows]


def stored_file_of(agency: Agency, document: Document) -> StoredFile | None:
    return storage.get(agency, document.file_id)


# --- categories ------------------------------------------------------------------------------------

_ORDER = (DocumentCategory.position, DocumentCategory.name, DocumentCategory.id)


def category_counts(agency: Agency) -> list[tuple[DocumentCategory, int]]:
    """Every category of the agency in its order, with how many documents it holds (all clients)."""
    rows = db.session.execute(
        select(DocumentCategory, func.count(Document.id))
        .outerjoin(Document, Document.category_id == DocumentCategory.id)
        .where(DocumentCategory.agency_id == agency.id)
        .group_by(DocumentCategory.id)
        .order_by(*_ORDER)
    ).all()
    return [(category, count) for category, count in rows]


def _clean_name(agency: Agency, name: str | None, category: DocumentCategory | None = None) -> str:
    name = clean_text(name)[:CATEGORY_NAME_MAX]
    if not name:
        raise DocumentRefused(NAME_NEEDED)
    clash = db.session.scalar(
        select(DocumentCategory.id).where(
            DocumentCategory.agency_id == agency.id,
            func.lower(DocumentCategory.name) == name.lower(),
            DocumentCategory.id != (category.id if category is not None else -1),
        )
    )
    if clash is not None:
        raise DocumentRefused(NAME_TAKEN)
    return name


def add_category(
    agency: Agency, actor: User, name: str, families_may_upload: bool = False
) -> DocumentCategory:
    """A new category, last in the agency's order."""
    name = _clean_name(agency, name)
    last = db.session.scalar(
        select(func.max(DocumentCategory.position)).where(DocumentCategory.agency_id == agency.id)
    )
    category = DocumentCategory(
        agency_id=agency.id,
        name=name,
        position=(last or 0) + 1,
        families_may_upload=bool(families_may_upload),
    )
    db.session.add(category)
    db.session.flush()
    audit.record(
        "document_category.added",
        actor=actor,
        target=category,
        name=name,
        families_may_upload=bool(families_may_upload),
    )
    return category


def rename_category(agency: Agency, actor: User, category: DocumentCategory, name: str) -> bool:
    """A new name for the category (every document in it keeps its place); False when unchanged."""
    name = _clean_name(agency, name, category)
    if name == category.name:
        return False
    before, category.name = category.name, name
    db.session.flush()
    audit.record("document_category.renamed", actor=actor, target=category, before=before, after=name)
    return True


def set_families_may_upload(agency: Agency, actor: User, category: DocumentCategory, allowed: bool) -> bool:
    """Open the category to the families' uploads, or close it; False when unchanged."""
    if bool(category.families_may_upload) == bool(allowed):
        return False
    category.families_may_upload = bool(allowed)
    db.session.flush()
    audit.record("document_category.family_uploads", actor=actor, target=category, allowed=bool(allowed))
    return True


def move_category(agency: Agency, actor: User, category: DocumentCategory, step: int) -> bool:
    """One place earlier (step -1) or later (+1) in the agency's order; False at either end. The
    positions are renumbered 1, 2, 3… on the way, so ties from older data sort out."""
    if step not in (-1, 1):
        raise ValueError("a category moves one place at a time")
    ordered = categories(agency)
    index = next(i for i, each in enumerate(ordered) if each.id == category.id)
    other = index + step
    if not 0 <= other < len(ordered):
        return False
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, each in enumerate(ordered, start=1):
        if each.position != position:
            each.position = position
    db.session.flush()
    audit.record("document_category.moved", actor=actor, target=category, position=other + 1)
    return True


def set_hidden_categories(
    agency: Agency, actor: User, link: ClientLink, hidden: list[DocumentCategory]
) -> bool:
    """The categories of the client's documents this link does not see (the per-link switches);
    False when unchanged."""
    if link.agency_id != agency.id or any(category.agency_id != agency.id for category in hidden):
        raise ValueError("the link and the categories must be the agency's")
    before = sorted(category.id for category in link.hidden_categories)
    after = sorted({category.id for category in hidden})
    if before == after:
        return False
    link.hidden_categories = list({category.id: category for category in hidden}.values())
    db.session.flush()
    audit.record(
        "client_link.document_categories",
        actor=actor,
        target=link,
        client_id=link.client_id,
        hidden=after,
        before=before,
    )
    return True
