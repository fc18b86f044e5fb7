"""What a duplicate rule being designed would find in existing data (the designer's preview).

A rule under design has no stored match key yet (its column is added when the change is
applied), so the preview computes the keys here, in Python, with the same normalisers
(`fieldtypes.match_keys.match_key`) over the first `PREVIEW_RECORDS` records the admin may
read (oldest first: a stable sample). Records are grouped the way the rule would match
them: `and` — every condition matches; `or` — any condition links two records, and linked
records form one group. A fuzzy condition compares keys by trigram similarity computed the
way PostgreSQL's `pg_trgm` does (words lower-cased, padded with two spaces in front and one
behind; similarity = shared trigrams / all trigrams), with a trigram index so only records
sharing a trigram are compared.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metacrm.fieldtypes.match_keys import match_key
from metacrm.metadata.model import EntityDef

PREVIEW_RECORDS = 2_000
"""Records read for a preview: enough to show what a rule does, bounded for a page."""

PREVIEW_GROUPS = 50
"""Groups shown at most."""

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class PreviewCondition:
    """One condition of the rule under design."""

    field: str
    normalisers: tuple[str, ...]
    fuzzy: bool = False
    threshold: float = 0.6


@dataclass(frozen=True, slots=True)
class PreviewGroup:
    """Records the rule would call duplicates of one another, with the keys they share."""

    ids: tuple[str, ...]
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RulePreview:
    """The groups found and how many records were compared."""

    groups: tuple[PreviewGroup, ...]
    compared: int
    truncated: bool
    """More records exist than were compared."""


def trigrams(text: str) -> frozenset[str]:
    """`pg_trgm`'s trigrams of `text`: per word, lower-cased, "  word " cut in threes."""
    found: set[str] = set()
    for word in _WORD.findall(text.lower()):
        padded = f"  {word} "
        found.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return frozenset(found)


def similarity(left: frozenset[str], right: frozenset[str]) -> float:
    """`pg_trgm.similarity` of two trigram sets."""
    union = len(left | right)
    return len(left & right) / union if union else 0.0


def preview_rule(entity: EntityDef, conditions: Sequence[PreviewCondition], operator: str,
                 records: Sequence[Mapping[str, Any]], *, truncated: bool = False
                 ) -> RulePreview:
    """The duplicate groups `conditions` combined by `operator` find among `records`."""
    keys = [[_key(entity, condition, record) for condition in conditions]
            for record in records]
    pairs = [_linked(condition, [row[index] for row in keys])
             for index, condition in enumerate(conditions)]
    if operator == "and":
        linked = set.intersection(*pairs) if pairs else set()  # a missing key links nothing
    else:
        linked = set().union(*pairs)
    groups = _components(len(records), linked)
    found = [PreviewGroup(tuple(str(records[i]["id"]) for i in members),
                          tuple(sorted({k for i in members for k in keys[i] if k})))
             for members in groups]
    return RulePreview(tuple(found[:PREVIEW_GROUPS]), len(records), truncated)


def _key(entity: EntityDef, condition: PreviewCondition, record: Mapping[str, Any]
         ) -> str | None:
    fdef = entity.field(condition.field)
    region = fdef.option("default_region") if fdef is not None else None
    return match_key(record.get(condition.field), condition.normalisers,
                     region=region if isinstance(region, str) else None)


def _linked(condition: PreviewCondition, keys: Sequence[str | None]
            ) -> set[tuple[int, int]]:
    """Pairs (i < j) of records whose keys match under one condition."""
    pairs: set[tuple[int, int]] = set()
    if not condition.fuzzy:
        by_key: dict[str, list[int]] = defaultdict(list)
        for index, key in enumerate(keys):
            if key is not None:
                by_key[key].append(index)
        for members in by_key.values():
            pairs.update((a, b) for n, a in enumerate(members) for b in members[n + 1:])
        return pairs
    grams = [trigrams(key) if key is not None else frozenset() for key in keys]
    holders: dict[str, list[int]] = defaultdict(list)
    for number, record_grams in enumerate(grams):
        for gram in record_grams:
            holders[gram].append(number)
    for number, record_grams in enumerate(grams):
        candidates = {other for gram in record_grams for other in holders[gram]
                      if other > number}
        pairs.update((number, other) for other in candidates
                     if similarity(record_grams, grams[other]) >= condition.threshold)
    return pairs


def _components(size: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Groups of two or more records joined by `pairs` (union-find), in record order."""
    parent = list(range(size))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for left, right in pairs:
        parent[root(right)] = root(left)
    members: dict[int, list[int]] = defaultdict(list)
    for node in range(size):
        members[root(node)].append(node)
    return sorted((group for group in members.values() if len(group) > 1),
                  key=lambda group: group[0])
