"""Duplicate checks: which existing records a record's values duplicate, under the entity's
duplicate rules (`duplicate_rule` metadata), as a given subject may know them.

`DuplicateChecker.find` is the one entry point — the records service calls it on every
create and update (inside the write's transaction, after the row is written, so the keys
are the stored ones and a block rolls the save back), the duplicates endpoint and panel
call it for an existing record, an importer calls it per row with the row's raw values,
a conversion calls it before making a target. Candidates are found unscoped (a block rule
refuses a duplicate whatever the saver may see); the answer names only the records the
subject may read and counts the others, so nothing outside their scope leaks.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.match_keys import match_key
from metacrm.kernel.errors import DuplicateFound, ErrorDetail
from metacrm.metadata.model import DuplicateRuleDef, EntityDef
from metacrm.metadata.titles import render_title
from metacrm.services.records.runtime import RecordsRuntime
from metacrm.storage.duplicate_search import KeyCondition

MAX_MATCHES = 20
"""Matches reported per rule."""


@dataclass(frozen=True, slots=True)
class DuplicateMatch:
    """A record the checked values duplicate, under `rule` (whose action is `action`)."""

    rule: str
    action: str
    id: str
    title: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "action": self.action, "id": self.id, "title": self.title}


@dataclass(frozen=True, slots=True)
class DuplicateCheck:
    """The answer of one check: the matches the subject may read, and per rule how many
    matches they may not (`hidden`)."""

    matches: tuple[DuplicateMatch, ...] = ()
    hidden: Mapping[str, int] = field(default_factory=dict)
    blocking_rules: tuple[str, ...] = ()
    """Block rules that matched (visible matches or hidden ones)."""

    @property
    def blocked(self) -> bool:
        return bool(self.blocking_rules)

    @property
    def hidden_count(self) -> int:
        return sum(self.hidden.values())

    def warnings(self) -> list[dict[str, str]]:
        return [match.to_json() for match in self.matches]

    def refusal(self, entity: str, pointer: str = "") -> DuplicateFound:
        """The 409 of a blocked save."""
        shown = [m for m in self.matches if m.rule in self.blocking_rules]
        hidden = sum(self.hidden.get(rule, 0) for rule in self.blocking_rules)
        errors = [ErrorDetail(f"duplicates {m.title or m.id} ({m.id}) under rule {m.rule}",
                              pointer) for m in shown]
        if hidden:
            errors.append(ErrorDetail("a duplicate exists that you cannot see", pointer))
        return DuplicateFound(f"this {entity} record duplicates an existing one",
                              errors, duplicates=[m.to_json() for m in shown],
                              hidden=hidden)

    def to_json(self) -> dict[str, Any]:
        return {"duplicates": self.warnings(), "hidden_duplicates": self.hidden_count,
                "blocked": self.blocked}


NO_DUPLICATES = DuplicateCheck()


class DuplicateChecker:
    """Runs an entity's duplicate rules against stored records (module docstring)."""

    def __init__(self, runtime: Callable[[], RecordsRuntime]) -> None:
        self._runtime = runtime

    def has_rules(self, entity: str, event: str | None = None, *,
                  runtime: RecordsRuntime | None = None) -> bool:
        return bool(self._rules(runtime or self._runtime(), entity, event))

    def find(
        self, conn: sa.Connection, subject: AccessSubject, entity: str,
        values: Mapping[str, Any], *, exclude: Sequence[str] = (), event: str | None = None,
        exact: bool = False, runtime: RecordsRuntime | None = None,
        ignore: Collection[str] = frozenset(),
    ) -> DuplicateCheck:
        """The records of `entity` that `values` (field -> value, raw or stored) duplicate,
        excluding the ids in `exclude` (the record being saved); `event` (`create` or
        `update`) keeps only the rules checking that save, None runs them all; `exact`
        compares fuzzy conditions exactly (equal normalised keys only); `runtime`, when
        the caller holds it, saves looking up the live metadata version again; `ignore`:
        ids not to count (filtered after the query, unlike `exclude`)."""
        runtime = runtime or self._runtime()
        rules = self._rules(runtime, entity, event)
        if not rules:
            return NO_DUPLICATES
        model_entity = runtime.model.entities[entity]
        found: list[tuple[DuplicateRuleDef, list[str]]] = []
        for rule in rules:
            conditions = _conditions(model_entity, rule, values, exact=exact)
            if conditions is None:
                continue
            ids = [i for i in runtime.system.duplicate_ids(
                conn, entity, conditions, operator=rule.operator, exclude=exclude,
                limit=MAX_MATCHES) if i not in ignore]
            if ids:
                found.append((rule, ids))
        if not found:
            return NO_DUPLICATES
        return self._answer(conn, runtime, subject, model_entity, found)

    def match_signatures(
        self, entity: str, values: Mapping[str, Any], *, event: str | None = None,
        runtime: RecordsRuntime | None = None,
    ) -> list[tuple[DuplicateRuleDef, tuple[tuple[str, str], ...]]]:
        """What makes `values` a duplicate of other values not stored yet (an import's
        rows among themselves): per rule, each signature — (key column, normalised key)
        pairs — that equal values share. An `and` rule has one signature of all its keys,
        an `or` rule one per key; fuzzy conditions compare exactly here."""
        runtime = runtime or self._runtime()
        model_entity = runtime.model.entities[entity]
        found = []
        for rule in self._rules(runtime, entity, event):
            conditions = _conditions(model_entity, rule, values, exact=True) or []
            pairs = [(c.column, c.key) for c in conditions]
            if rule.operator == "and" and pairs:
                found.append((rule, tuple(pairs)))
            else:
                found.extend((rule, (pair,)) for pair in pairs)
        return found

    def _answer(
        self, conn: sa.Connection, runtime: RecordsRuntime, subject: AccessSubject,
        entity: EntityDef, found: list[tuple[DuplicateRuleDef, list[str]]],
    ) -> DuplicateCheck:
        scoped = runtime.scoped(subject)
        readable = scoped.fetch(conn, entity.name, {i for _, ids in found for i in ids})
        matches: list[DuplicateMatch] = []
        hidden: dict[str, int] = {}
        seen: set[str] = set()
        for rule, ids in found:
            for record_id in ids:
                record = readable.get(record_id)
                if record is None:
                    hidden[rule.name] = hidden.get(rule.name, 0) + 1
                elif record_id not in seen:
                    seen.add(record_id)
                    matches.append(DuplicateMatch(rule.name, rule.action, record_id,
                                                  _title(entity, record)))
        return DuplicateCheck(
            matches=tuple(matches), hidden=hidden,
            blocking_rules=tuple(rule.name for rule, _ in found if rule.action == "block"))

    @staticmethod
    def _rules(runtime: RecordsRuntime, entity: str, event: str | None
               ) -> tuple[DuplicateRuleDef, ...]:
        return tuple(rule for rule in runtime.model.duplicate_rules_of(entity)
                     if event is None or event in rule.on)


def _conditions(entity: EntityDef, rule: DuplicateRuleDef, values: Mapping[str, Any], *,
                exact: bool = False) -> list[KeyCondition] | None:
    """The key conditions of `rule` for `values`; None when they cannot match (no key, or
    an `and` rule missing one)."""
    conditions = []
    for condition in rule.conditions:
        fdef = entity.field(condition.field)
        region = fdef.option("default_region") if fdef is not None else None
        key = match_key(values.get(condition.field), condition.key.normalisers,
                        region=region if isinstance(region, str) else None)
        if key is None:
            if rule.operator == "and":
                return None
            continue
        conditions.append(KeyCondition(condition.key.column, key,
                                       condition.fuzzy and not exact, condition.threshold))
    return conditions or None


def _title(entity: EntityDef, record: Mapping[str, Any]) -> str:
    def text(name: str) -> str:
        value, fdef = record.get(name), entity.field(name)
        if value is None or fdef is None or fdef.type in ("reference", "regarding", "user"):
            return ""  # a referenced record's title needs a read of its own: left out
        return str(value)

    return render_title(entity.title, text) or str(record.get("id", ""))
