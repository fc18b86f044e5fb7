"""Published articles matching a ticket's subject, as one user may read them.

The ticket is read with the caller's scope (404 when out of sight); the articles come from
the records search (`RecordsService.search`: the full-text index with stemming in English
and Russian, the caller's read scope and field security in the same SQL). The whole subject
is searched first, then each of its words, so that an article sharing only some words is
still offered; drafts, and articles whose status the caller may not see, are left out.
"""

from __future__ import annotations

import re
from typing import Any

from metacrm.access.scoped_reads import MAX_SEARCH_LENGTH
from metacrm.access.subject import AccessSubject
from metacrm.services.records.service import RecordsService

ARTICLE = "kb_article"
TICKET = "ticket"
PUBLISHED = "published"
DEFAULT_LIMIT = 5
MAX_WORDS = 8
_WORD = re.compile(r"\w{3,}")
_FIELDS = ("title", "language", "category", "status")


class ArticleSuggestions:
    """Suggests published knowledge base articles for tickets (see the module docstring)."""

    def __init__(self, records: RecordsService) -> None:
        self.records = records

    def available(self, subject: AccessSubject) -> bool:
        """Whether the model has articles and the subject may read them."""
        runtime = self.records.runtime()
        return (runtime.model.entity(ARTICLE) is not None
                and runtime.policy.scope(subject, ARTICLE, "read").allowed)

    def for_ticket(self, subject: AccessSubject, ticket_id: str,
                   limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
        """Up to `limit` articles (`id`, `title`, `language`, `category`), best first."""
        ticket = self.records.get(subject, TICKET, ticket_id)
        return self.for_text(subject, str(ticket.get("subject") or ""), limit)

    def for_text(self, subject: AccessSubject, text: str,
                 limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
        if not self.available(subject):
            return []
        text = text[:MAX_SEARCH_LENGTH]
        queries = [text, *list(dict.fromkeys(_WORD.findall(text)))[:MAX_WORDS]]
        found: dict[str, dict[str, Any]] = {}
        for query in queries:
            page = self.records.search(subject, ARTICLE, query, limit=limit * 4,
                                       fields=list(_FIELDS))
            for record in page.records:
                if record.get("status") == PUBLISHED:
                    found.setdefault(str(record["id"]), {
                        "id": str(record["id"]), "title": record.get("title"),
                        "language": record.get("language"),
                        "category": record.get("category")})
            if len(found) >= limit:
                break
        return list(found.values())[:limit]
