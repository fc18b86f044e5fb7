"""The criteria language: parse a JSON tree, check it against an entity, bind its operands.

Pure (no SQLAlchemy, no field type registry import): the metadata compiler uses
`check_criteria` to reject bad conditions in metadata documents, and both interpreters
(`predicate`, `sql`) start from `bind_criteria`, so they read exactly the same tree.
Every error carries the JSON Pointer of the offending part ("/and/1/op").

Every tree has a budget (`MAX_DEPTH`, `MAX_NODES`, `MAX_LIST_VALUES`, `MAX_VALUES`), checked
while parsing and before any operand is coerced, so every path that accepts criteria (API
filters, saved views, role rules, triggers, webhook subscriptions, metadata) refuses an
oversized tree quickly: an `in` of 65,536 values would exceed PostgreSQL's limit of bind
parameters per statement (a 500), and an OR of 60,000 conditions took 26 s to compile and run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from metacrm.criteria.context import Variable, parse_variable
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.catalog import FieldTypeCatalog
from metacrm.metadata.model import EntityDef, FieldDef

OPERATORS = frozenset(
    {"eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "starts_with",
     "is_null", "between"}
)
SCALAR_OPERATORS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte"})
LIST_OPERATORS = frozenset({"in", "not_in"})
TEXT_MATCH_OPERATORS = frozenset({"contains", "starts_with"})
MAX_DEPTH = 32
"""How deeply and/or/not may nest."""
MAX_NODES = 500
"""Nodes per tree: every condition, and every and/or/not around them."""
MAX_LIST_VALUES = 1_000
"""Values one `in`/`not_in` condition may list."""
MAX_VALUES = 5_000
"""Values all the `in`/`not_in` lists of one tree may hold together (bind parameters)."""

VARIABLE_TYPES: Mapping[str, frozenset[str]] = MappingProxyType({
    "$user": frozenset({"user"}),
    "$now": frozenset({"date", "datetime"}),
    "$today": frozenset({"date", "datetime"}),
    "$team": frozenset({"user", "text", "picklist", "reference"}),
})
"""Which field types each variable may be compared with."""


def _system_field(name: str, type_name: str, label: str, **options: Any) -> FieldDef:
    return FieldDef(name, type_name, MappingProxyType({"en": label}),
                    options=MappingProxyType(options))


SYSTEM_FIELDS: Mapping[str, FieldDef] = MappingProxyType({
    "id": _system_field("id", "text", "ID", max_length=36),
    "created_at": _system_field("created_at", "datetime", "Created at"),
    "updated_at": _system_field("updated_at", "datetime", "Updated at"),
    "created_by": _system_field("created_by", "user", "Created by"),
    "updated_by": _system_field("updated_by", "user", "Updated by"),
    "owner": _system_field("owner", "user", "Owner"),
})
"""System columns usable in criteria, described as fields of ordinary types."""


# --- the parsed tree -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Condition:
    """A leaf as written: `value` is the raw JSON operand; `pointer` locates the leaf."""

    field: str
    op: str
    value: Any
    pointer: str


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = And | Or | Not | Condition

_LEAF_KEYS = frozenset({"field", "op", "value"})


def parse_criteria(tree: Any, *, pointer: str = "") -> tuple[Node | None, list[ErrorDetail]]:
    """Parse the structure of a tree; returns the tree (None if broken) and every error."""
    node, errors = _parse_partial(tree, pointer)
    return (node if not errors else None), errors


def _parse_partial(tree: Any, pointer: str) -> tuple[Node | None, list[ErrorDetail]]:
    """The well-formed parts of a tree (broken branches left out) and the errors."""
    errors: list[ErrorDetail] = []
    node = _parse(tree, pointer, 0, errors, _Budget())
    return node, errors


def budget_errors(document: Any, pointer: str = "") -> list[ErrorDetail]:
    """Where criteria trees inside `document` (any JSON, e.g. a metadata document) exceed
    the budget — found without checking anything else, so a caller can refuse an
    oversized document before costlier checks (JSON Schema validation of an OR of 20,000
    conditions takes seconds). A tree is recognised by its shape: an object whose only key
    is `and`, `or` or `not`, or one with `field` and `op`."""
    found: list[ErrorDetail] = []
    pending: list[tuple[Any, str]] = [(document, pointer)]
    while pending:
        node, at = pending.pop()
        if isinstance(node, Mapping):
            keys = set(node)
            if (len(keys) == 1 and keys <= {"and", "or", "not"}) or {"field", "op"} <= keys:
                budget = _Budget()
                _parse(node, at, 0, [], budget)
                found += budget.errors
                continue
            pending.extend((value, f"{at}/{_escape(str(key))}") for key, value in node.items())
        elif isinstance(node, list):
            pending.extend((item, f"{at}/{index}") for index, item in enumerate(node))
    return found


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class _Budget:
    """What a tree being parsed has used of its budget; once spent, parsing stops.
    `errors` keeps the budget's own errors (also added to the parser's)."""

    __slots__ = ("errors", "nodes", "spent", "values")

    def __init__(self) -> None:
        self.nodes = 0
        self.values = 0
        self.spent = False
        self.errors: list[ErrorDetail] = []

    def take_node(self, pointer: str, errors: list[ErrorDetail]) -> bool:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.spend(f"a condition tree has at most {MAX_NODES} conditions "
                       "(and/or/not count too)", pointer, errors)
        return not self.spent

    def take_values(self, count: int, pointer: str, errors: list[ErrorDetail]) -> bool:
        if count > MAX_LIST_VALUES:
            error = ErrorDetail(
                f"has {count} values; 'in' and 'not_in' take at most {MAX_LIST_VALUES}",
                pointer)
            errors.append(error)
            self.errors.append(error)
            return False
        self.values += count
        if self.values > MAX_VALUES:
            self.spend(f"the 'in' and 'not_in' lists of a condition tree hold at most "
                       f"{MAX_VALUES} values together", pointer, errors)
        return not self.spent

    def spend(self, message: str, pointer: str, errors: list[ErrorDetail]) -> None:
        self.spent = True
        errors.append(ErrorDetail(message, pointer))
        self.errors.append(ErrorDetail(message, pointer))


def _parse(
    tree: Any, pointer: str, depth: int, errors: list[ErrorDetail], budget: _Budget
) -> Node | None:
    if budget.spent:
        return None
    if depth > MAX_DEPTH:
        errors.append(ErrorDetail(f"conditions nest deeper than {MAX_DEPTH} levels", pointer))
        return None
    if not budget.take_node(pointer, errors):
        return None
    if not isinstance(tree, Mapping):
        errors.append(ErrorDetail("a condition must be an object", pointer))
        return None
    keys = set(tree)
    if len(keys) == 1 and keys <= {"and", "or"}:
        (key, items), = tree.items()
        if not isinstance(items, list) or not items:
            errors.append(ErrorDetail(f"'{key}' needs a non-empty list of conditions",
                                      f"{pointer}/{key}"))
            return None
        if len(items) >= MAX_NODES:
            budget.spend(f"has {len(items)} conditions; a condition tree has at most "
                         f"{MAX_NODES} (and/or/not count too)", f"{pointer}/{key}", errors)
            return None
        parsed = [_parse(item, f"{pointer}/{key}/{i}", depth + 1, errors, budget)
                  for i, item in enumerate(items)]
        nodes = tuple(n for n in parsed if n is not None)
        return And(nodes) if key == "and" else Or(nodes)
    if keys == {"not"}:
        inner = _parse(tree["not"], f"{pointer}/not", depth + 1, errors, budget)
        return None if inner is None else Not(inner)
    if "field" in keys or "op" in keys:
        return _parse_leaf(tree, pointer, errors, budget)
    errors.append(ErrorDetail(
        "a condition must be {\"and\": [...]}, {\"or\": [...]}, {\"not\": {...}} "
        "or {\"field\": ..., \"op\": ..., \"value\": ...}", pointer))
    return None


def _parse_leaf(
    tree: Mapping[str, Any], pointer: str, errors: list[ErrorDetail], budget: _Budget
) -> Node | None:
    count = len(errors)
    for key in sorted(set(tree) - _LEAF_KEYS):
        errors.append(ErrorDetail(f"unknown key {key!r} in a condition", f"{pointer}/{key}"))
    field, op = tree.get("field"), tree.get("op")
    if not isinstance(field, str) or not field:
        errors.append(ErrorDetail("must name a field", f"{pointer}/field"))
    if not isinstance(op, str) or op not in OPERATORS:
        errors.append(ErrorDetail(
            f"unknown operator {op!r}; use one of: {', '.join(sorted(OPERATORS))}",
            f"{pointer}/op"))
    if "value" not in tree:
        errors.append(ErrorDetail("a condition needs a value", f"{pointer}/value"))
    elif isinstance(op, str) and op in LIST_OPERATORS and isinstance(tree["value"], list):
        budget.take_values(len(tree["value"]), f"{pointer}/value", errors)
    if len(errors) > count:
        return None
    return Condition(str(field), str(op), tree["value"], pointer)


# --- checking and binding against an entity ------------------------------------------------

@dataclass(frozen=True, slots=True)
class BoundCondition:
    """A leaf checked against its field; `operand` is ready for the interpreters.

    Operand by operator: is_null -> bool; contains/starts_with -> str; scalar operators ->
    a coerced value or a Variable; in/not_in -> tuple of those, or Variable("$team");
    between -> (low, high).
    """

    field: FieldDef
    op: str
    operand: Any


@dataclass(frozen=True, slots=True)
class BoundAnd:
    items: tuple[BoundNode, ...]


@dataclass(frozen=True, slots=True)
class BoundOr:
    items: tuple[BoundNode, ...]


@dataclass(frozen=True, slots=True)
class BoundNot:
    item: BoundNode


BoundNode = BoundAnd | BoundOr | BoundNot | BoundCondition


def criteria_field(entity: EntityDef, name: str) -> FieldDef | None:
    """The entity's field, or a system column described as a field."""
    return entity.field(name) or SYSTEM_FIELDS.get(name)


def criteria_fields(tree: Any) -> set[str]:
    """The field names a criteria tree compares (read off the raw document, so it also
    serves code that holds an unchecked tree, e.g. the compiler's cycle and input checks)."""
    found: set[str] = set()
    if isinstance(tree, Mapping):
        name = tree.get("field")
        if isinstance(name, str):
            found.add(name)
        for value in tree.values():
            found |= criteria_fields(value)
    elif isinstance(tree, list | tuple):
        for item in tree:
            found |= criteria_fields(item)
    return found


def check_criteria(
    tree: Any,
    entity: EntityDef,
    catalog: FieldTypeCatalog,
    *,
    pointer: str = "",
    source: str = "",
) -> list[ErrorDetail]:
    """Every problem of `tree` as a condition on `entity` (empty list: the tree is fine)."""
    _, errors = _bind(tree, entity, catalog, pointer)
    return [ErrorDetail(e.message, e.pointer, source) for e in errors]


def bind_criteria(
    tree: Any,
    entity: EntityDef,
    catalog: FieldTypeCatalog,
    *,
    pointer: str = "",
    source: str = "",
) -> BoundNode:
    """Check `tree` and return it bound to `entity`; raise ValidationFailed listing errors."""
    bound, errors = _bind(tree, entity, catalog, pointer)
    if errors or bound is None:
        raise ValidationFailed(
            "invalid criteria", [ErrorDetail(e.message, e.pointer, source) for e in errors]
        )
    return bound


def _bind(
    tree: Any, entity: EntityDef, catalog: FieldTypeCatalog, pointer: str
) -> tuple[BoundNode | None, list[ErrorDetail]]:
    node, errors = _parse_partial(tree, pointer)
    binder = _Binder(entity, catalog)
    bound = None if node is None else binder.bind(node)
    errors = sorted(errors + binder.errors, key=_document_order)
    return (bound if not errors else None), errors


def _document_order(error: ErrorDetail) -> tuple[tuple[int, int, str], ...]:
    """Sort key: errors in the order their pointers appear in the document."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in error.pointer.split("/")
    )


class _Binder:
    def __init__(self, entity: EntityDef, catalog: FieldTypeCatalog) -> None:
        self.entity = entity
        self.catalog = catalog
        self.errors: list[ErrorDetail] = []

    def bind(self, node: Node) -> BoundNode | None:
        if isinstance(node, And | Or):
            items = [self.bind(item) for item in node.items]
            kept = tuple(item for item in items if item is not None)
            return BoundAnd(kept) if isinstance(node, And) else BoundOr(kept)
        if isinstance(node, Not):
            inner = self.bind(node.item)
            return None if inner is None else BoundNot(inner)
        return self.bind_condition(node)

    def error(self, message: str, pointer: str) -> None:
        self.errors.append(ErrorDetail(message, pointer))

    def bind_condition(self, leaf: Condition) -> BoundCondition | None:
        field = criteria_field(self.entity, leaf.field)
        if field is None:
            self.error(f"unknown field {leaf.field!r} of {self.entity.name!r}",
                       f"{leaf.pointer}/field")
            return None
        if not self.catalog.has_type(field.type):
            self.error(f"field {field.name!r} has an unknown type {field.type!r}",
                       f"{leaf.pointer}/field")
            return None
        supported = field.operators or self.catalog.operators(field.type)
        if leaf.op not in supported:
            self.error(
                f"field {field.name!r} ({field.type}) does not support {leaf.op!r}; "
                f"use one of: {', '.join(sorted(supported))}", f"{leaf.pointer}/op")
            return None
        count = len(self.errors)
        operand = self.operand(field, leaf.op, leaf.value, f"{leaf.pointer}/value")
        if len(self.errors) > count:
            return None
        return BoundCondition(field, leaf.op, operand)

    def operand(self, field: FieldDef, op: str, value: Any, pointer: str) -> Any:
        if op == "is_null":
            if not isinstance(value, bool):
                self.error("must be true or false", pointer)
            return value
        if op in TEXT_MATCH_OPERATORS and field.type != "multi_picklist":
            if not isinstance(value, str):
                self.error("must be a string", pointer)
            elif "\x00" in value:
                # No text column can hold NUL (PostgreSQL refuses it), so nothing matches
                # and saying so beats a database error.
                self.error("must not contain NUL characters", pointer)
            return value
        if op in LIST_OPERATORS:
            if value == "$team":
                return self.variable(field, Variable("$team"), pointer)
            if not isinstance(value, list) or not value:
                self.error("must be a non-empty list of values", pointer)
                return ()
            return tuple(self.scalar(field, item, f"{pointer}/{i}")
                         for i, item in enumerate(value))
        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                self.error("must be a list of two values: [low, high]", pointer)
                return ()
            return (self.scalar(field, value[0], f"{pointer}/0"),
                    self.scalar(field, value[1], f"{pointer}/1"))
        return self.scalar(field, value, pointer)

    def scalar(self, field: FieldDef, value: Any, pointer: str) -> Any:
        variable = parse_variable(value)
        if isinstance(variable, str):
            self.error(variable, pointer)
            return None
        if variable is not None:
            if variable.name == "$team":
                self.error("$team stands for a list: use it as the whole value of "
                           "'in' or 'not_in'", pointer)
                return None
            return self.variable(field, variable, pointer)
        if value is None or isinstance(value, list):
            self.error("must be a single value" if value is not None else
                       "must not be null; use 'is_null' to find empty values", pointer)
            return None
        try:
            coerced = self.catalog.coerce(field, value)
        except ValueError as exc:
            self.error(str(exc), pointer)
            return None
        if coerced is None:
            self.error("must not be empty; use 'is_null' to find empty values", pointer)
        return coerced

    def variable(self, field: FieldDef, variable: Variable, pointer: str) -> Variable:
        allowed = VARIABLE_TYPES[variable.name]
        if field.type not in allowed:
            self.error(f"{variable.name} cannot be compared with field {field.name!r} "
                       f"({field.type}); it applies to: {', '.join(sorted(allowed))}", pointer)
        return variable
