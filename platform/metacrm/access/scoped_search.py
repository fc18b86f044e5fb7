"""Full-text search within a subject's rights: the read scope AND the search index's match
over the columns of the search fields the subject may see, in one ranked query.

A hidden field is not among the columns, so it is not searched; a record outside the read
scope fails the scope condition in the same WHERE. Two passes: prefix matching of every
word (stemmed) first; only when that finds nothing, a second pass that also accepts close
misspellings (`SearchIndex.match(typos=True)`), so a typo costs nothing when the text is
spelt right (trigram matching is the costly part at a million records).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from metacrm.storage.record_codec import Record
from metacrm.storage.record_query import RecordCount
from metacrm.storage.repository import RecordRepository
from metacrm.storage.search_index import search_field_columns, search_index_for
from metacrm.storage.search_text import query_terms

if TYPE_CHECKING:
    from metacrm.access.scoped_reads import ScopedReads


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The best records of one entity, best first, and how many match in all."""

    records: list[Record]
    count: RecordCount
    typos: bool
    """Whether the typo pass found them (the text as typed matched nothing)."""


EMPTY = SearchResult([], RecordCount(0, False), False)


def search_records(
    repository: RecordRepository, reads: ScopedReads, conn: sa.Connection, entity: str,
    text: str, *, limit: int, fields: Sequence[str] | None,
) -> SearchResult:
    """The subject's best `limit` records of `entity` for `text` (see the module docstring).
    Empty when the text has no word or the subject may search no field of the entity."""
    reads.require(entity, "read")
    terms = query_terms(text)
    columns = searchable_columns(repository, reads, entity)
    if not terms or not columns:
        return EMPTY
    wanted = reads.visible_fields(entity, fields)
    table = repository.table(entity)
    index = search_index_for(conn)
    scope = reads.condition(entity, "read")
    result = EMPTY
    for typos in (False, True):
        match = index.match(conn, table, columns, terms, typos=typos)
        where = match if scope is None else sa.and_(scope, match)
        records, count = repository.ranked(
            conn, entity, where=where, limit=limit, fields=wanted,
            ranking=index.ranking(conn, table, columns, terms, typos=typos))
        result = SearchResult(records, count, typos)
        if records:
            break
    return result


def searchable_columns(repository: RecordRepository, reads: ScopedReads,
                       entity: str) -> tuple[str, ...]:
    """The indexed columns of the search fields the subject may see (those of hidden
    fields left out)."""
    visible = set(reads.search_field_names(entity))
    indexed = search_field_columns(reads.policy.entity(entity), repository.registry)
    return tuple(column for name, column in indexed.items() if name in visible)
