"""Criteria -> a Python predicate over one record (pipeline guards, trigger conditions...).

The tree is bound and its variables resolved once; the result is a tree of closures, so a
trigger evaluating the same condition for thousands of records does no parsing. The
semantics mirror `criteria.sql` exactly (see docs/architecture.md, "Criteria semantics"):
every leaf is true or false, never unknown, so `not` means the same in both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from metacrm.criteria.casefold import fold_case
from metacrm.criteria.context import CriteriaContext, Variable, resolve
from metacrm.criteria.tree import (
    BoundAnd,
    BoundCondition,
    BoundNode,
    BoundNot,
    BoundOr,
    bind_criteria,
)
from metacrm.metadata.catalog import FieldTypeCatalog
from metacrm.metadata.model import EntityDef, FieldDef

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]


class ComparableType(Protocol):
    def criteria_value(self, field: FieldDef, value: Any) -> Any:
        """The part of a field's Python value that criteria compare (money: its amount)."""
        ...


class CriteriaTypes(FieldTypeCatalog, Protocol):
    """What the interpreters need of the field type registry (FieldTypeRegistry fits)."""

    def get(self, type_name: str) -> ComparableType: ...


def compile_predicate(
    tree: Any,
    entity: EntityDef,
    registry: CriteriaTypes,
    context: CriteriaContext,
) -> Predicate:
    """Compile `tree` into `record -> bool`; raises ValidationFailed for an invalid tree.

    A record maps field names (and system columns) to normalised Python values; a missing
    key counts as an empty value.
    """
    return _compile(bind_criteria(tree, entity, registry), registry, context)


def _compile(node: BoundNode, registry: CriteriaTypes, context: CriteriaContext) -> Predicate:
    if isinstance(node, BoundAnd):
        parts = [_compile(item, registry, context) for item in node.items]
        return lambda record: all(part(record) for part in parts)
    if isinstance(node, BoundOr):
        parts = [_compile(item, registry, context) for item in node.items]
        return lambda record: any(part(record) for part in parts)
    if isinstance(node, BoundNot):
        inner = _compile(node.item, registry, context)
        return lambda record: not inner(record)
    return _leaf(node, registry, context)


def _value(field: FieldDef, operand: Any, context: CriteriaContext) -> Any:
    return resolve(operand, field.type, context) if isinstance(operand, Variable) else operand


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, tuple) and not value)


def _leaf(node: BoundCondition, registry: CriteriaTypes, context: CriteriaContext) -> Predicate:
    field, op, operand = node.field, node.op, node.operand
    field_type = registry.get(field.type)
    name = field.name

    def value_of(record: Record) -> Any:
        value = record.get(name)
        return None if _is_empty(value) else field_type.criteria_value(field, value)

    if op == "is_null":
        wanted = bool(operand)
        return lambda record: _is_empty(record.get(name)) == wanted
    if op in ("contains", "starts_with") and field.type == "multi_picklist":
        choice = operand

        def has_choice(record: Record) -> bool:
            value: Any = record.get(name)
            return not _is_empty(value) and choice in value

        return has_choice
    if op in ("contains", "starts_with"):
        needle = fold_case(operand)
        test = _contains(needle) if op == "contains" else _starts_with(needle)
        return lambda record: _text_test(value_of(record), test)
    if op in ("in", "not_in"):
        resolved = _value(field, operand, context) if isinstance(operand, Variable) else [
            _value(field, item, context) for item in operand
        ]
        members = [item for item in resolved if item is not None]
        if op == "in":
            return lambda record: _in(value_of(record), members)
        return lambda record: not _in(value_of(record), members)
    if op == "between":
        low, high = (_value(field, item, context) for item in operand)
        if low is None or high is None:
            return lambda record: False
        return lambda record: _between(value_of(record), low, high)
    target = _value(field, operand, context)
    if op == "ne":
        if target is None:
            return lambda record: True
        return lambda record: (current := value_of(record)) is None or current != target
    if target is None:
        return lambda record: False
    compare = _COMPARISONS[op]
    return lambda record: (current := value_of(record)) is not None and compare(current, target)


def _text_test(value: Any, test: Callable[[str], bool]) -> bool:
    return value is not None and test(fold_case(value))


def _contains(needle: str) -> Callable[[str], bool]:
    return lambda text: needle in text


def _starts_with(prefix: str) -> Callable[[str], bool]:
    return lambda text: text.startswith(prefix)


def _in(value: Any, members: list[Any]) -> bool:
    return value is not None and any(value == member for member in members)


def _between(value: Any, low: Any, high: Any) -> bool:
    return value is not None and bool(low <= value <= high)


_COMPARISONS: Mapping[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: bool(a == b),
    "gt": lambda a, b: bool(a > b),
    "gte": lambda a, b: bool(a >= b),
    "lt": lambda a, b: bool(a < b),
    "lte": lambda a, b: bool(a <= b),
}
