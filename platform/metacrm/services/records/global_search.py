"""Global search: one text across every entity the caller may read, hits grouped by entity.

Per entity one ranked full-text query (`RecordsService.search`: the search index of
`storage.search_index` over the entity's `search_fields`, stemmed prefix matching of every
word, typos tolerated when the words as typed find nothing), with the caller's read
scope and field security in the same SQL — a hidden search field is not searched, a record
outside the scope is not found. The index's best `limit` hits are then ordered by the title
the caller sees: exact, then prefix, then substring, then records found through another
search field or a misspelling (those in the index's rank order; the others by title).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from metacrm.access.scoped_reads import MAX_SEARCH_LENGTH
from metacrm.access.subject import AccessSubject
from metacrm.criteria.casefold import fold_case
from metacrm.kernel.errors import ErrorDetail, NotFound, ValidationFailed
from metacrm.metadata.model import EntityDef
from metacrm.services.records.service import RecordsService

MIN_QUERY_LENGTH = 2
MAX_QUERY_LENGTH = MAX_SEARCH_LENGTH
DEFAULT_LIMIT = 5
MAX_LIMIT = 50

EXACT, PREFIX, SUBSTRING, OTHER_FIELD = range(4)
"""Ranks of a hit, best first, by how the text matches the title the caller sees."""


class TitleRenderer(Protocol):
    """Names records: the API renders plain titles, the screens their formatted ones."""

    def titles(self, entity: EntityDef, records: Sequence[Mapping[str, Any]]) -> list[str]:
        """The title of each record (JSON form, as the caller may see it), in order."""
        ...


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One record found: its entity, id, title (as the caller sees it) and rank."""

    entity: str
    id: str
    title: str
    rank: int

    def to_json(self) -> dict[str, Any]:
        return {"entity": self.entity, "id": self.id, "title": self.title}


@dataclass(frozen=True, slots=True)
class EntityHits:
    """The best hits of one entity and how many of its records match in all."""

    entity: EntityDef
    """The entity as the caller may see it (hidden fields left out)."""
    hits: tuple[SearchHit, ...]
    count: int
    count_is_estimate: bool

    @property
    def more(self) -> bool:
        return self.count > len(self.hits)


def check_query(q: Any) -> str:
    """The search text, trimmed; ValidationFailed at `/q` when it is not 2–200 characters
    of text without NUL."""
    if not isinstance(q, str) or "\x00" in q:
        raise ValidationFailed("invalid search", [ErrorDetail("must be text", "/q")])
    text = q.strip()
    if not MIN_QUERY_LENGTH <= len(text) <= MAX_QUERY_LENGTH:
        raise ValidationFailed("invalid search", [ErrorDetail(
            f"must be {MIN_QUERY_LENGTH} to {MAX_QUERY_LENGTH} characters", "/q")])
    return text


def rank_of(title: str, text: str) -> int:
    """How well `text` matches `title`, compared case-folded as the quick search does."""
    folded_title, folded_text = fold_case(title), fold_case(text)
    if folded_title == folded_text:
        return EXACT
    if folded_title.startswith(folded_text):
        return PREFIX
    if folded_text in folded_title:
        return SUBSTRING
    return OTHER_FIELD


class GlobalSearch:
    """Searches every entity a subject may read (see the module docstring)."""

    def __init__(self, records: RecordsService) -> None:
        self.records = records

    def searchable_entities(self, subject: AccessSubject) -> list[EntityDef]:
        """The entities the subject may read that have fields they may search, by name."""
        runtime = self.records.runtime()
        scoped = runtime.scoped(subject)
        return [runtime.policy.visible_entity(subject, name)
                for name in sorted(runtime.model.entities)
                if scoped.scope(name, "read").allowed and scoped.search_field_names(name)]

    def search(
        self,
        subject: AccessSubject,
        q: Any,
        titles: TitleRenderer,
        *,
        entity: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[EntityHits]:
        """The best `limit` hits per entity, entities by name, those without hits left out.

        `entity` restricts the search to one entity: NotFound when there is none the
        subject may read of that name (as the records API answers for an unknown one),
        ValidationFailed at `/entity` when it has no fields they may search.
        """
        text = check_query(q)
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationFailed("invalid search", [ErrorDetail(
                f"must be a whole number from 1 to {MAX_LIMIT}", "/limit")])
        targets = self.searchable_entities(subject)
        if entity is not None:
            targets = self._only(subject, targets, entity)
        found = [self._search_entity(subject, target, text, titles, limit)
                 for target in targets]
        return [group for group in found if group.hits]

    def _only(self, subject: AccessSubject, targets: list[EntityDef],
              name: str) -> list[EntityDef]:
        chosen = [target for target in targets if target.name == name]
        if chosen:
            return chosen
        runtime = self.records.runtime()
        if (not isinstance(name, str) or runtime.model.entity(name) is None
                or not runtime.policy.scope(subject, name, "read").allowed):
            raise NotFound(f"there is no entity {name!r}",
                           [ErrorDetail("no such entity", "/entity")])
        raise ValidationFailed("invalid search", [ErrorDetail(
            f"{name!r} has no fields to search", "/entity")])

    def _search_entity(self, subject: AccessSubject, visible: EntityDef, text: str,
                       titles: TitleRenderer, limit: int) -> EntityHits:
        fields = [name for name in (visible.title_field, *visible.title_field_names)
                  if name is not None and visible.has_field(name)]
        wanted = list(dict.fromkeys(fields)) or ["id"]
        page = self.records.search(subject, visible.name, text, limit=limit, fields=wanted)
        rows = page.records
        hits = [SearchHit(visible.name, str(record["id"]), title, rank_of(title, text))
                for record, title in zip(rows, titles.titles(visible, rows), strict=True)]
        # by title class; titles of a class alphabetically; other matches in the index's order
        hits.sort(key=lambda hit: (hit.rank, fold_case(hit.title) if hit.rank < OTHER_FIELD
                                   else ""))
        return EntityHits(visible, tuple(hits), page.count, page.count_is_estimate)
