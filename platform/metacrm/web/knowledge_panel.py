"""The "Suggested articles" panel of a ticket's record page: published knowledge base
articles matching its subject, as the viewer may read them (`knowledge.suggestions`); no
panel when there are none or the viewer may not read articles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metacrm.knowledge.suggestions import ARTICLE, TICKET, ArticleSuggestions
from metacrm.web.context import services, web_subject
from metacrm.web.i18n import t
from metacrm.web.pack_panels import PanelView


def knowledge_panels(entity: str, record: Mapping[str, Any]) -> list[PanelView]:
    """The panel of a ticket's page (none for other records)."""
    if entity != TICKET:
        return []
    suggestions = ArticleSuggestions(services().services.records)
    articles = suggestions.for_text(web_subject(), str(record.get("subject") or ""))
    if not articles:
        return []
    links = tuple((str(article["title"] or article["id"]), f"/app/r/{ARTICLE}/{article['id']}")
                  for article in articles)
    return [PanelView(pack="knowledge", title=t("Suggested articles"), rows=(), links=links)]
