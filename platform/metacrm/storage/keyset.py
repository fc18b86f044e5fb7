"""Sort specs, keyset conditions and opaque cursors for paging through record tables.

Keyset (seek) pagination instead of OFFSET: a page deep in a large table costs the same as
the first one, and rows inserted or deleted meanwhile neither shift nor repeat the pages.

Order: every sort key puts NULLs where PostgreSQL puts them natively — last when ascending,
first when descending — so one plain B-tree index serves both directions. `nulls_last()` /
`nulls_first()` are spelled out so SQLite orders exactly the same way. `id` is always the
final key, which makes the order total and lets a cursor name one position unambiguously.

The keyset condition "strictly after the cursor row" is built per key from that NULL rule, so
a page boundary inside a run of NULLs or of equal values neither skips nor repeats rows.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement

from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import EntityDef

SORT_ITEM = re.compile(r"^([+-]?)([a-z][a-z0-9_]*)$")
SYSTEM_SORT_KEYS = ("id", "created_at", "updated_at")
CURSOR_FORMAT = 1
MAX_CURSOR_LENGTH = 8192
MAX_SORT_KEYS = 8
UNINDEXED_SORT_ROWS = 10_000
"""Up to this many records a table is sorted on any field: without an index the database
sorts them in memory, a few milliseconds; beyond it only indexed fields keep lists fast."""


@dataclass(frozen=True, slots=True)
class SortKey:
    """One key of an ORDER BY: the SQL expression, its direction and what its values are."""

    name: str
    descending: bool
    expression: ColumnElement[Any]
    nullable: bool
    value_type: type | None
    """Python type of the values the database returns for `expression`; None if unknown."""

    @property
    def spec(self) -> str:
        return f"-{self.name}" if self.descending else self.name

    def order_by(self) -> ColumnElement[Any]:
        if self.descending:
            return self.expression.desc().nulls_first()
        return self.expression.asc().nulls_last()


def _python_type(column: ColumnElement[Any]) -> type | None:
    try:
        python_type = column.type.python_type
    except NotImplementedError:  # SQLAlchemy < 2.1 raises for types without one
        return None
    return None if python_type is object else python_type


def _key(name: str, descending: bool, expression: ColumnElement[Any]) -> SortKey:
    nullable = bool(getattr(expression, "nullable", True))
    return SortKey(name, descending, expression, nullable, _python_type(expression))


def parse_sort(
    entity: EntityDef, table: sa.Table, registry: FieldTypeRegistry, sort: Sequence[str],
    *, unindexed: bool = False,
) -> tuple[SortKey, ...]:
    """Turn `["-amount", "title"]` into sort keys ending with `id`; ValidationFailed names
    every bad item (`/sort/<i>`): malformed, unknown, not sortable or repeated.
    `unindexed`: any field of a sortable type will do, index or not (small tables)."""
    if isinstance(sort, str) or not isinstance(sort, Sequence):
        raise ValidationFailed(
            "invalid sort", [ErrorDetail("must be a list of field names", "/sort")]
        )
    errors: list[ErrorDetail] = []
    keys: list[SortKey] = []
    seen: set[str] = set()
    if len(sort) > MAX_SORT_KEYS:
        errors.append(ErrorDetail(f"at most {MAX_SORT_KEYS} sort keys", "/sort"))
    for index, item in enumerate(sort):
        pointer = f"/sort/{index}"
        match = SORT_ITEM.match(item) if isinstance(item, str) else None
        if match is None:
            errors.append(ErrorDetail("must be a field name, optionally prefixed with '-'",
                                      pointer))
            continue
        descending, name = match.group(1) == "-", match.group(2)
        if name in seen:
            errors.append(ErrorDetail(f"{name!r} is sorted on twice", pointer))
            continue
        seen.add(name)
        expression = _sort_expression(entity, table, registry, name, unindexed)
        if expression is None:
            errors.append(ErrorDetail(_unsortable_reason(entity, name), pointer))
            continue
        keys.append(_key(name, descending, expression))
        if name == "id":
            break  # id is unique: later keys could never decide anything
    if errors:
        raise ValidationFailed("invalid sort", errors)
    if not keys or keys[-1].name != "id":
        keys.append(_key("id", False, table.c.id))
    return tuple(keys)


def _sort_expression(
    entity: EntityDef, table: sa.Table, registry: FieldTypeRegistry, name: str,
    unindexed: bool,
) -> ColumnElement[Any] | None:
    if name in SYSTEM_SORT_KEYS:
        return table.c[name]
    fdef = entity.field(name)
    if fdef is None or not (unindexed or entity.sortable(name)):
        return None
    field_type = registry.get(fdef.type)
    if not field_type.sortable:
        return None
    return field_type.sort_column(fdef, table)


def _unsortable_reason(entity: EntityDef, name: str) -> str:
    if entity.field(name) is None:
        return f"{name!r} is not a field of {entity.name!r}"
    return (
        f"{entity.name!r} cannot be sorted on {name!r}: only indexed or unique fields, "
        f"id, created_at and updated_at (any field while it holds at most "
        f"{UNINDEXED_SORT_ROWS:,} records)"
    )


def order_by(keys: Sequence[SortKey]) -> list[ColumnElement[Any]]:
    return [key.order_by() for key in keys]


# --- the keyset condition ------------------------------------------------------------------


def _bound(key: SortKey, value: Any) -> ColumnElement[Any]:
    """`value` as a parameter of the key's type (booleans too: `flag > true` is valid SQL,
    but SQLAlchemy only compares Python True/False with = and IS)."""
    return sa.literal(value, key.expression.type)


def _after(key: SortKey, value: Any) -> ColumnElement[bool] | None:
    """Rows whose `key` comes strictly after `value`; None when none can."""
    column = key.expression
    if not key.descending:  # ascending, NULLs last
        if value is None:
            return None
        greater: ColumnElement[bool] = column > _bound(key, value)
        return sa.or_(greater, column.is_(None)) if key.nullable else greater
    if value is None:  # descending, NULLs first: every non-NULL comes after a NULL
        return column.is_not(None)
    less: ColumnElement[bool] = column < _bound(key, value)
    return less


def _equal(key: SortKey, value: Any) -> ColumnElement[bool]:
    if value is None:
        return key.expression.is_(None)
    equal: ColumnElement[bool] = key.expression == _bound(key, value)
    return equal


def _leading_bound(key: SortKey, value: Any) -> ColumnElement[bool] | None:
    """A redundant single-range condition on the first key that an index can seek to."""
    if not key.descending:
        if value is None:
            return key.expression.is_(None)
        return None if key.nullable else key.expression >= _bound(key, value)
    return None if value is None else key.expression <= _bound(key, value)


def after_condition(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows that come strictly after the row whose sort values are `values`.

    Nested form: k1 after v1 OR (k1 = v1 AND (k2 after v2 OR (k2 = v2 AND ...))), the last
    key being the unique `id`.
    """
    condition: ColumnElement[bool] | None = None
    for key, value in zip(reversed(keys), reversed(values), strict=True):
        after = _after(key, value)
        tail = None if condition is None else sa.and_(_equal(key, value), condition)
        parts = [part for part in (after, tail) if part is not None]
        condition = sa.or_(*parts) if len(parts) > 1 else (parts[0] if parts else None)
    if condition is None:
        return sa.false()
    bound = _leading_bound(keys[0], values[0])
    return condition if bound is None or keys[0].name == "id" else sa.and_(bound, condition)


# --- cursors ---------------------------------------------------------------------------------


def _encode_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return {"f": repr(value)}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, time):
        return {"h": value.isoformat()}
    raise TypeError(f"cannot put a {type(value).__name__} sort value into a cursor")


_DECODERS: dict[str, Any] = {
    "f": float,
    "n": Decimal,
    "t": datetime.fromisoformat,
    "d": date.fromisoformat,
    "h": time.fromisoformat,
}


def _decode_value(encoded: Any) -> Any:
    if encoded is None or isinstance(encoded, bool | int | str):
        return encoded
    if isinstance(encoded, dict) and len(encoded) == 1:
        ((tag, text),) = encoded.items()
        if tag in _DECODERS and isinstance(text, str):
            return _DECODERS[tag](text)
    raise ValueError("unknown value encoding")


def encode_cursor(entity: str, keys: Sequence[SortKey], values: Sequence[Any]) -> str:
    """An opaque, URL-safe token for the position just after the row with `values`."""
    payload = {
        "f": CURSOR_FORMAT,
        "e": entity,
        "s": [key.spec for key in keys],
        "v": [_encode_value(value) for value in values],
    }
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def position_cursor(entity: str, specs: Sequence[str], values: Sequence[Any]) -> str:
    """The cursor `encode_cursor` would give for a row with `values` under the sort `specs`
    (which must end with `id` or `-id`): a page that resumes from a known position, as the
    timeline does when it merges several entities' pages."""
    payload = {"f": CURSOR_FORMAT, "e": entity, "s": list(specs),
               "v": [_encode_value(value) for value in values]}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def cursor_error(message: str) -> ValidationFailed:
    return ValidationFailed("invalid cursor", [ErrorDetail(message, "/cursor")])


def decode_cursor(cursor: str, entity: str, keys: Sequence[SortKey]) -> list[Any]:
    """The sort values a cursor carries; ValidationFailed (`/cursor`) when it is not one of
    ours, belongs to another entity or sort, or holds values that do not fit the keys."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise cursor_error("is not a valid cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError):
        raise cursor_error("is not a valid cursor") from None
    if (
        not isinstance(payload, dict)
        or payload.get("f") != CURSOR_FORMAT
        or not isinstance(payload.get("s"), list)
        or not isinstance(payload.get("v"), list)
    ):
        raise cursor_error("is not a valid cursor")
    if payload.get("e") != entity or payload["s"] != [key.spec for key in keys]:
        raise cursor_error(
            "belongs to another query: page with the same sort as the first page"
        )
    if len(payload["v"]) != len(keys):
        raise cursor_error("is not a valid cursor")
    try:
        values = [_decode_value(item) for item in payload["v"]]
    except (ValueError, InvalidOperation, TypeError):
        raise cursor_error("is not a valid cursor") from None
    for key, value in zip(keys, values, strict=True):
        if not _fits(key, value):
            raise cursor_error("is not a valid cursor")
    return values


def _fits(key: SortKey, value: Any) -> bool:
    if value is None:
        return key.nullable
    if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
        return False  # no sort column holds more than a 64-bit integer
    if isinstance(value, Decimal) and (not value.is_finite() or value.adjusted() >= 18):
        return False  # exact decimals have at most 18 digits
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if isinstance(value, str) and "\x00" in value:
        return False  # no text column holds NUL: only a forged cursor carries one
    expected = key.value_type
    if expected is None:
        return True
    if isinstance(value, bool) and expected is not bool:
        return False
    if isinstance(value, datetime) and expected is date:
        return False
    if expected is float and isinstance(value, int):
        return True
    return isinstance(value, expected)
