"""Criteria -> a SQLAlchemy boolean expression over an entity's table (lists, reports, scopes).

Mirrors `criteria.predicate` exactly. SQL comparisons with NULL are unknown, and NOT unknown
is still unknown, which would make `not` drop rows the Python predicate keeps; so each leaf
is made two-valued: comparisons are ANDed with `IS NOT NULL`, `ne`/`not_in` ORed with
`IS NULL`. `contains`/`starts_with` use `lower(column) LIKE lower(pattern)` (PostgreSQL:
`ILIKE`) with escaping, so `%` and `_` in a search match literally; SQLite connections must
register `metacrm.criteria.casefold.sql_lower` as `lower()` (the engine setup does).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Table

from metacrm.criteria.context import CriteriaContext, Variable, resolve
from metacrm.criteria.predicate import CriteriaTypes
from metacrm.criteria.tree import (
    BoundAnd,
    BoundCondition,
    BoundNode,
    BoundNot,
    BoundOr,
    bind_criteria,
)
from metacrm.metadata.model import EntityDef, FieldDef


class SortableType(Protocol):
    def sort_column(self, field: FieldDef, table: Table) -> ColumnElement[Any]:
        """The column criteria compare (money: its amount column)."""
        ...


class SqlCriteriaTypes(CriteriaTypes, Protocol):
    def get(self, type_name: str) -> Any: ...


def compile_sql(
    tree: Any,
    entity: EntityDef,
    table: Table,
    registry: SqlCriteriaTypes,
    context: CriteriaContext,
) -> ColumnElement[bool]:
    """Compile `tree` into a WHERE clause on `table`; raises ValidationFailed when invalid."""
    return _compile(bind_criteria(tree, entity, registry), table, registry, context)


def _compile(
    node: BoundNode, table: Table, registry: SqlCriteriaTypes, context: CriteriaContext
) -> ColumnElement[bool]:
    if isinstance(node, BoundAnd):
        return sa.and_(*(_compile(item, table, registry, context) for item in node.items))
    if isinstance(node, BoundOr):
        return sa.or_(*(_compile(item, table, registry, context) for item in node.items))
    if isinstance(node, BoundNot):
        return sa.not_(_compile(node.item, table, registry, context))
    return _leaf(node, table, registry, context)


def _value(field: FieldDef, operand: Any, context: CriteriaContext) -> Any:
    return resolve(operand, field.type, context) if isinstance(operand, Variable) else operand


def _leaf(
    node: BoundCondition, table: Table, registry: SqlCriteriaTypes, context: CriteriaContext
) -> ColumnElement[bool]:
    field, op, operand = node.field, node.op, node.operand
    sort_type: SortableType = registry.get(field.type)
    column = sort_type.sort_column(field, table)
    present = column.is_not(None)
    if op == "is_null":
        return column.is_(None) if operand else present
    if op in ("contains", "starts_with") and field.type == "multi_picklist":
        return sa.and_(present, column.contains(f";{operand};", autoescape=True))
    if op == "contains":
        return sa.and_(present, column.icontains(operand, autoescape=True))
    if op == "starts_with":
        return sa.and_(present, column.istartswith(operand, autoescape=True))
    if op in ("in", "not_in"):
        resolved = _value(field, operand, context) if isinstance(operand, Variable) else [
            _value(field, item, context) for item in operand
        ]
        members = [item for item in resolved if item is not None]
        if op == "in":
            return sa.and_(present, column.in_(members)) if members else sa.false()
        return sa.or_(column.is_(None), column.not_in(members)) if members else sa.true()
    if op == "between":
        low, high = (_value(field, item, context) for item in operand)
        if low is None or high is None:
            return sa.false()
        return sa.and_(present, column.between(low, high))
    target = _value(field, operand, context)
    if op == "ne":
        return sa.true() if target is None else sa.or_(column.is_(None), column != target)
    if target is None:
        return sa.false()
    comparison: ColumnElement[bool] = _COMPARISONS[op](column, target)
    return sa.and_(present, comparison)


_COMPARISONS: Mapping[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
