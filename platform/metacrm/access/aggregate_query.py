"""What a report asks the access layer for, as data: dimensions and measures over paths.

A path is a field of the entity or `reference.field` (one hop). The scoped repository
turns an `AggregateQuery` into one SQL statement (`access.scoped_aggregates`), refusing
fields hidden from the subject exactly like unknown ones and counting only the rows (and
joined records) the subject may read. `pointer` says where in the caller's document a
dimension or measure came from, so errors name it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

MEASURE_OPS = frozenset({"count", "count_values", "count_distinct", "sum", "min", "max",
                         "weighted_sum", "values"})
"""`count_values`: records with a value; `weighted_sum`: SUM(value x weight of another
path's value), weights in percent (the caller divides by 100); `values`: the group's
non-empty values as one comma-separated text (for a median, computed by the caller)."""


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Dimension:
    """Group by a path's value, its date bucket, or its value mapped to a label (values
    absent from `mapping` group as None)."""

    path: str
    bucket: str | None = None
    mapping: Mapping[str, str] | None = None
    pointer: str = ""


@dataclass(frozen=True, slots=True)
class Measure:
    """One aggregate; only the rows matching `criteria` (a tree over the entity), `where`
    (path -> allowed values) and, for money, `currency` count."""

    op: str
    path: str | None = None
    criteria: Any = None
    where: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    currency: str | None = None
    weight_path: str | None = None
    weights: Mapping[str, int] = field(default_factory=_empty)
    pointer: str = ""


@dataclass(frozen=True, slots=True)
class AggregateQuery:
    """Dimensions x measures over the readable records matching `criteria` and `where`;
    date buckets in `time_zone`, fiscal years starting in month `fiscal_start`."""

    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    criteria: Any = None
    where: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    time_zone: str = "UTC"
    fiscal_start: int = 1
    criteria_pointer: str = "/filter"
    where_pointer: str = "/where"
    run_criteria: Any = None
    """The run's own filters (period, owner, team), a criteria tree over the entity."""


@dataclass(frozen=True, slots=True)
class StateEntry:
    """A record entering a state (from the audit trail), with the record's current state."""

    record_id: str
    state: str | None
    at: Any
    current: str | None
