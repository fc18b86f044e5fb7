"""Global search on the screens: `/app/search?q=…`.

The page lists, per entity the user may read, the best hits of `GlobalSearch` (the API's
service: full-text search within the user's scope and field security), titled as the other
screens title records, with a link to the entity's list filtered by the same text when
more match. It works without scripts (a plain GET form in the top bar); with
`format=json` the same route answers the top bar's results-as-you-type
(`ui/static/search.js`, opened with Ctrl+K / ⌘K).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Response, jsonify, render_template, request

from metacrm.kernel.errors import ValidationFailed
from metacrm.metadata.model import EntityDef
from metacrm.services.records.global_search import (
    MAX_QUERY_LENGTH,
    MIN_QUERY_LENGTH,
    EntityHits,
    GlobalSearch,
    check_query,
)
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.i18n import label, t
from metacrm.web.record_page import record_url
from metacrm.web.values import ValueDisplay, record_reader

web_search = screen_blueprint("web_search", __name__, url_prefix="/app/search")

PAGE_LIMIT = 10
"""Hits per entity on the results page."""
DROPDOWN_LIMIT = 5
"""Hits per entity in the top bar's dropdown."""


class ScreenTitles:
    """Titles as the other screens show them (`ValueDisplay`, referenced titles read in
    bulk as the user may)."""

    def __init__(self, display: ValueDisplay) -> None:
        self.display = display

    def titles(self, entity: EntityDef, records: Sequence[Mapping[str, Any]]) -> list[str]:
        self.display.prefetch(entity, records)
        return [self.display.title(entity, record) for record in records]


@dataclass(frozen=True)
class HitRow:
    title: str
    href: str


@dataclass(frozen=True)
class GroupRow:
    entity: str
    label: str
    hits: tuple[HitRow, ...]
    more_text: str | None
    more_href: str | None

    def to_json(self) -> dict[str, Any]:
        return {"entity": self.entity, "label": self.label,
                "hits": [{"title": hit.title, "href": hit.href} for hit in self.hits],
                "more": None if self.more_href is None else {
                    "text": self.more_text, "href": self.more_href}}


@web_search.get("")
@login_required
def page() -> str | Response:
    q = (request.args.get("q") or "").strip()
    as_json = request.args.get("format") == "json"
    error: str | None = None
    groups: list[GroupRow] = []
    if q:
        try:
            check_query(q)
        except ValidationFailed:
            error = t("Type %(min)s to %(max)s characters.", min=MIN_QUERY_LENGTH,
                      max=MAX_QUERY_LENGTH)
        else:
            groups = _search(q, DROPDOWN_LIMIT if as_json else PAGE_LIMIT)
    if as_json:
        return jsonify({"groups": [group.to_json() for group in groups], "error": error,
                        "all": {"text": t("All results"),
                                "href": "/app/search?" + urlencode({"q": q})}})
    return render_template("metacrm/search.html", q=q, groups=groups, error=error,
                           min_length=MIN_QUERY_LENGTH, max_length=MAX_QUERY_LENGTH)


def _search(q: str, limit: int) -> list[GroupRow]:
    subject = web_subject()
    records = services().records
    display = ValueDisplay(records.runtime().model, fetch=record_reader(subject))
    found = GlobalSearch(records).search(subject, q, ScreenTitles(display), limit=limit)
    return [_group(group, q) for group in found]


def _group(group: EntityHits, q: str) -> GroupRow:
    entity = group.entity
    more = group.more
    count = f"{group.count}+" if group.count_is_estimate else str(group.count)
    return GroupRow(
        entity=entity.name,
        label=label(entity.plural_label, entity.name),
        hits=tuple(HitRow(hit.title, record_url(entity.name, hit.id)) for hit in group.hits),
        more_text=t("Show all (%(count)s)", count=count) if more else None,
        more_href=f"/app/r/{entity.name}?" + urlencode({"q": q}) if more else None,
    )
