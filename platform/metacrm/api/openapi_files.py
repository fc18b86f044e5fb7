"""OpenAPI paths and schemas of attachments and generated documents
(`metacrm.api.attachments`, `metacrm.api.documents`)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import errors, json_answer, json_body
from metacrm.api.openapi_schemas import ref
from metacrm.files.service import MAX_SIGNED_URL_TTL
from metacrm.kernel.ids import ID_PATTERN
from metacrm.metadata.model import CompiledModel

Schema = dict[str, Any]
RECORD = "/api/v1/records/{entity}/{record_id}"

FILES_TAG = {"name": "files", "description": "Attachments of records, signed download links "
                                             "and documents generated from templates."}
_NULLABLE_TEXT = {"type": ["string", "null"]}


def file_schemas() -> dict[str, Schema]:
    return {
        "Attachment": {
            "type": "object",
            "required": ["id", "name", "size", "content_type", "sha256", "field", "template",
                         "uploaded_by", "uploaded_at"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "name": {"type": "string", "description": "The file name as uploaded "
                                                          "(directories dropped)."},
                "size": {"type": "integer", "minimum": 0},
                "content_type": {"type": "string",
                                 "description": "Sniffed from the bytes, not the client's "
                                                "word."},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "field": {**_NULLABLE_TEXT, "description": "The file field holding it, or "
                                                           "null for a plain attachment."},
                "template": {**_NULLABLE_TEXT,
                             "description": "Generated from this document template "
                                            "(immutable), or null."},
                "uploaded_by": _NULLABLE_TEXT,
                "uploaded_at": {"type": "string", "format": "date-time"},
            },
        },
        "DocumentRequest": {
            "type": "object", "required": ["id", "status", "attachment", "error"],
            "properties": {
                "id": {"type": "string", "format": "uuid",
                       "description": "The request's id, also the id of the attachment "
                                      "the PDF becomes."},
                "status": {"enum": ["pending", "running", "done", "failed"]},
                "attachment": {"oneOf": [{"type": "null"}, ref("Attachment")]},
                "error": _NULLABLE_TEXT,
            },
        },
        "DocumentOrder": {
            "type": "object", "required": ["template"], "additionalProperties": False,
            "properties": {"template": {"type": "string", "minLength": 1,
                                        "description": "A document template of the "
                                                       "record's entity."}},
        },
    }


def _params(model: CompiledModel, *extra: str) -> list[Schema]:
    params: list[Schema] = [
        {"name": "entity", "in": "path", "required": True,
         "schema": {"type": "string", "enum": sorted(model.entities)}},
        {"name": "record_id", "in": "path", "required": True,
         "description": "Record id (a UUID; any other text names no record: 404).",
         "schema": {"type": "string", "pattern": ID_PATTERN}},
    ]
    for name in extra:
        params.append({"name": name, "in": "path", "required": True,
                       "schema": {"type": "string", "pattern": ID_PATTERN}})
    return params


def _data(schema: Schema) -> Schema:
    return {"type": "object", "required": ["data"], "properties": {"data": schema}}


BINARY = {"description": "The file's bytes, streamed (Content-Disposition: attachment; "
                         "X-Content-Type-Options: nosniff).",
          "content": {"application/octet-stream": {"schema": {"type": "string",
                                                              "format": "binary"}}}}


def file_paths(model: CompiledModel) -> dict[str, Any]:
    """The paths (the signed download only when the model has no entity)."""
    paths = _file_paths(model)
    if not model.entities:
        return {key: value for key, value in paths.items() if not key.startswith(RECORD)}
    return paths


def _file_paths(model: CompiledModel) -> dict[str, Any]:
    tag = {"tags": ["files"]}
    one = f"{RECORD}/attachments/{{attachment_id}}"
    ttl = int(MAX_SIGNED_URL_TTL.total_seconds())
    paths: dict[str, Any] = {
        f"{RECORD}/attachments": {
            "get": {**tag, "operationId": "list_attachments",
                    "summary": "The record's attachments (read access to the record)",
                    "parameters": _params(model),
                    "responses": {"200": json_answer("Oldest first.", _data(
                        {"type": "array", "items": ref("Attachment")})),
                        **errors("401", "403", "404", "422", "429")}},
            "post": {**tag, "operationId": "upload_attachment",
                     "summary": "Attach a file (update access to the record)",
                     "description": "Multipart, the file as part `file`; optional part "
                                    "`field` names a file field of the entity. The content "
                                    "type is sniffed from the bytes; the antivirus hook may "
                                    "refuse the file (422).",
                     "parameters": _params(model),
                     "requestBody": {"required": True, "content": {"multipart/form-data": {
                         "schema": {"type": "object", "required": ["file"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "file": {"type": "string", "format": "binary"},
                                        "field": {"type": "string"}}}}}},
                     "responses": {"201": json_answer("The attachment.",
                                                      _data(ref("Attachment"))),
                                   **errors("401", "403", "404", "409", "413", "422",
                                            "429")}},
        },
        one: {"delete": {**tag, "operationId": "delete_attachment",
                         "summary": "Remove an attachment (update access; generated "
                                    "documents: 409)",
                         "parameters": _params(model, "attachment_id"),
                         "responses": {"204": {"description": "Removed."},
                                       **errors("401", "403", "404", "409", "422", "429")}}},
        f"{one}/content": {"get": {
            **tag, "operationId": "download_attachment",
            "summary": "The attachment's bytes (read access to the record)",
            "parameters": _params(model, "attachment_id"),
            "responses": {"200": BINARY, **errors("401", "403", "404", "422", "429")}}},
        f"{one}/signed-url": {"post": {
            **tag, "operationId": "sign_attachment_url",
            "summary": "A short-lived download link (read access to the record)",
            "description": "Anyone holding the link may download the file until it expires "
                           "and while the asker may still read the record.",
            "parameters": _params(model, "attachment_id"),
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False,
                "properties": {"expires_in": {"type": "integer", "minimum": 1,
                                              "maximum": ttl, "default": 300}}}}}},
            "responses": {"200": json_answer("The link.", _data({
                "type": "object", "required": ["url", "expires_at"],
                "properties": {"url": {"type": "string", "format": "uri"},
                               "expires_at": {"type": "string", "format": "date-time"}}})),
                **errors("400", "401", "403", "404", "415", "422", "429")}}},
        "/api/v1/files/{token}": {"get": {
            **tag, "operationId": "download_signed", "security": [],
            "summary": "Download through a signed link (no credentials)",
            "parameters": [{"name": "token", "in": "path", "required": True,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 400}}],
            "responses": {"200": BINARY, **errors("404", "422", "429")}}},
    }
    if not model.document_templates:
        return paths  # no template: generating a document can never succeed
    return {**paths, **_document_paths(model, tag)}


def _document_paths(model: CompiledModel, tag: Schema) -> dict[str, Any]:
    """Generating PDFs from document templates (none without a template)."""
    return {
        f"{RECORD}/documents": {"post": {
            **tag, "operationId": "generate_document",
            "summary": "Generate a PDF from a document template (read access)",
            "description": "Rendered in the job queue; the PDF becomes an immutable "
                           "attachment of the record whose id is the request's id. "
                           "`Location` is the request's status.",
            "parameters": _params(model),
            "requestBody": json_body(ref("DocumentOrder")),
            "responses": {"202": json_answer("Accepted (or already done, inline queue).",
                                             _data(ref("DocumentRequest"))),
                          **errors("400", "401", "403", "404", "415", "422", "429")}}},
            f"{RECORD}/documents/{{request_id}}": {"get": {
            **tag, "operationId": "document_status",
            "summary": "How a document request stands",
            "parameters": _params(model, "request_id"),
            "responses": {"200": json_answer("The request.", _data(ref("DocumentRequest"))),
                          **errors("401", "403", "404", "422", "429")}}},
            f"{RECORD}/documents/preview": {"post": {
            **tag, "operationId": "preview_document",
            "summary": "A template's HTML page on this record (administrators)",
            "parameters": _params(model),
            "requestBody": json_body(ref("DocumentOrder")),
            "responses": {"200": json_answer("The page and the file name.", _data({
                "type": "object", "required": ["html", "file_name"],
                "properties": {"html": {"type": "string"},
                               "file_name": {"type": "string"}}})),
                **errors("400", "401", "403", "404", "415", "422", "429")}}},
    }
