"""Filters of a list request: `filter[<field>][<op>]=<value>` parameters and `filter=<JSON>`.

Both become criteria trees (the one condition language of metacrm). Query-string values are
text; they are handed to the criteria checker as they are, so each field type coerces them
its own way (`"100"` for an integer, `"true"` for a boolean, `"12.50"` for money); only the
shape is decided here: `is_null` takes true/false, `in`/`not_in` a comma-separated list
(or the parameter repeated), `between` two comma-separated bounds, and a date or datetime
may be a relative date object (`{"$today":{"days":-7}}`). Errors point at the parameter:
`/filter/<field>` for an unknown field, `/filter/<field>/<op>` (plus `/<i>` for one item of
a list) for an operator or value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metacrm.criteria.tree import MAX_DEPTH, check_criteria, criteria_field
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import ErrorDetail
from metacrm.metadata.model import EntityDef

MAX_FILTER_JSON_LENGTH = 20_000
LIST_OPERATORS = frozenset({"in", "not_in"})
RELATIVE_DATE_TYPES = frozenset({"date", "datetime"})
NUL = "\x00"


@dataclass(frozen=True, slots=True)
class FilterSource:
    """Where one conjunct of a list request's criteria came from: a JSON tree written at
    `pointer` (`/filter`), or the parameter `filter[<field>][<op>]` (`field` set)."""

    pointer: str
    field: str | None = None


def request_pointer(sources: Sequence[FilterSource], pointer: str) -> str:
    """The request's pointer for `pointer` inside the criteria made of `sources` (several
    sources are ANDed: `/and/<i>/...` belongs to source i)."""
    rest = pointer
    source = sources[0] if len(sources) == 1 else None
    if source is None:
        head, _, tail = pointer.removeprefix("/and/").partition("/")
        if not pointer.startswith("/and/") or not head.isdigit() or int(head) >= len(sources):
            return "/filter"
        source, rest = sources[int(head)], f"/{tail}" if tail else ""
    if source.field is None:
        return source.pointer + rest
    return _leaf_pointer(rest, source.field, source.pointer)


def leaf_source(leaf: Mapping[str, Any]) -> FilterSource:
    """The source of a leaf made from a `filter[<field>][<op>]` parameter."""
    field, op = str(leaf["field"]), str(leaf["op"])
    return FilterSource(f"/filter/{escape(field)}/{escape(op)}", field)


class RequestChecks:
    """Checks of one part of a list request against an entity; every problem is appended to
    the shared `errors`, so one answer lists them all."""

    def __init__(self, entity: EntityDef, registry: FieldTypeRegistry,
                 errors: list[ErrorDetail]) -> None:
        self.entity = entity
        self.registry = registry
        self.errors = errors

    def error(self, message: str, pointer: str) -> None:
        self.errors.append(ErrorDetail(message, pointer))


class FilterParser(RequestChecks):
    """Turns filter parameters into criteria; problems are appended to `errors`."""

    def filter_json(self, text: str) -> Any:
        if len(text) > MAX_FILTER_JSON_LENGTH:
            self.error(f"is longer than {MAX_FILTER_JSON_LENGTH} characters", "/filter")
            return None
        try:
            tree = json.loads(text, parse_constant=refuse_constant)
        except (ValueError, RecursionError) as exc:
            self.error(f"is not a JSON criteria tree: {exc}", "/filter")
            return None
        return tree if self.check_tree(tree) else None

    def check_tree(self, tree: Any) -> bool:
        found = check_criteria(tree, self.entity, self.registry, pointer="/filter")
        reported = {error.pointer for error in found}
        found += [ErrorDetail("must not contain NUL characters", pointer)
                  for pointer in nul_pointers(tree, "/filter") if pointer not in reported]
        self.errors.extend(found)
        return not found

    def filter_params(self, filters: list[tuple[str, str | None, str]]) -> list[Any]:
        """`filter[field][op]=value` parameters -> criteria leaves (one per field and op)."""
        grouped: dict[tuple[str, str], list[str]] = {}
        for field, op, value in filters:
            grouped.setdefault((field, op or "eq"), []).append(value)
        leaves = []
        for (field, op), values in grouped.items():
            leaf = self.filter_leaf(field, op, values)
            if leaf is not None:
                leaves.append(leaf)
        return leaves

    def filter_leaf(self, field: str, op: str, values: list[str]) -> Any:
        pointer = f"/filter/{escape(field)}/{escape(op)}"
        if op not in LIST_OPERATORS and len(values) > 1:
            self.error("is given more than once", pointer)
            return None
        value = self.filter_value(field, op, values, pointer)
        if value is _INVALID:
            return None
        leaf = {"field": field, "op": op, "value": value}
        found = check_criteria(leaf, self.entity, self.registry)
        for detail in found:
            self.error(detail.message, _leaf_pointer(detail.pointer, field, pointer))
        return None if found else leaf

    def filter_value(self, field: str, op: str, values: list[str], pointer: str) -> Any:
        if op == "is_null":
            word = values[0].strip().lower()
            if word not in ("true", "false"):
                self.error("must be true or false", pointer)
                return _INVALID
            return word == "true"
        if op in LIST_OPERATORS:
            if values == ["$team"]:
                return "$team"
            items = split_values(values)
            if not items or any(not item for item in items):
                self.error("must be a comma-separated list of values", pointer)
                return _INVALID
            return items
        if op == "between":
            bounds = [item.strip() for item in values[0].split(",")]
            if len(bounds) != 2 or not all(bounds):
                self.error("must be two comma-separated values: low,high", pointer)
                return _INVALID
            return [self.relative(field, bound) for bound in bounds]
        return self.relative(field, values[0])

    def relative(self, field: str, text: str) -> Any:
        """A date or datetime filter may use a relative date object: {"$today":{"days":-7}}."""
        definition = criteria_field(self.entity, field)
        if (definition is not None and definition.type in RELATIVE_DATE_TYPES
                and text.lstrip().startswith("{")):
            try:
                return json.loads(text, parse_constant=refuse_constant)
            except (ValueError, RecursionError):
                return text  # the field type reports it as not a date
        return text


class _Invalid:
    """Marks a filter value already reported as invalid."""


_INVALID = _Invalid()


def _leaf_pointer(pointer: str, field: str, leaf: str) -> str:
    """A criteria error inside a one-leaf tree -> the query parameter's pointer."""
    if pointer == "/field":
        return f"/filter/{escape(field)}"
    if pointer.startswith("/value/"):
        return leaf + pointer[len("/value"):]
    return leaf


def nul_pointers(value: Any, pointer: str, depth: int = 0) -> list[str]:
    """Where a JSON value holds text with a NUL character (no text column can store one,
    so a comparison with it can only fail in the database)."""
    if isinstance(value, str):
        return [pointer] if NUL in value else []
    if depth > MAX_DEPTH:
        return []
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            found += nul_pointers(item, f"{pointer}/{escape(str(key))}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += nul_pointers(item, f"{pointer}/{index}", depth + 1)
    return found


def conjunction(trees: list[Any]) -> Any:
    """One tree meaning all of `trees` (None for none)."""
    if not trees:
        return None
    return trees[0] if len(trees) == 1 else {"and": trees}


def split_values(values: Iterable[str]) -> list[str]:
    """Comma-separated values of every occurrence of a parameter, stripped, in order; an
    empty parameter (`sort=`) is an empty list."""
    return [item.strip() for value in values if value.strip() for item in value.split(",")]


def escape(token: str) -> str:
    """A JSON Pointer reference token."""
    return token.replace("~", "~0").replace("/", "~1")


def refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")
