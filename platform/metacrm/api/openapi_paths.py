"""Path items of the generated OpenAPI document (for `api.openapi`).

Records paths are spelled out per entity (`/api/v1/records/deal`, not `/records/{entity}`),
so each operation carries the entity's own schemas and list parameters: one
`filter[<field>][<op>]` parameter per field and operator its type supports, a `sort` enum of
the sortable fields, a `fields` enum, and an `include` enum of the reference fields.
"""

from __future__ import annotations

from typing import Any

from metacrm.api.etag import MAX_HEADER_LENGTH
from metacrm.api.openapi_filters import CURSOR, query_filter_value_schema
from metacrm.api.openapi_schemas import EntitySchemas, english, ref
from metacrm.api.request_parsing import MAX_LIMIT, MAX_Q_LENGTH
from metacrm.criteria.tree import SYSTEM_FIELDS
from metacrm.kernel.ids import ID_PATTERN
from metacrm.metadata.model import FieldDef

Schema = dict[str, Any]
RECORDS = "/api/v1/records"

PROBLEM_RESPONSES = {
    "400": "Malformed request (the body is not JSON).",
    "401": "No valid credentials.",
    "403": "The caller's roles do not allow this.",
    "404": "No such entity or record (or not one the caller may read).",
    "409": "The change conflicts with existing data (unique value, restricting reference) "
           "or needs confirmation.",
    "412": "The record changed since the caller read it (If-Match or version).",
    "413": "The body is too large (16 MiB at most).",
    "415": "The body is not declared as application/json.",
    "422": "The request does not validate; `errors` point at each problem.",
    "429": "Rate limit exceeded; see Retry-After.",
    "502": "A provider the request goes through (telephony, a mail server) refused it; "
           "`errors` say why.",
}
READ_ERRORS = ("401", "403", "404", "422", "429")
BODY_ERRORS = ("400", "413", "415")


def problem_components() -> dict[str, Any]:
    """`components.responses`: one problem response per status."""
    return {
        f"Problem{status}": {
            "description": description,
            "content": {"application/problem+json": {"schema": ref("Problem")}},
        }
        for status, description in PROBLEM_RESPONSES.items()
    }


def errors(*statuses: str) -> dict[str, Any]:
    return {status: {"$ref": f"#/components/responses/Problem{status}"}
            for status in sorted(set(statuses))}


def json_body(schema: Schema, description: str | None = None) -> Schema:
    body: Schema = {"required": True, "content": {"application/json": {"schema": schema}}}
    if description:
        body["description"] = description
    return body


def json_answer(description: str, schema: Schema, headers: Schema | None = None) -> Schema:
    answer: Schema = {"description": description,
                      "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


ETAG_HEADER = {"ETag": {"description": "The record's entity tag: \"<id>:<version>\".",
                        "required": True, "schema": {"type": "string"}}}
LOCATION_HEADER = {"Location": {"description": "URL of the new record.", "required": True,
                                "schema": {"type": "string"}}}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Makes a retry safe: the first successful answer for this key is stored "
                   "for 24 hours and replayed; the same key with another body answers 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255,
               "pattern": "^[\\x21-\\x7e]+$"},
}
ENTITY_TAGS = {"type": "string", "maxLength": MAX_HEADER_LENGTH,
               "pattern": '^\\s*(\\*|(W/)?"[^"]*"\\s*(,\\s*(W/)?"[^"]*"\\s*)*)$',
               "description": '"*" or a comma-separated list of entity tags such as '
                              '"<id>:<version>"'}
"""What `api.etag.parse_tags` accepts."""
IF_MATCH = {
    "name": "If-Match", "in": "header", "required": False,
    "description": "The record's ETag as last read; the write fails with 412 when the record "
                   "changed since.",
    "schema": ENTITY_TAGS,
}
IF_NONE_MATCH = {
    "name": "If-None-Match", "in": "header", "required": False,
    "description": "The ETag the client holds; 304 when the record did not change.",
    "schema": ENTITY_TAGS,
}
RECORD_ID = {"name": "id", "in": "path", "required": True,
             "description": "Record id (a UUID; any other text names no record: 404).",
             "schema": {"type": "string", "pattern": ID_PATTERN}}


# --- records ---------------------------------------------------------------------------


class EntityPaths:
    """The path items of one entity's records API."""

    def __init__(self, schemas: EntitySchemas) -> None:
        self.schemas = schemas
        self.entity = schemas.entity
        self.name = schemas.entity.name
        self.tag = english(self.entity.plural_label) or self.name

    def paths(self) -> dict[str, Any]:
        name, base = self.name, f"{RECORDS}/{self.name}"
        return {
            base: {"get": self.list_operation(), "post": self.create_operation()},
            f"{base}/query": {"post": self.query_operation()},
            f"{base}/bulk": {"post": self.bulk_create_operation(),
                             "patch": self.bulk_update_operation()},
            f"{base}/{{id}}": {
                "parameters": [RECORD_ID],
                "get": self.get_operation(),
                "patch": self.update_operation(),
                "delete": self.delete_operation(),
            },
            f"{base}/{{id}}/history": {"parameters": [RECORD_ID], "get": {
                **self.operation(f"history_{name}", f"Audit trail of a {name} record"),
                "responses": {
                    "200": json_answer("The record's audit entries, newest first.", {
                        "type": "object", "required": ["data"], "additionalProperties": False,
                        "properties": {"data": {"type": "array",
                                                "items": ref("HistoryEntry")}}}),
                    **errors(*READ_ERRORS),
                },
            }},
        }

    def operation(self, operation_id: str, summary: str) -> Schema:
        return {"operationId": operation_id, "summary": summary, "tags": [self.tag]}

    def list_operation(self) -> Schema:
        return {
            **self.operation(f"list_{self.name}", f"List {self.name} records"),
            "description": "Filter with `filter[<field>][<op>]=<value>` (several are ANDed) or "
                           "`filter=<JSON criteria tree>`; see docs/api.md.",
            "parameters": self.list_parameters(),
            "responses": {"200": json_answer("One page of records.", ref(f"{self.name}.page")),
                          **errors(*READ_ERRORS)},
        }

    def query_operation(self) -> Schema:
        return {
            **self.operation(f"query_{self.name}", f"Query {self.name} records (JSON body)"),
            "requestBody": json_body(ref(f"{self.name}.query")),
            "responses": {"200": json_answer("One page of records.", ref(f"{self.name}.page")),
                          **errors(*READ_ERRORS, *BODY_ERRORS)},
        }

    def create_operation(self) -> Schema:
        return {
            **self.operation(f"create_{self.name}", f"Create a {self.name} record"),
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": json_body(ref(f"{self.name}.create")),
            "responses": {
                "201": json_answer("The new record.", ref(f"{self.name}.single"),
                                   {**LOCATION_HEADER, **ETAG_HEADER}),
                **errors(*READ_ERRORS, *BODY_ERRORS, "409"),
            },
        }

    def get_operation(self) -> Schema:
        parameters: list[Schema] = [IF_NONE_MATCH]
        include = self.schemas.include_items()
        if include is not None:
            parameters.append({"name": "include", "in": "query", "required": False,
                               "style": "form", "explode": False, "schema": include})
        return {
            **self.operation(f"get_{self.name}", f"Read a {self.name} record"),
            "parameters": parameters,
            "responses": {
                "200": json_answer("The record.", ref(f"{self.name}.single"), ETAG_HEADER),
                "304": {"description": "Not modified (If-None-Match matched)."},
                **errors(*READ_ERRORS),
            },
        }

    def update_operation(self) -> Schema:
        return {
            **self.operation(f"update_{self.name}", f"Change a {self.name} record"),
            "parameters": [IF_MATCH],
            "requestBody": json_body(ref(f"{self.name}.patch")),
            "responses": {
                "200": json_answer("The changed record.", ref(f"{self.name}.single"),
                                   ETAG_HEADER),
                **errors(*READ_ERRORS, *BODY_ERRORS, "409", "412"),
            },
        }

    def delete_operation(self) -> Schema:
        return {
            **self.operation(f"delete_{self.name}", f"Delete a {self.name} record"),
            "parameters": [IF_MATCH],
            "responses": {"204": {"description": "Deleted."},
                          **errors(*READ_ERRORS, "409", "412")},
        }

    def bulk_create_operation(self) -> Schema:
        return {
            **self.operation(f"bulk_create_{self.name}",
                             f"Create up to 1,000 {self.name} records, all or nothing"),
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": json_body(ref(f"{self.name}.bulk_create")),
            "responses": {
                "201": json_answer("The new records, in request order.",
                                   ref(f"{self.name}.list")),
                **errors(*READ_ERRORS, *BODY_ERRORS, "409"),
            },
        }

    def bulk_update_operation(self) -> Schema:
        return {
            **self.operation(f"bulk_update_{self.name}",
                             f"Change up to 1,000 {self.name} records, all or nothing"),
            "requestBody": json_body(ref(f"{self.name}.bulk_update")),
            "responses": {
                "200": json_answer("The changed records, in request order.",
                                   ref(f"{self.name}.list")),
                **errors(*READ_ERRORS, *BODY_ERRORS, "409", "412"),
            },
        }

    # --- list parameters -----------------------------------------------------------------
    def list_parameters(self) -> list[Schema]:
        parameters: list[Schema] = [
            {"name": "filter", "in": "query", "required": False,
             "description": "A criteria tree as JSON, e.g. "
                            '{"field":"amount","op":"gt","value":"100"}.',
             "content": {"application/json": {"schema": ref(f"{self.name}.filter")}}},
        ]
        fields = [*SYSTEM_FIELDS.values(), *self.entity.fields]
        for field in fields:
            parameters.extend(self.filter_parameters(field))
        parameters += [
            {"name": "sort", "in": "query", "required": False, "style": "form",
             "explode": False, "description": "Sort keys; `-` sorts descending.",
             "schema": self.schemas.sort_items()},
            {"name": "fields", "in": "query", "required": False, "style": "form",
             "explode": False,
             "description": "Only these fields (and the system columns) in each record.",
             "schema": self.schemas.fields_items()},
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}},
            {"name": "cursor", "in": "query", "required": False,
             "description": "`meta.next_cursor` of the previous page (same filter and sort); "
                            "opaque: a cursor the server did not issue answers 422.",
             "schema": CURSOR},
            {"name": "q", "in": "query", "required": False,
             "description": "Text search over the entity's search fields.",
             "schema": {"type": "string", "maxLength": MAX_Q_LENGTH}},
        ]
        include = self.schemas.include_items()
        if include is not None:
            parameters.append({"name": "include", "in": "query", "required": False,
                               "style": "form", "explode": False,
                               "description": "Inline the referenced records.",
                               "schema": include})
        return parameters

    def filter_parameters(self, field: FieldDef) -> list[Schema]:
        operators = field.operators or self.schemas.registry.operators(field.type)
        return [
            {"name": f"filter[{field.name}][{op}]", "in": "query", "required": False,
             "style": "form", "explode": False,
             "schema": self.filter_value_schema(field, op)}
            for op in sorted(operators)
        ]

    def filter_value_schema(self, field: FieldDef, op: str) -> Schema:
        return query_filter_value_schema(field, op, self.schemas.registry)


def operation(operation_id: str, tags: list[str], summary: str, answer: Schema,
              error_statuses: tuple[str, ...], *, description: str | None = None,
              body: Schema | None = None) -> Schema:
    """One operation answering `answer` (200) or the problems of `error_statuses`; the
    pack APIs' action and read operations are all of this shape."""
    found: Schema = {"operationId": operation_id, "tags": tags, "summary": summary}
    if description:
        found["description"] = description
    if body is not None:
        found["requestBody"] = json_body(body)
    found["responses"] = {"200": answer, **errors(*error_statuses)}
    return found


def on_record(method: str, found: Schema) -> Schema:
    """The path item of `found` on one record (`…/{id}/…`, the `id` path parameter)."""
    return {"parameters": [RECORD_ID], method: found}
