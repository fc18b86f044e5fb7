"""OpenAPI path item and schema of a ticket's suggested articles (`api.knowledge`), listed
when the model has tickets and articles (the service and knowledge packs)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import READ_ERRORS, RECORD_ID, RECORDS, errors, json_answer
from metacrm.api.openapi_schemas import english, ref
from metacrm.knowledge.suggestions import ARTICLE, TICKET
from metacrm.metadata.model import CompiledModel

Schema = dict[str, Any]
TEXT_OR_NULL = {"type": ["string", "null"]}


def _present(model: CompiledModel) -> bool:
    return model.entity(TICKET) is not None and model.entity(ARTICLE) is not None


def knowledge_schemas(model: CompiledModel) -> dict[str, Schema]:
    """`SuggestedArticles` (none without tickets and articles)."""
    if not _present(model):
        return {}
    return {"SuggestedArticles": {
        "type": "object", "additionalProperties": False, "required": ["data"],
        "properties": {"data": {"type": "array", "maxItems": 5, "items": {
            "type": "object", "additionalProperties": False,
            "required": ["id", "title", "language", "category"],
            "properties": {"id": {"type": "string"}, "title": TEXT_OR_NULL,
                           "language": TEXT_OR_NULL, "category": TEXT_OR_NULL},
        }}},
    }}


def knowledge_paths(model: CompiledModel) -> dict[str, Any]:
    entity = model.entity(TICKET)
    if entity is None or not _present(model):
        return {}
    return {f"{RECORDS}/{TICKET}/{{id}}/suggested-articles": {"parameters": [RECORD_ID], "get": {
        "operationId": "ticket_suggested_articles",
        "tags": [english(entity.plural_label) or TICKET],
        "summary": "Published knowledge base articles matching the ticket's subject",
        "description": "Full-text search with stemming (English and Russian) over the "
                       "articles the caller may read; drafts are never suggested. An empty "
                       "list when the caller may not read articles. See docs/service.md.",
        "responses": {"200": json_answer("The articles, best first.", ref("SuggestedArticles")),
                      **errors(*READ_ERRORS)},
    }}}
