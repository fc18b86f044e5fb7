"""Compile duplicate rules: conditions over an entity's text-like fields, and the stored
match keys (one column per field and chain of normalisers) their entities get."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from metacrm.metadata.compiler.context import CompileContext
from metacrm.metadata.compiler.freeze import labels
from metacrm.metadata.documents import Document
from metacrm.metadata.model import (
    DuplicateConditionDef,
    DuplicateRuleDef,
    EntityDef,
    MatchKeyDef,
    SourceRef,
)

MATCHABLE_TYPES = frozenset({"text", "textarea", "email", "phone", "url", "auto_number"})
"""Field types whose values make match keys (text in one column)."""

KEY_PREFIX = "_mk_"
"""Match-key columns start with it; field names cannot (they start with a letter)."""

DEFAULT_NORMALISERS = ("case_spaces",)
DEFAULT_THRESHOLD = 0.6


def key_column(field: str, normalisers: tuple[str, ...]) -> str:
    """The column of the key of `field` under `normalisers`: stable, unique, ≤ 63 chars."""
    digest = hashlib.sha1("|".join(normalisers).encode(), usedforsecurity=False).hexdigest()
    return f"{KEY_PREFIX}{field[:48]}_{digest[:8]}"


def build_duplicate_rule(document: Document) -> DuplicateRuleDef:
    """The DuplicateRuleDef of one document (fields checked by `check_duplicate_rule`)."""
    body = document.body
    return DuplicateRuleDef(
        name=document.name,
        label=labels(body.get("label")),
        entity=str(body["entity"]),
        conditions=tuple(_condition(raw) for raw in body["conditions"]),
        action=str(body.get("action", "warn")),
        on=frozenset(body.get("on", ("create", "update"))),
        operator=str(body.get("operator", "or")),
        description=labels(body.get("description")),
        pack=document.pack,
        source=SourceRef(document.source),
    )


def _condition(raw: Mapping[str, Any]) -> DuplicateConditionDef:
    field = str(raw["field"])
    normalisers = tuple(str(n) for n in raw.get("normalise", DEFAULT_NORMALISERS))
    fuzzy = raw.get("match", "exact") == "fuzzy"
    key = MatchKeyDef(column=key_column(field, normalisers), field=field,
                      normalisers=normalisers, trigram=fuzzy)
    return DuplicateConditionDef(field=field, key=key, fuzzy=fuzzy,
                                 threshold=float(raw.get("threshold", DEFAULT_THRESHOLD)))


def check_duplicate_rule(rule: DuplicateRuleDef, context: CompileContext) -> None:
    report = context.reporter(rule.source.file)
    entity = context.entity(rule.entity, report, "/entity")
    if entity is None:
        return
    for index, condition in enumerate(rule.conditions):
        pointer = f"/conditions/{index}/field"
        if not context.check_field(entity, condition.field, report, pointer):
            continue
        fdef = entity.field(condition.field)
        if fdef is not None and fdef.type not in MATCHABLE_TYPES:
            report.error(f"field '{condition.field}' is a {fdef.type}; duplicate rules compare "
                         f"text fields ({', '.join(sorted(MATCHABLE_TYPES))})", pointer)


def with_match_keys(
    entities: Mapping[str, EntityDef], rules: Mapping[str, DuplicateRuleDef]
) -> dict[str, EntityDef]:
    """The entities, each with the match keys its rules compare (one per column; a key
    compared fuzzily by any rule gets the trigram index)."""
    keys: dict[str, dict[str, MatchKeyDef]] = {}
    for _name, rule in sorted(rules.items()):
        for condition in rule.conditions:
            columns = keys.setdefault(rule.entity, {})
            known = columns.get(condition.key.column)
            if known is None or (condition.key.trigram and not known.trigram):
                columns[condition.key.column] = condition.key
    return {
        name: replace(entity, match_keys=tuple(
            keys[name][column] for column in sorted(keys[name])))
        if name in keys else entity
        for name, entity in entities.items()
    }
