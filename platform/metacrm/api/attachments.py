"""Attachments of records over HTTP (the file service does the work and the access checks).

* `POST /api/v1/records/<entity>/<id>/attachments` (multipart, part `file`; optional part
  `field` naming a `file` field) -> 201 `{"data": {id, name, size, content_type, sha256,
  ...}}`; the caller must be allowed to update the record;
* `GET …/attachments` -> `{"data": [...]}`;
* `GET …/attachments/<attachment id>/content` streams the bytes (`Content-Disposition:
  attachment` with an RFC 6266/5987 file name, `X-Content-Type-Options: nosniff`);
* `POST …/attachments/<attachment id>/signed-url` `{"expires_in": seconds}` (optional, at
  most 3600) -> `{"data": {"url", "expires_at"}}`: a link anyone holding it may open until
  it expires, while the asker may still read the record;
* `GET /api/v1/files/<token>` — that link (no credentials);
* `DELETE …/attachments/<attachment id>` -> 204 (generated documents: 409).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, request, url_for

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import live_entity, request_subject
from metacrm.api.problems import json_body
from metacrm.api.request_parsing import reject_parameters
from metacrm.files.attachments import Attachment
from metacrm.files.service import MAX_SIGNED_URL_TTL, FileService
from metacrm.kernel.errors import ErrorDetail, ValidationFailed

attachments_api = Blueprint("metacrm_attachments", __name__, url_prefix=API_PREFIX)

MULTIPART_OVERHEAD = 1024 * 1024
"""Room for the multipart framing and small parts on top of the largest file."""


def file_service() -> FileService:
    return web_runtime().services.files


@attachments_api.post("/records/<entity>/<record_id>/attachments")
def upload_attachment(entity: str, record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    service = file_service()
    request.max_content_length = service.max_bytes + MULTIPART_OVERHEAD
    if not (request.mimetype or "").startswith("multipart/form-data"):
        raise ValidationFailed("the upload must be multipart/form-data", [ErrorDetail(
            "send the file as the multipart part 'file'", "/file")])
    parts = request.files.getlist("file")
    if len(parts) != 1:
        raise ValidationFailed("send exactly one file", [ErrorDetail(
            "send the file as the multipart part 'file' (one per request)", "/file")])
    extra = set(request.form) - {"field"}
    if extra:
        raise ValidationFailed("unknown form parts", [ErrorDetail(
            "not a part of an upload", f"/{name}") for name in sorted(extra)])
    field = request.form.get("field") or None
    upload = parts[0]
    item = service.upload(subject, entity, record_id, upload.stream, upload.filename,
                          field=field)
    response = jsonify({"data": item.to_json()})
    response.status_code = 201
    response.headers["Location"] = url_for(
        "metacrm_attachments.attachment_content", entity=entity, record_id=record_id,
        attachment_id=item.id)
    return response


@attachments_api.get("/records/<entity>/<record_id>/attachments")
def list_attachments(entity: str, record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    items = file_service().list(subject, entity, record_id)
    return jsonify({"data": [item.to_json() for item in items]})


@attachments_api.get("/records/<entity>/<record_id>/attachments/<attachment_id>/content")
def attachment_content(entity: str, record_id: str, attachment_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    item, chunks = file_service().open(subject, entity, record_id, attachment_id)
    return download(item, chunks)


@attachments_api.post(
    "/records/<entity>/<record_id>/attachments/<attachment_id>/signed-url")
def attachment_signed_url(entity: str, record_id: str, attachment_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    ttl = _expires_in(json_body() if request.content_length else {})
    token, expires_at = file_service().signed_url_token(subject, entity, record_id,
                                                        attachment_id, ttl)
    url = url_for("metacrm_attachments.signed_download", token=token, _external=True)
    return jsonify({"data": {"url": url,
                             "expires_at": expires_at.isoformat().replace("+00:00", "Z")}})


@attachments_api.get("/files/<token>")
def signed_download(token: str) -> Response:
    reject_parameters(request.args.items(multi=True))
    item, chunks = file_service().open_signed(token)
    return download(item, chunks)


@attachments_api.delete("/records/<entity>/<record_id>/attachments/<attachment_id>")
def delete_attachment(entity: str, record_id: str, attachment_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    file_service().delete(subject, entity, record_id, attachment_id)
    return Response(status=204)


def download(item: Attachment, chunks: Iterator[bytes]) -> Response:
    """A streamed download of `item`: never rendered by the browser, never sniffed."""
    response = Response(chunks, mimetype=item.content_type, direct_passthrough=True)
    response.content_length = item.size
    response.headers["Content-Disposition"] = content_disposition(item.name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["ETag"] = f'"{item.sha256}"'
    return response


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """RFC 6266: an ASCII fallback `filename` and the exact name as RFC 5987 `filename*`."""
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = "".join(c if c.isprintable() and c not in '"\\%;' else "_" for c in fallback)
    fallback = fallback.strip() or "file"
    if fallback.startswith("."):
        fallback = "file" + fallback
    return (f'{disposition}; filename="{fallback}"; '
            f"filename*=UTF-8''{quote(name, safe='')}")


def _expires_in(body: Any) -> timedelta:
    if not isinstance(body, dict) or set(body) - {"expires_in"}:
        raise ValidationFailed("invalid request", [ErrorDetail(
            'must be {"expires_in": <seconds>} or empty', "")])
    seconds = body.get("expires_in", 300)
    limit = int(MAX_SIGNED_URL_TTL.total_seconds())
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= limit:
        raise ValidationFailed("invalid request", [ErrorDetail(
            f"must be a whole number of seconds from 1 to {limit}", "/expires_in")])
    return timedelta(seconds=seconds)
