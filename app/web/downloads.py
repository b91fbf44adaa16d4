"""A shared document as the browser receives it, for the portal and the office alike."""

from flask import abort, current_app, g, make_response

from app.services import documents, storage
from app.services.record_views import DOCUMENT, record_view


def document_download(document, viewer):
    """The file as an attachment, of the type read from its bytes at upload, never sniffed again by
    the browser, kept by no shared cache; recorded in the client's "who viewed my record" log.
    404 when its bytes are gone or damaged (logged)."""
    stored = documents.stored_file_of(g.agency, document)
    if stored is None:
        abort(404)
    try:
        data = storage.read(stored)
    except (OSError, storage.StoredFileDamaged):
        current_app.logger.exception("document %s: stored file %s unreadable", document.id, stored.id)
        abort(404)
    record_view(DOCUMENT, viewer, document.client_id, document, label=document.title)
    response = make_response(data)
    response.headers.update(documents.download_headers(document.filename, stored.content_type))
    return response
