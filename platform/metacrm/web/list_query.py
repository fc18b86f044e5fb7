"""The state of a list page (columns, filter, sort, quick search, page) and its URLs.

A list page is fully described by its query string, so every state is a link: sort
headers, pagination and saved views are plain GET requests and work without scripts.

* `view=<saved view id>` or `view=meta:<list view name>` picks the starting point; no
  `view` is the entity's default list view (metadata), else no filter and default columns.
* Parameters given replace the view's: `columns`, `sort`, `q`, and the filter (any filter
  parameter, or `custom=1`, which says the query string carries the whole filter — an
  absent one was cleared by the user).
* Filters: the API's `filter[<field>][<op>]=<value>` parameters and `filter=<JSON tree>`,
  plus the builder form's rows `ff`/`fo`/`fv` (field, operator, value; a plain HTML form
  cannot name its inputs after the chosen field). Everything is checked by the API's
  parser (`api.request_parsing.parse_list_args`) against the fields the user may see, so a
  screen filter means exactly what the same API filter means.

Pure: no Flask; arguments arrive as (name, value) pairs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from metacrm.api.filter_parsing import split_values
from metacrm.api.request_parsing import DEFAULT_LIMIT, ListQuery, parse_list_args
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import SYSTEM_COLUMNS, EntityDef
from metacrm.services.users.saved_views import ViewDefinition

TRAIL_SEPARATOR = "~"
FIRST_PAGE = "."
"""Stands for the first page in a trail (cursors are URL-safe base64: no `~` or `.`)."""
MAX_TRAIL = 20

MAX_PAGE_SIZE = 200
PAGE_SIZES = (25, 50, 100, 200)
ROW_FIELD, ROW_OP, ROW_VALUE = "ff", "fo", "fv"
LIST_OPERATORS = ("in", "not_in")


@dataclass(frozen=True)
class FilterRow:
    """One condition of the filter builder, its value as the user types it."""

    field: str
    op: str
    value: str

    @property
    def parameter(self) -> tuple[str, str]:
        return f"filter[{self.field}][{self.op}]", self.value


@dataclass(frozen=True)
class ListState:
    """A checked list request: what to show and how to link to variations of it."""

    view: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[FilterRow, ...] = ()
    filter_json: str = ""
    sort: tuple[str, ...] = ()
    q: str = ""
    cursor: str | None = None
    trail: tuple[str, ...] = ()
    """The cursors of the pages before this one ("" for the first), for Previous."""
    limit: int = DEFAULT_LIMIT
    query: ListQuery | None = None
    """The parsed request; None when `errors` says what is wrong with it."""
    errors: tuple[ErrorDetail, ...] = field(default=())

    @property
    def criteria(self) -> Any:
        return self.query.criteria if self.query is not None else None

    def definition(self) -> ViewDefinition:
        """What a saved view of this state remembers."""
        return ViewDefinition(columns=self.columns, filter=self.criteria,
                              sort=self.sort, q=self.q or None)

    def pairs(self, *, cursor: str | None = None, trail: Sequence[str] = (),
              **changes: Any) -> list[tuple[str, str]]:
        """The query string of this state (first page unless `cursor`), with changes."""
        state = replace(self, **changes) if changes else self
        pairs: list[tuple[str, str]] = []
        if state.view:
            pairs.append(("view", state.view))
        pairs.append(("custom", "1"))
        if state.columns:
            pairs.append(("columns", ",".join(state.columns)))
        if state.q:
            pairs.append(("q", state.q))
        pairs.extend(row.parameter for row in state.rows)
        if state.filter_json:
            pairs.append(("filter", state.filter_json))
        if state.sort:
            pairs.append(("sort", ",".join(state.sort)))
        if state.limit != DEFAULT_LIMIT:
            pairs.append(("limit", str(state.limit)))
        if cursor:
            pairs.append(("cursor", cursor))
            if trail:
                pairs.append(("trail", TRAIL_SEPARATOR.join(
                    c or FIRST_PAGE for c in trail[-MAX_TRAIL:])))
        return pairs

    def url(self, path: str, *, cursor: str | None = None, trail: Sequence[str] = (),
            **changes: Any) -> str:
        return f"{path}?{urlencode(self.pairs(cursor=cursor, trail=trail, **changes))}"

    def next_url(self, path: str, cursor: str) -> str:
        """The next page; it remembers this page's cursor for its Previous link."""
        return self.url(path, cursor=cursor, trail=(*self.trail, self.cursor or ""))

    def previous_url(self, path: str) -> str | None:
        """The page before this one (None on the first page). Keyset pages only go
        forward, so the cursors of earlier pages travel in the URL (`trail`); beyond the
        last `MAX_TRAIL` pages Previous leads to the first page."""
        if not self.cursor:
            return None
        before = self.trail[-1] if self.trail else ""
        return self.url(path, cursor=before or None, trail=self.trail[:-1])

    def sort_url(self, path: str, name: str) -> str:
        """Sort on `name` ascending; when it already is, descending."""
        key = f"-{name}" if self.sort[:1] == (name,) else name
        return self.url(path, sort=(key,))

    def sort_direction(self, name: str) -> str | None:
        if self.sort[:1] == (name,):
            return "ascending"
        if self.sort[:1] == (f"-{name}",):
            return "descending"
        return None


def resolve(
    pairs: Iterable[tuple[str, str]], base: ViewDefinition, entity: EntityDef,
    registry: FieldTypeRegistry, *, view: str = "",
) -> ListState:
    """The list state of a request, starting from the view `base` (see module docstring)."""
    base = visible_part(base, entity)
    args = [(name, value) for name, value in pairs]
    single = {name: value for name, value in args}
    columns = tuple(split_values(v for n, v in args if n == "columns")) or base.columns
    sort = tuple(split_values(v for n, v in args if n == "sort")) or base.sort
    q = single["q"].strip() if "q" in single else (base.q or "")
    rows = tuple(_rows(args))
    filter_json = single.get("filter", "").strip()
    if not ("custom" in single or rows or filter_json):
        flat = leaf_rows(base.filter)
        rows = tuple(flat) if flat is not None else ()
        filter_json = "" if flat is not None else json.dumps(base.filter, ensure_ascii=False)
    state = ListState(view=view, columns=columns, rows=rows, filter_json=filter_json,
                      sort=sort, q=q, cursor=single.get("cursor") or None,
                      trail=_trail(single.get("trail", "")),
                      limit=_limit(single.get("limit")))
    request = [row.parameter for row in rows]
    if filter_json:
        request.append(("filter", filter_json))
    if sort:
        request.append(("sort", ",".join(sort)))
    if q:
        request.append(("q", q))
    if state.cursor:
        request.append(("cursor", state.cursor))
    request.append(("limit", str(state.limit)))
    try:
        query = parse_list_args(request, entity, registry, unindexed_sort=True)
    except ValidationFailed as error:
        return replace(state, errors=error.errors)
    return replace(state, query=query)


def _trail(text: str) -> tuple[str, ...]:
    parts = [part for part in text.split(TRAIL_SEPARATOR) if part][-MAX_TRAIL:]
    return tuple("" if part == FIRST_PAGE else part for part in parts)


def visible_part(base: ViewDefinition, entity: EntityDef) -> ViewDefinition:
    """The view without what names fields hidden from the user (`entity` is the entity as
    they may know it): a view is written by an admin for everyone, and a sort or condition
    on a field someone cannot see must neither fail their list nor reveal the field's
    values through the order or the rows it leaves out. Leaving out a condition never
    widens the rows beyond the user's read scope, which the records service applies."""
    known = {*entity.field_names, *SYSTEM_COLUMNS}
    sort = tuple(key for key in base.sort if key.lstrip("-") in known)
    return replace(base, sort=sort, filter=_known_conditions(base.filter, known))


def _known_conditions(tree: Any, known: set[str]) -> Any:
    """`tree` itself when it names only known fields; of an AND, the conditions that do;
    otherwise no filter (what remains of an OR or a NOT would mean something else)."""
    if tree is None or _names_only(tree, known):
        return tree
    if isinstance(tree, Mapping) and set(tree) == {"and"} and isinstance(tree["and"], list):
        kept = [condition for condition in tree["and"] if _names_only(condition, known)]
        return {"and": kept} if kept else None
    return None


def _names_only(tree: Any, known: set[str]) -> bool:
    """Whether every field the criteria tree names is in `known`."""
    if isinstance(tree, Mapping):
        if "field" in tree and tree["field"] not in known:
            return False
        return all(_names_only(value, known) for value in tree.values())
    if isinstance(tree, list):
        return all(_names_only(item, known) for item in tree)
    return True


def _rows(args: Sequence[tuple[str, str]]) -> list[FilterRow]:
    """Builder rows (ff/fo/fv, in order; blank ones skipped) and filter[f][op] parameters."""
    fields = [v for n, v in args if n == ROW_FIELD]
    ops = [v for n, v in args if n == ROW_OP]
    values = [v for n, v in args if n == ROW_VALUE]
    rows = [FilterRow(name.strip(), (op.strip() or "eq"), value)
            for name, op, value in zip(fields, _padded(ops, len(fields)),
                                       _padded(values, len(fields)), strict=True)
            if name.strip()]
    for name, value in args:
        if name.startswith("filter[") and name.endswith("]"):
            inner = name[len("filter["):-1]
            field_name, _, op = inner.partition("][")
            rows.append(FilterRow(field_name, op or "eq", value))
    return rows


def _padded(items: list[str], size: int) -> list[str]:
    return (items + [""] * size)[:size]


def _limit(text: str | None) -> int:
    if text and text.strip().isdigit():
        return max(1, min(int(text.strip()), MAX_PAGE_SIZE))
    return DEFAULT_LIMIT


def leaf_rows(tree: Any) -> list[FilterRow] | None:
    """The builder rows meaning `tree` — when it is one condition or an AND of conditions
    whose values the row form can spell; None when only the JSON form can."""
    if tree is None:
        return []
    if not isinstance(tree, Mapping):
        return None
    leaves = tree.get("and") if set(tree) == {"and"} else [tree]
    if not isinstance(leaves, list):
        return None
    rows: list[FilterRow] = []
    seen: set[tuple[str, str]] = set()
    for leaf in leaves:
        if not isinstance(leaf, Mapping) or set(leaf) - {"field", "op", "value"}:
            return None
        name, op = leaf.get("field"), leaf.get("op", "eq")
        if not isinstance(name, str) or not isinstance(op, str) or (name, op) in seen:
            return None
        text = _value_text(op, leaf.get("value"))
        if text is None:
            return None
        seen.add((name, op))
        rows.append(FilterRow(name, op, text))
    return rows


def _value_text(op: str, value: Any) -> str | None:
    if op == "is_null":
        return _scalar_text(value) if isinstance(value, bool) else None
    if op in LIST_OPERATORS or op == "between":
        if value == "$team" and op in LIST_OPERATORS:
            return "$team"
        if not isinstance(value, list) or not value or (op == "between" and len(value) != 2):
            return None
        texts = [_scalar_text(item) for item in value]
        if any(t is None or "," in t or not t.strip() or t != t.strip() for t in texts):
            return None
        return ",".join(t for t in texts if t is not None)
    if isinstance(value, Mapping):  # a relative date: {"$today": {"days": -7}}
        return json.dumps(value)
    return _scalar_text(value)


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal | str):
        return str(value)
    return None
