"""OpenAPI paths and schemas of mass print (`metacrm.api.mass_print`): a template's PDFs of
chosen records in one ZIP, listed only where a document template exists."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import errors, json_answer, json_body
from metacrm.api.openapi_schemas import ref
from metacrm.documents.mass_print import MAX_ID_LENGTH, MAX_RECORDS
from metacrm.kernel.ids import ID_PATTERN
from metacrm.metadata.model import CompiledModel

Schema = dict[str, Any]


def mass_print_schemas() -> dict[str, Schema]:
    return {
        "PrintOrder": {
            "type": "object", "required": ["entity", "template", "ids"],
            "additionalProperties": False,
            "properties": {
                "entity": {"type": "string", "minLength": 1},
                "template": {"type": "string", "minLength": 1,
                             "description": "A document template of that entity."},
                "ids": {"type": "array", "minItems": 1, "maxItems": MAX_RECORDS,
                        "uniqueItems": True,
                        "items": {"type": "string", "minLength": 1,
                                  "maxLength": MAX_ID_LENGTH},
                        "description": "The records to print; those the requester may not "
                                       "read are listed among the failures, not printed."},
            },
        },
        "PrintJob": {
            "type": "object",
            "required": ["id", "entity", "template", "status", "records", "printed",
                         "failures", "file"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "entity": {"type": "string"},
                "template": {"type": "string"},
                "status": {"enum": ["pending", "done", "failed"],
                           "description": "done: the ZIP is ready (perhaps with failures); "
                                          "failed: no record could be printed."},
                "records": {"type": "integer", "minimum": 1},
                "printed": {"type": "integer", "minimum": 0},
                "failures": {"type": "array", "items": {
                    "type": "object", "required": ["id", "reason"],
                    "properties": {"id": {"type": "string"},
                                   "reason": {"type": "string"}}}},
                "file": {"oneOf": [{"type": "null"}, {
                    "type": "object", "required": ["name", "size", "sha256",
                                                   "content_type"],
                    "properties": {"name": {"type": "string"},
                                   "size": {"type": "integer", "minimum": 0},
                                   "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                   "content_type": {"const": "application/zip"}}}]},
            },
        },
    }


def mass_print_paths(model: CompiledModel) -> dict[str, Any]:
    if not model.document_templates:
        return {}
    tag = {"tags": ["files"]}
    job = [{"name": "job_id", "in": "path", "required": True,
            "description": "A print job's id (only its requester may read it: 404).",
            "schema": {"type": "string", "pattern": ID_PATTERN}}]
    data = {"type": "object", "required": ["data"], "properties": {"data": ref("PrintJob")}}
    return {
        "/api/v1/prints": {"post": {
            **tag, "operationId": "mass_print",
            "summary": "Print many records with one document template into one ZIP",
            "description": "Rendered in the job queue as the requester; `Location` is the "
                           "job.",
            "requestBody": json_body(ref("PrintOrder")),
            "responses": {"202": json_answer("Accepted (or already done, inline queue).",
                                             data),
                          **errors("400", "401", "403", "404", "415", "422", "429")}}},
        "/api/v1/prints/{job_id}": {"get": {
            **tag, "operationId": "mass_print_status",
            "summary": "How a print job stands (its requester only)",
            "parameters": job,
            "responses": {"200": json_answer("The job.", data),
                          **errors("401", "404", "422", "429")}}},
        "/api/v1/prints/{job_id}/content": {"get": {
            **tag, "operationId": "mass_print_content",
            "summary": "The print job's ZIP (its requester only)",
            "parameters": job,
            "responses": {"200": {
                "description": "The ZIP, streamed (Content-Disposition: attachment).",
                "content": {"application/zip": {"schema": {"type": "string",
                                                           "format": "binary"}}}},
                **errors("401", "404", "422", "429")}}},
    }
