"""Global search over HTTP.

`GET /api/v1/search?q=…[&entity=…][&limit=5]` -> `{"data": [{"entity", "label", "count",
"count_is_estimate", "hits": [{"entity", "id", "title"}, ...]}, ...]}`: per entity the
caller may read and search, its best `limit` full-text hits (exact and prefix title
matches first), entities without hits left out (`metacrm.services.records.global_search`).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX
from metacrm.api.context import api_services, request_subject
from metacrm.api.filter_parsing import escape
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.services.records.global_search import DEFAULT_LIMIT, MAX_LIMIT, GlobalSearch
from metacrm.services.records.titles import PlainTitles

search_api = Blueprint("metacrm_search", __name__, url_prefix=f"{API_PREFIX}/search")

PARAMETERS = ("q", "entity", "limit")


@search_api.get("")
def search() -> Response:
    _, subject = request_subject()
    values = _args(request.args.items(multi=True))
    records = api_services().records
    groups = GlobalSearch(records).search(
        subject, values.get("q"), PlainTitles(records, subject),
        entity=values.get("entity"), limit=_limit(values.get("limit")))
    return jsonify({"data": [{
        "entity": group.entity.name,
        "label": dict(group.entity.label),
        "count": group.count,
        "count_is_estimate": group.count_is_estimate,
        "hits": [hit.to_json() for hit in group.hits],
    } for group in groups]})


def _args(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    errors: list[ErrorDetail] = []
    for name, value in pairs:
        pointer = f"/{escape(name)}"
        if name not in PARAMETERS:
            errors.append(ErrorDetail(
                f"unknown parameter {name!r}; use: {', '.join(PARAMETERS)}", pointer))
        elif name in values:
            errors.append(ErrorDetail("is given more than once", pointer))
        else:
            values[name] = value
    if "q" not in values:
        errors.append(ErrorDetail("is required", "/q"))
    if errors:
        raise ValidationFailed("invalid request", errors)
    return values


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit() and len(text) <= 3
            and 1 <= int(text) <= MAX_LIMIT):
        raise ValidationFailed("invalid request", [ErrorDetail(
            f"must be a whole number from 1 to {MAX_LIMIT}", "/limit")])
    return int(text)
