"""Computed fields of OTHER records, kept up to date in the change's transaction.

A write listener (`services.records.unit_of_work.TransactionListener`): before the commit it reads
the command's events and recomputes

* rollups: a child created, deleted, re-parented (both parents), or changed in a field the
  rollup reads (the aggregated field, its filter's fields) recomputes its parent's rollup;
* formulas through references: a record changed in a field that formulas of other
  entities read (`line.product.list_price`) recomputes those formulas on every record that
  points at it — at most `MAX_FANOUT` records per changed record: a change that would
  recompute more is refused (422 naming the field), never half-applied;

then the formulas of each recomputed record that read what changed. Before a rollup
aggregates a formula field, children whose stored value is still empty (records older than
the formula) get their formulas computed and stored, so adding a formula to an entity
with data never makes a rollup over it drop the older records. The new values are
written as the engine, audited and published like any change (actor: the command's), so
their events go round again: a line's total changes its deal's amount, which changes the
formulas reading the amount, until nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from metacrm.computed.evaluate import Evaluator
from metacrm.computed.plan import ComputedPlan
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import FormulaDef, RollupDef
from metacrm.storage.outbox import CHANGE_EVENTS, OutboxEvent

if TYPE_CHECKING:
    from metacrm.services.records.runtime import RecordsRuntime
    from metacrm.services.records.service import RecordsService

MAX_FANOUT = 1_000
"""Records whose formulas one changed record may recompute in its transaction."""
MAX_HEALED = 500
"""Older children one rollup recomputation computes the formulas of (the rest: next time)."""


@dataclass
class _Work:
    rollups: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)
    actor: str | None = None


class ComputedDependents:
    """Recomputes the computed fields that read what a command changed."""

    relays_events = False

    def __init__(self, records: RecordsService, evaluator: Evaluator) -> None:
        self.records = records
        self.evaluator = evaluator

    def after_commit(self, events: Sequence[OutboxEvent]) -> None:
        return None

    def before_commit(self, conn: sa.Connection, events: Sequence[OutboxEvent]) -> None:
        runtime = self.records.runtime()
        plan = ComputedPlan.of(runtime.model)
        if plan.empty:
            return
        todo: dict[tuple[str, str], _Work] = {}
        for event in events:
            if not plan.rollups_of.get(event.entity) and not plan.readers_of.get(event.entity):
                continue
            self._collect(conn, runtime, plan, event, todo)
        for (entity, record_id), work in todo.items():
            self._recompute(conn, runtime, plan, entity, record_id, work)

    def _collect(self, conn: sa.Connection, runtime: RecordsRuntime, plan: ComputedPlan,
                 event: OutboxEvent, todo: dict[tuple[str, str], _Work]) -> None:
        payload = event.payload
        record = payload.get("record") or {}
        actor = payload.get("actor")
        changed = set(payload.get("changed") or ()) if event.type in CHANGE_EVENTS else None
        previous = payload.get("previous") or {}
        for rollup in plan.rollups_of.get(event.entity, ()):
            if changed is not None and not rollup.inputs & changed:
                continue
            via = rollup.definition.via
            parents = {record.get(via)}
            if changed is not None and via in changed:
                parents.add(previous.get(via))
            for parent in parents - {None}:
                work = todo.setdefault((rollup.parent, str(parent)), _Work(actor=actor))
                work.rollups.add(rollup.field.name)
        if changed is None:
            return
        for reader in plan.readers_of.get(event.entity, ()):
            if not reader.reads & changed:
                continue
            for record_id in self._pointing(conn, runtime, reader.entity, reader.via,
                                            event.record_id, sorted(reader.reads & changed)):
                work = todo.setdefault((reader.entity, record_id), _Work(actor=actor))
                work.changed.add(reader.via)

    def _pointing(self, conn: sa.Connection, runtime: RecordsRuntime, entity: str, via: str,
                  record_id: str, fields: list[str]) -> list[str]:
        page = runtime.system.query(conn, entity, criteria={
            "field": via, "op": "eq", "value": record_id}, limit=500)
        ids = [str(r["id"]) for r in page.records]
        while page.next_cursor is not None and len(ids) <= MAX_FANOUT:
            page = runtime.system.query(conn, entity, criteria={
                "field": via, "op": "eq", "value": record_id}, limit=500,
                cursor=page.next_cursor)
            ids.extend(str(r["id"]) for r in page.records)
        if len(ids) > MAX_FANOUT:
            raise ValidationFailed(
                f"the change would recompute formulas of more than {MAX_FANOUT} {entity} "
                "records", [ErrorDetail(
                    f"more than {MAX_FANOUT} {entity} records compute from this field; "
                    "change it in smaller steps or ask an administrator to change the "
                    "formula", f"/{name}") for name in fields])
        return ids

    def _recompute(self, conn: sa.Connection, runtime: RecordsRuntime, plan: ComputedPlan,
                   entity: str, record_id: str, work: _Work) -> None:
        # FOR NO KEY UPDATE: two commands each inserting a child of this record hold key
        # share locks on it (their foreign keys); FOR UPDATE would make them deadlock.
        current = runtime.system.get(conn, entity, record_id, for_update=True, key_share=True)
        if current is None:
            return  # deleted in this command
        definition = runtime.model.entities[entity]
        record = dict(current)
        computed: dict[str, Any] = {}
        for name in sorted(work.rollups):
            fdef = definition.field(name)
            if fdef is None:
                continue
            if isinstance(fdef.computed, RollupDef):
                self._heal_children(conn, runtime, plan, fdef.computed, record_id, work.actor)
            value = self.evaluator.rollup(conn, runtime.system, fdef, record_id)
            computed[name] = value
            record[name] = self._python(fdef, value)

        def load(target: str, ref_id: Any) -> Any:
            return runtime.system.get(conn, target, str(ref_id))

        for fdef in plan.entity(entity).formulas_reading(work.rollups | work.changed):
            value = self.evaluator.formula(runtime.model, entity, fdef, record, load)
            computed[fdef.name] = value
            record[fdef.name] = self._python(fdef, value)
        changes = {name: value for name, value in computed.items()
                   if runtime.json.value(entity, name, current.get(name)) != value}
        if not changes:
            return
        after = runtime.system.update(conn, entity, record_id, changes, actor=work.actor,
                                      trusted=True)
        runtime.changes.updated(conn, entity, [(current, after)], work.actor)

    def _heal_children(self, conn: sa.Connection, runtime: RecordsRuntime, plan: ComputedPlan,
                       rollup: RollupDef, parent_id: str, actor: str | None) -> None:
        """Compute and store the formulas of the children whose aggregated formula field
        is empty (records saved before the formula existed)."""
        child = runtime.model.entities.get(rollup.entity)
        aggregated = child.field(rollup.field) if child and rollup.field else None
        if child is None or aggregated is None or \
                not isinstance(aggregated.computed, FormulaDef):
            return
        page = runtime.system.query(conn, child.name, criteria={"and": [
            {"field": rollup.via, "op": "eq", "value": parent_id},
            {"field": aggregated.name, "op": "is_null", "value": True}]}, limit=MAX_HEALED)

        def load(target: str, ref_id: Any) -> Any:
            return runtime.system.get(conn, target, str(ref_id))

        for current in page.records:
            record = dict(current)
            computed: dict[str, Any] = {}
            for fdef in plan.entity(child.name).formulas_reading(None):
                value = self.evaluator.formula(runtime.model, child.name, fdef, record, load)
                computed[fdef.name] = value
                record[fdef.name] = self._python(fdef, value)
            changes = {name: value for name, value in computed.items()
                       if runtime.json.value(child.name, name, current.get(name)) != value}
            if changes:
                after = runtime.system.update(conn, child.name, str(current["id"]), changes,
                                              actor=actor, trusted=True)
                runtime.changes.updated(conn, child.name, [(current, after)], actor)

    def _python(self, fdef: Any, value: Any) -> Any:
        if value is None:
            return None
        return self.records.registry.get(fdef.type).normalize(fdef, value)
