"""Articles suggested for a ticket: `GET /api/v1/records/ticket/<id>/suggested-articles`.

-> `{"data": [{"id", "title", "language", "category"}]}`: published articles matching the
ticket's subject, as the caller may read them (404 when the ticket is out of their sight;
an empty list when they may not read articles). Thin: the rules are
`metacrm.knowledge.suggestions`'.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import live_entity, request_subject
from metacrm.api.filter_parsing import escape
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.knowledge.suggestions import TICKET, ArticleSuggestions

knowledge_api = Blueprint("metacrm_knowledge", __name__, url_prefix=f"{API_PREFIX}/records")


@knowledge_api.get(f"/{TICKET}/<record_id>/suggested-articles")
def suggested_articles(record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(TICKET)
    if request.args:
        raise ValidationFailed("invalid request", [
            ErrorDetail(f"unknown parameter {name!r}; this operation takes none",
                        f"/{escape(name)}") for name in request.args])
    suggestions = ArticleSuggestions(web_runtime().services.records)
    return jsonify({"data": suggestions.for_ticket(subject, record_id)})
