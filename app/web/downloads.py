"""A shared document and a caregiver's photo as the browser receives them, for the portal and the
office alike."""

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


def caregiver_photo(caregiver):
    """The caregiver's stored photo, of the type read from its bytes (only JPEG, PNG and WebP are
    served), kept by the browser for an hour and by no shared cache. 404 without one; a photo lost
    or damaged on disk is logged (the office must hear of it) and answers 404 too."""
    stored = storage.get(g.agency, caregiver.photo_file_id)
    try:
        photo = storage.read(stored) if stored else b""
    except (OSError, storage.StoredFileDamaged):
        current_app.logger.exception("caregiver %s: stored photo %s unreadable", caregiver.id, stored.id)
        photo = b""
    mimetype = storage.image_type(photo)
    if mimetype is None:
        abort(404)
    response = make_response(photo)
    response.mimetype = mimetype
    response.headers["Content-Disposition"] = "inline"
    response.cache_control.private = True
    response.cache_control.max_age = 3600
    return response
