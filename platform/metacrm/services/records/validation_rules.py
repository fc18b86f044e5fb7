"""Validation rules: the entity's `validations` checked on every save.

A rule says what a record must look like to be saved — "an invoice bills an accepted quote
or a won deal", "a lost deal names its reason" — as criteria (the one criteria language),
so admins declare it in metadata instead of asking for code. It runs as the LAST
before-save callback of a write command (`RecordsService.before_save`): after lookup
defaults, packs' interceptors and computed fields, so it judges the record exactly as it
will be written, inside the command's transaction; a broken rule refuses the whole command
(nothing is written) with the rule's message, pointed at its field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from metacrm.access.scoped_repository import BeforeSave
from metacrm.access.subject import AccessSubject
from metacrm.criteria.predicate import CriteriaTypes, compile_predicate
from metacrm.kernel.clock import Clock, utc_now
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import CompiledModel, Labels, ValidationRuleDef
from metacrm.services.records.save_hooks import merged_record
from metacrm.storage.record_codec import Record

Predicate = Callable[[Mapping[str, Any]], bool]


class RuleViolated(ValidationFailed):
    """A save that breaks validation rules; `messages` holds each rule's message in every
    language it was written in (the details carry the English one), so screens show it in
    the user's language."""

    def __init__(self, entity: str, rules: Sequence[ValidationRuleDef]) -> None:
        self.rules = tuple(rules)
        self.messages: dict[ErrorDetail, Labels] = {}
        details = []
        for rule in self.rules:
            detail = ErrorDetail(_english(rule.message, rule.name),
                                 f"/{rule.field}" if rule.field else "")
            details.append(detail)
            self.messages[detail] = rule.message
        names = ", ".join(repr(rule.name) for rule in self.rules)
        super().__init__(f"the {entity} breaks validation rule(s) {names}", details)


def _english(message: Labels, fallback: str) -> str:
    return message.get("en") or next(iter(message.values()), fallback)


class ValidationRules:
    """The before-save callbacks of validation rules (`save_hooks.SaveInterceptors`)."""

    def __init__(self, model: Callable[[], CompiledModel], registry: CriteriaTypes,
                 clock: Clock = utc_now) -> None:
        self.model = model
        self.registry = registry
        self.clock = clock
        """`$now`/`$today` in a rule: the records service's clock."""

    def hook(self, conn: sa.Connection, subject: AccessSubject, entity: str
             ) -> BeforeSave | None:
        definition = self.model().entities[entity]
        if not definition.validations:
            return None
        context = subject.criteria_context(self.clock())
        rules = [(rule,
                  None if rule.when is None else compile_predicate(
                      rule.when, definition, self.registry, context),
                  compile_predicate(rule.require, definition, self.registry, context))
                 for rule in definition.validations]

        def before_save(current: Record | None, values: Mapping[str, Any]) -> Mapping[str, Any]:
            record, _changed = merged_record(definition, self.registry, current, values)
            if record is None:
                return {}  # a value that does not fit: the repository says which
            command = "create" if current is None else "update"
            broken = [rule for rule, when, require in rules
                      if command in rule.on and (when is None or when(record))
                      and not require(record)]
            if broken:
                raise RuleViolated(entity, broken)
            return {}

        return before_save
