"""List requests of the records API: query string or JSON body -> one checked `ListQuery`.

Two spellings of the same request (docs/api.md, "Lists"):

* `GET /records/<entity>?filter[amount][gt]=100&sort=-amount,title&fields=a,b&limit=20...`
* `POST /records/<entity>/query` with `{"filter": <criteria tree>, "sort": [...], ...}`.

Everything is checked against the compiled entity before a service sees it: filters and
sorts name only fields the metadata declares, operators are the ones the field's type
supports, and filter values go through the field type's own coercion (`check_criteria`).
Clients never send SQL: a filter becomes a criteria tree, which the storage layer binds as
parameters. Every problem is reported at once as `ValidationFailed`, each entry pointing at
the parameter (`/filter/amount/gt`, `/sort/0`, `/limit`).

Pure: no Flask. The query string arrives as (name, value) pairs, e.g. `args.items(multi=True)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from metacrm.api.filter_parsing import (
    NUL,
    FilterParser,
    FilterSource,
    RequestChecks,
    conjunction,
    escape,
    leaf_source,
    request_pointer,
    split_values,
)
from metacrm.criteria.tree import budget_errors
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import SYSTEM_COLUMNS, EntityDef

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_SORT_KEYS = 8
MAX_Q_LENGTH = 200
MAX_CURSOR_LENGTH = 8192
SYSTEM_SORT_KEYS = ("id", "created_at", "updated_at")
LIST_PARAMETERS = ("filter", "sort", "fields", "limit", "cursor", "q", "include")
LIST_PROBLEM = "invalid list request"

_FILTER_KEY = re.compile(r"^filter\[([^\[\]]*)\](?:\[([^\[\]]*)\])?$")
_SORT_ITEM = re.compile(r"^([+-]?)([a-z][a-z0-9_]*)$")


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A checked list request, ready for `RecordsService.list`."""

    criteria: Any = None
    """A criteria tree (JSON form) or None for all records."""
    sort: tuple[str, ...] = ()
    fields: tuple[str, ...] | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    q: str | None = None
    include: tuple[str, ...] = ()
    sources: tuple[FilterSource, ...] = ()
    """Where each conjunct of `criteria` came from, for error pointers (`request_pointer`)."""

    def locate(self, criteria_pointer: str) -> str:
        """The request's pointer for a pointer into `criteria` (errors found later, e.g.
        a field hidden from the caller)."""
        if not self.sources:
            return "/filter" + criteria_pointer
        return request_pointer(self.sources, criteria_pointer)


def sortable_names(entity: EntityDef, registry: FieldTypeRegistry, *,
                   unindexed: bool = False) -> tuple[str, ...]:
    """Names a list of `entity` may be sorted on (indexed fields, id and timestamps);
    `unindexed`: every field of a sortable type (the repository still refuses one without
    an index on a big table)."""
    names = [
        f.name for f in entity.fields
        if (unindexed or entity.sortable(f.name)) and registry.has_type(f.type)
        and registry.get(f.type).sortable
    ]
    return (*SYSTEM_SORT_KEYS, *names)


def selectable_names(entity: EntityDef) -> tuple[str, ...]:
    """Names `fields=` may ask for: the system columns and the entity's fields."""
    return (*SYSTEM_COLUMNS, *entity.field_names)


def includable_names(entity: EntityDef) -> tuple[str, ...]:
    """Reference fields whose records `include=` may inline."""
    return tuple(f.name for f in entity.fields if f.type == "reference")


# --- the query string ---------------------------------------------------------------------


def parse_list_args(
    pairs: Iterable[tuple[str, str]], entity: EntityDef, registry: FieldTypeRegistry, *,
    unindexed_sort: bool = False,
) -> ListQuery:
    """A list request from query-string pairs; ValidationFailed lists every problem.
    `unindexed_sort`: let any field of a sortable type through (the screens' lists; the
    repository decides by the table's size)."""
    collected: dict[str, list[str]] = {}
    filters: list[tuple[str, str | None, str]] = []
    errors: list[ErrorDetail] = []
    for name, value in pairs:
        match = _FILTER_KEY.match(name)
        if NUL in name or NUL in value:
            errors.append(ErrorDetail("must not contain NUL characters", f"/{escape(name)}"))
        elif match is not None:
            filters.append((match.group(1), match.group(2), value))
        elif name.startswith("filter["):
            errors.append(ErrorDetail(
                f"malformed filter parameter {name!r}: write filter[<field>][<operator>]=<value>",
                "/filter"))
        elif name in LIST_PARAMETERS:
            collected.setdefault(name, []).append(value)
        else:
            errors.append(ErrorDetail(
                f"unknown parameter {name!r}; use: {', '.join(LIST_PARAMETERS)}",
                f"/{escape(name)}"))
    for name, values in collected.items():
        if len(values) > 1 and name not in ("sort", "fields", "include"):
            errors.append(ErrorDetail("is given more than once", f"/{name}"))
    parser = _Parser(entity, registry, errors)
    parser.unindexed_sort = unindexed_sort
    filter_parser = FilterParser(entity, registry, errors)
    trees: list[Any] = []
    sources: list[FilterSource] = []
    if "filter" in collected:
        tree = filter_parser.filter_json(collected["filter"][0])
        if tree is not None:
            trees.append(tree)
            sources.append(FilterSource("/filter"))
    leaves = filter_parser.filter_params(filters)
    trees.extend(leaves)
    sources.extend(leaf_source(leaf) for leaf in leaves)
    criteria = conjunction(trees)
    # Each part was checked on its own; together they must still fit one tree's budget.
    errors.extend(ErrorDetail(e.message, request_pointer(sources, e.pointer))
                  for e in budget_errors(criteria))
    query = ListQuery(
        criteria=criteria,
        sources=tuple(sources),
        sort=parser.sort(split_values(collected.get("sort", ()))),
        fields=parser.fields(split_values(collected["fields"])) if "fields" in collected else None,
        limit=parser.limit_text(collected.get("limit", [None])[0]),
        cursor=parser.cursor(collected.get("cursor", [None])[0]),
        q=parser.q(collected.get("q", [None])[0]),
        include=parser.include(split_values(collected.get("include", ()))),
    )
    if errors:
        raise ValidationFailed(LIST_PROBLEM, errors)
    return query


def parse_include_args(
    pairs: Iterable[tuple[str, str]], entity: EntityDef
) -> tuple[str, ...]:
    """`include=` of a single-record request (the only parameter it takes)."""
    errors: list[ErrorDetail] = []
    values: list[str] = []
    for name, value in pairs:
        if NUL in name or NUL in value:
            errors.append(ErrorDetail("must not contain NUL characters", f"/{escape(name)}"))
        elif name == "include":
            values.append(value)
        else:
            errors.append(ErrorDetail(f"unknown parameter {name!r}; use: include",
                                      f"/{escape(name)}"))
    include = _include(entity, split_values(values), errors)
    if errors:
        raise ValidationFailed("invalid request", errors)
    return include


def single_parameters(pairs: Iterable[tuple[str, str]], allowed: tuple[str, ...],
                      errors: list[ErrorDetail]) -> dict[str, str]:
    """Query parameters each given at most once, among `allowed`, each a non-empty value
    without NUL of at most 4,096 characters; every other one is reported in `errors` at its
    name (`/name`)."""
    values: dict[str, str] = {}
    for name, value in pairs:
        pointer = f"/{escape(name)}"
        if name not in allowed:
            errors.append(ErrorDetail(f"unknown parameter {name!r}; use: {', '.join(allowed)}",
                                      pointer))
        elif name in values:
            errors.append(ErrorDetail("is given more than once", pointer))
        elif NUL in value or len(value) > 4096 or not value:
            errors.append(ErrorDetail("is not a valid value", pointer))
        else:
            values[name] = value
    return values


def reject_parameters(pairs: Iterable[tuple[str, str]]) -> None:
    """Requests that take no query parameters refuse any (a typo must not pass silently)."""
    errors = [ErrorDetail(f"unknown parameter {name!r}; this request takes none",
                          f"/{escape(name)}") for name, _ in pairs]
    if errors:
        raise ValidationFailed("invalid request", errors)


# --- the JSON body of POST .../query ------------------------------------------------------


def parse_query_body(body: Any, entity: EntityDef, registry: FieldTypeRegistry) -> ListQuery:
    """A list request from a JSON body `{"filter", "sort", "fields", "limit", "cursor", "q",
    "include"}` (every key optional); ValidationFailed lists every problem."""
    if not isinstance(body, Mapping):
        raise ValidationFailed(LIST_PROBLEM, [ErrorDetail("must be a JSON object", "")])
    errors: list[ErrorDetail] = [
        ErrorDetail(f"unknown key {key!r}; use: {', '.join(LIST_PARAMETERS)}",
                    f"/{escape(str(key))}")
        for key in body if key not in LIST_PARAMETERS
    ]
    parser = _Parser(entity, registry, errors)
    criteria = body.get("filter")
    if criteria is not None:
        FilterParser(entity, registry, errors).check_tree(criteria)
    fields = body.get("fields")
    query = ListQuery(
        criteria=criteria,
        sort=parser.sort(parser.string_list(body.get("sort"), "/sort") or ()),
        fields=None if fields is None else parser.fields(parser.string_list(fields, "/fields")),
        limit=parser.limit_value(body.get("limit")),
        cursor=parser.cursor(body.get("cursor")),
        q=parser.q(body.get("q")),
        include=parser.include(parser.string_list(body.get("include"), "/include") or ()),
    )
    if errors:
        raise ValidationFailed(LIST_PROBLEM, errors)
    return query


# --- the shared checks ----------------------------------------------------------------------


class _Parser(RequestChecks):
    """Checks of the sort, fields and include parts of a list request."""

    # sort, fields, include -----------------------------------------------------------
    unindexed_sort = False

    def sort(self, items: Iterable[str]) -> tuple[str, ...]:
        allowed = sortable_names(self.entity, self.registry, unindexed=self.unindexed_sort)
        kept: list[str] = []
        seen: set[str] = set()
        items = list(items)
        if len(items) > MAX_SORT_KEYS:
            self.error(f"at most {MAX_SORT_KEYS} sort keys", "/sort")
        for index, item in enumerate(items):
            pointer = f"/sort/{index}"
            match = _SORT_ITEM.match(item)
            if match is None:
                self.error("must be a field name, optionally prefixed with '-'", pointer)
                continue
            name = match.group(2)
            if name in seen:
                self.error(f"{name!r} is sorted on twice", pointer)
            elif name not in allowed:
                self.error(self.unsortable(name), pointer)
            else:
                seen.add(name)
                kept.append(f"-{name}" if match.group(1) == "-" else name)
        return tuple(kept)

    def unsortable(self, name: str) -> str:
        if name not in selectable_names(self.entity):
            return f"{name!r} is not a field of {self.entity.name!r}"
        return (f"{self.entity.name!r} cannot be sorted on {name!r}: only on id, created_at, "
                "updated_at and indexed fields (the OpenAPI document lists them)")

    def fields(self, items: Iterable[str] | None) -> tuple[str, ...] | None:
        if items is None:
            return None
        allowed = selectable_names(self.entity)
        kept: list[str] = []
        for index, name in enumerate(items):
            if name not in allowed:
                self.error(f"{name!r} is not a field of {self.entity.name!r}", f"/fields/{index}")
            elif name not in kept:
                kept.append(name)
        if not kept and not any(e.pointer.startswith("/fields") for e in self.errors):
            self.error("must name at least one field", "/fields")
        return tuple(kept)

    def include(self, items: Iterable[str]) -> tuple[str, ...]:
        return _include(self.entity, items, self.errors)

    def string_list(self, value: Any, pointer: str) -> list[str] | None:
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.error("must be a list of strings", pointer)
            return None
        return value

    # limit, cursor, q ------------------------------------------------------------------
    def limit_text(self, text: str | None) -> int:
        if text is None:
            return DEFAULT_LIMIT
        stripped = text.strip()
        if not stripped.isascii() or not stripped.isdigit() or len(stripped) > 6:
            self.error(f"must be a whole number from 1 to {MAX_LIMIT}", "/limit")
            return DEFAULT_LIMIT
        return self.limit_value(int(stripped))

    def limit_value(self, value: Any) -> int:
        if value is None:
            return DEFAULT_LIMIT
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON numbers: 50.0 is the whole number 50
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
            self.error(f"must be a whole number from 1 to {MAX_LIMIT}", "/limit")
            return DEFAULT_LIMIT
        return value

    def cursor(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value or len(value) > MAX_CURSOR_LENGTH:
            self.error("is not a valid cursor", "/cursor")
            return None
        return value

    def q(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.error("must be a string", "/q")
            return None
        if len(value) > MAX_Q_LENGTH:
            self.error(f"is longer than {MAX_Q_LENGTH} characters", "/q")
            return None
        return value.strip() or None


def _include(entity: EntityDef, items: Iterable[str], errors: list[ErrorDetail]
             ) -> tuple[str, ...]:
    allowed = includable_names(entity)
    kept: list[str] = []
    for index, name in enumerate(items):
        if name not in allowed:
            errors.append(ErrorDetail(f"{name!r} is not a reference field of {entity.name!r}",
                                      f"/include/{index}"))
        elif name in kept:
            errors.append(ErrorDetail(f"{name!r} is included twice", f"/include/{index}"))
        else:
            kept.append(name)
    return tuple(kept)
