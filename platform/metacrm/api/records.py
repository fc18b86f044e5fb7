"""The records API: the same endpoints for every entity of the live metadata.

Each handler parses the request (api.request_parsing, api.etag), authenticates
(metacrm.identity), builds the caller's access subject, calls ONE RecordsService method
and renders its JSON-ready answer. Access (row scope, hidden and read-only fields),
validation and the unit of work are the service's; no handler filters rows or fields.

Envelopes (docs/api.md): `{"data": record, "included": {...}}` for one record,
`{"data": [...], "meta": {...}, "included": {...}}` for a page, `{"data": [...]}` for bulk
answers and history; errors are problem documents.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from metacrm.api import API_PREFIX
from metacrm.api.context import api_services, live_entity, request_subject, visible_entity
from metacrm.api.etag import expected_version, matches_none, record_etag
from metacrm.api.idempotency import idempotent
from metacrm.api.problems import json_body
from metacrm.api.request_parsing import (
    LIST_PROBLEM,
    ListQuery,
    parse_include_args,
    parse_list_args,
    parse_query_body,
    reject_parameters,
)
from metacrm.kernel.errors import (
    DuplicateFound,
    ErrorDetail,
    MetacrmError,
    NotFound,
    StaleRecord,
    ValidationFailed,
)
from metacrm.kernel.ids import looks_like_id
from metacrm.services.records.service import DUPLICATES

records_api = Blueprint("metacrm_records", __name__, url_prefix=f"{API_PREFIX}/records")

MAX_BULK = 1000
INCLUDED_KEY = "_included"
CRITERIA = "/criteria"


@records_api.get("/<entity>")
def list_records(entity: str) -> Response:
    _, subject = request_subject()
    definition = visible_entity(subject, entity)
    query = parse_list_args(request.args.items(multi=True), definition,
                            api_services().registry)
    return _page(subject, entity, query)


@records_api.post("/<entity>/query")
def query_records(entity: str) -> Response:
    _, subject = request_subject()
    definition = visible_entity(subject, entity)
    reject_parameters(request.args.items(multi=True))
    query = parse_query_body(json_body(), definition, api_services().registry)
    return _page(subject, entity, query)


@records_api.post("/<entity>")
def create_record(entity: str) -> Response:
    actor, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))

    def create() -> Response:
        payload = _object_body()
        record = api_services().records.create(subject, entity, payload)
        response = _single(record, status=201)
        response.headers["Location"] = url_for(
            "metacrm_records.get_record", entity=entity, record_id=record["id"])
        return response

    return idempotent(actor.user_id, create)


@records_api.get("/<entity>/<record_id>")
def get_record(entity: str, record_id: str) -> Response:
    _, subject = request_subject()
    include = parse_include_args(request.args.items(multi=True),
                                 visible_entity(subject, entity))
    record = api_services().records.get(subject, entity, record_id, include=include)
    if not matches_none(request.headers.get("If-None-Match"), record):
        return Response(status=304, headers={"ETag": record_etag(record)})
    return _single(record)


@records_api.patch("/<entity>/<record_id>")
def update_record(entity: str, record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    expected = _expected_version(entity, record_id)
    changes = _object_body()
    record = api_services().records.update(subject, entity, record_id, changes,
                                           expected_version=expected)
    return _single(record)


@records_api.delete("/<entity>/<record_id>")
def delete_record(entity: str, record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    expected = _expected_version(entity, record_id)
    api_services().records.delete(subject, entity, record_id, expected_version=expected)
    return Response(status=204)


def _expected_version(entity: str, record_id: str) -> int | None:
    """The version `If-Match` requires (a malformed header: 422). A well-formed one that
    names no version of a path id that is no id at all answers 404, not 412: a record that
    cannot exist has no precondition to fail."""
    try:
        return expected_version(request.headers.get("If-Match"), record_id)
    except StaleRecord:
        if not looks_like_id(record_id):
            raise NotFound(f"{entity} record {record_id} does not exist") from None
        raise


@records_api.post("/<entity>/bulk")
def bulk_create(entity: str) -> Response:
    actor, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))

    def create() -> Response:
        payloads = _bulk_items()
        with _pointing_into("/records"):
            created = api_services().records.bulk_create(subject, entity, payloads)
        response = jsonify({"data": created})
        response.status_code = 201
        return response

    return idempotent(actor.user_id, create)


@records_api.patch("/<entity>/bulk")
def bulk_update(entity: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    items = _bulk_items()
    with _pointing_into("/records"):
        updated = api_services().records.bulk_update(subject, entity, items)
    return jsonify({"data": updated})


@records_api.get("/<entity>/<record_id>/history")
def record_history(entity: str, record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    return jsonify({"data": api_services().records.history(subject, entity, record_id)})


# --- rendering ---------------------------------------------------------------------------


def _page(subject: Any, entity: str, query: ListQuery) -> Response:
    try:
        page = api_services().records.list(
            subject, entity, criteria=query.criteria, sort=query.sort, limit=query.limit,
            cursor=query.cursor, fields=query.fields, q=query.q, include=query.include)
    except ValidationFailed as error:
        raise ValidationFailed(LIST_PROBLEM, [
            ErrorDetail(e.message, _request_pointer(query, e.pointer), e.source)
            for e in error.errors]) from error
    return jsonify({
        "data": page.records,
        "meta": {"count": page.count, "count_is_estimate": page.count_is_estimate,
                 "next_cursor": page.next_cursor},
        "included": page.included,
    })


def _request_pointer(query: ListQuery, pointer: str) -> str:
    """The service names the filter `/criteria`; the request calls it `filter`."""
    if pointer == CRITERIA or pointer.startswith(CRITERIA + "/"):
        return query.locate(pointer[len(CRITERIA):])
    return pointer


def _single(record: Mapping[str, Any], *, status: int = 200) -> Response:
    data = dict(record)
    included = data.pop(INCLUDED_KEY, None)
    duplicates = data.pop(DUPLICATES, None)
    document: dict[str, Any] = {"data": data}
    if included is not None:
        document["included"] = included
    if duplicates:
        # a warn duplicate rule matched: the save went through, the matches come along
        document["meta"] = {"duplicates": duplicates}
    response = jsonify(document)
    response.status_code = status
    response.headers["ETag"] = record_etag(data)
    return response


def _object_body() -> dict[str, Any]:
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationFailed("the request body must be a JSON object",
                               [ErrorDetail("must be an object of field values", "")])
    return body


def _bulk_items() -> list[Any]:
    body = json_body()
    if not isinstance(body, dict) or set(body) != {"records"}:
        raise ValidationFailed("the request body must be {\"records\": [...]}",
                               [ErrorDetail("must be an object with one key, records", "")])
    items = body["records"]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BULK:
        raise ValidationFailed("invalid bulk request", [ErrorDetail(
            f"must be a list of 1 to {MAX_BULK} records", "/records")])
    return items


@contextmanager
def _pointing_into(prefix: str) -> Iterator[None]:
    """Re-point the errors of a list payload (422, and 403/409/412 about one item) into the
    request body (`/records/...`), keeping their kind."""
    try:
        yield
    except MetacrmError as error:
        if not any(_in_body(e) for e in error.errors):
            raise
        details = [ErrorDetail(e.message, prefix + e.pointer, e.source) if _in_body(e) else e
                   for e in error.errors]
        if isinstance(error, DuplicateFound):
            raise DuplicateFound(error.message, details, duplicates=error.duplicates,
                                 hidden=error.hidden) from error
        raise type(error)(error.message, details) from error


def _in_body(detail: ErrorDetail) -> bool:
    return detail.source == "" and detail.pointer.startswith("/")
