"""Computed fields in the save path: a record's own formulas and lookup defaults.

`ComputedSaves.hook` is the before-save callback of one write command (see
`services.records.save_hooks`): it runs after the subject's rights were checked and after the
packs' interceptors, on the values about to be written, and returns what to add — written
with engine rights, so a formula fills its read-only field while a client writing one is
refused (422 "is read-only", naming the field).

* lookup defaults (`LookupDefaults.hook`, which runs BEFORE the packs' interceptors): on
  create, and when a field the lookup matches on changes, a field left empty takes the
  value of the first matching record (a line's unit price from the price list item of its
  product in its deal's price list) — only from a price list that applies: active, valid
  on the document's date and in its lines' currency (`computed.lookup_validity`), else
  the save is refused naming the field;
* formulas: on create all of them, on update those whose inputs changed (formulas reading
  other formulas follow), in dependency order;
* a rollup with `manual_when_empty` may be written only while it aggregates no record.

Formulas read referenced records as the engine (unscoped): the value is stored like any
field and shown under field security — a formula over a field a role cannot see is hidden
from that role too (`metacrm.access.field_security`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from metacrm.access.scoped_repository import BeforeSave
from metacrm.access.subject import AccessSubject
from metacrm.computed.evaluate import Evaluator
from metacrm.computed.lookup_validity import check_found_currency, check_validity, path_value
from metacrm.computed.plan import ComputedPlan, EntityPlan
from metacrm.fieldtypes.base import FieldValueError
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import EntityDef, FieldDef, LookupDefault, RollupDef
from metacrm.services.records.save_hooks import merged_record
from metacrm.storage.record_codec import Record

if TYPE_CHECKING:
    from metacrm.services.records.service import RecordsService


class ComputedSaves:
    """The before-save callbacks of computed fields (`save_hooks.SaveInterceptors`)."""

    def __init__(self, records: RecordsService, evaluator: Evaluator) -> None:
        self.records = records
        self.evaluator = evaluator

    def hook(self, conn: sa.Connection, subject: AccessSubject, entity: str
             ) -> BeforeSave | None:
        runtime = self.records.runtime()
        plan = ComputedPlan.of(runtime.model).entity(entity)
        if not (plan.formulas or plan.rollups):
            return None
        definition = runtime.model.entities[entity]
        registry = self.records.registry
        cache: dict[tuple[str, str], Mapping[str, Any] | None] = {}

        def load(target: str, record_id: Any) -> Mapping[str, Any] | None:
            key = (target, str(record_id))
            if key not in cache:
                cache[key] = runtime.system.get(conn, target, str(record_id))
            return cache[key]

        def before_save(current: Record | None, values: Mapping[str, Any]) -> Mapping[str, Any]:
            record, changed = merged_record(definition, registry, current, values)
            if record is None:
                return {}  # invalid values: the repository reports them
            if current is not None:
                self._check_manual(conn, plan, current, values)
            added: dict[str, Any] = {}
            if current is None:  # a new record aggregates nothing yet
                for fdef in plan.rollups:
                    value = self.evaluator.empty_rollup(fdef)
                    if fdef.name not in values and value is not None:
                        added[fdef.name] = value
                        record[fdef.name] = _python(registry, fdef, value)
            for fdef in plan.formulas_reading(changed):
                value = self.evaluator.formula(runtime.model, entity, fdef, record, load)
                added[fdef.name] = value
                record[fdef.name] = _python(registry, fdef, value)
            return added

        return before_save

    def _check_manual(self, conn: sa.Connection, plan: EntityPlan, current: Record,
                      values: Mapping[str, Any]) -> None:
        runtime = self.records.runtime()
        errors = []
        for fdef in plan.manual_rollups:
            rollup = fdef.computed
            if fdef.name not in values or not isinstance(rollup, RollupDef):
                continue
            count = runtime.system.count(conn, rollup.entity, criteria={
                "field": rollup.via, "op": "eq", "value": current["id"]})
            if count.value:
                errors.append(ErrorDetail(
                    f"is computed from the record's {rollup.entity} records and cannot be "
                    "set while it has any", f"/{fdef.name}"))
        if errors:
            raise ValidationFailed("computed fields cannot be set", errors)


class LookupDefaults:
    """The before-save callbacks of lookup defaults; they run BEFORE the packs'
    interceptors, so a pack sees the unit price a line takes from its price list."""

    def __init__(self, records: RecordsService) -> None:
        self.records = records

    def hook(self, conn: sa.Connection, subject: AccessSubject, entity: str
             ) -> BeforeSave | None:
        runtime = self.records.runtime()
        plan = ComputedPlan.of(runtime.model).entity(entity)
        if not plan.lookups:
            return None
        definition = runtime.model.entities[entity]
        registry = self.records.registry

        def load(target: str, record_id: Any) -> Mapping[str, Any] | None:
            return runtime.system.get(conn, target, str(record_id))

        def before_save(current: Record | None, values: Mapping[str, Any]) -> Mapping[str, Any]:
            record, changed = merged_record(definition, registry, current, values)
            if record is None:
                return {}
            added: dict[str, Any] = {}
            for fdef in plan.lookups:
                self._lookup(conn, definition, fdef, record, changed, values, load, added,
                             registry)
            return added

        return before_save

    def _lookup(
        self, conn: sa.Connection, definition: EntityDef, fdef: FieldDef,
        record: dict[str, Any], changed: set[str] | None, values: Mapping[str, Any],
        load: Callable[[str, Any], Mapping[str, Any] | None], added: dict[str, Any],
        registry: Any,
    ) -> None:
        lookup = fdef.default_lookup
        assert isinstance(lookup, LookupDefault)
        if values.get(fdef.name) is not None:
            return  # given by the caller
        own = {path.partition(".")[0] for _name, path in lookup.match}
        if changed is not None and (not own & changed or fdef.name in changed):
            return  # an update that leaves the match alone, or sets the field itself
        conditions = []
        for name, path in lookup.match:
            value = path_value(definition, record, path, load)
            if value is None:
                return
            conditions.append({"field": name, "op": "eq", "value": _criteria_operand(value)})
        runtime = self.records.runtime()
        governing = None
        if lookup.valid is not None:
            governing = check_validity(conn, runtime.system, runtime.model, definition, fdef,
                                       lookup.valid, record, load, self.records.now())
        page = runtime.system.query(conn, lookup.entity, criteria={"and": conditions},
                                    limit=1)
        if not page.records:
            return
        source = runtime.model.entities[lookup.entity].field(lookup.field)
        found = page.records[0].get(lookup.field)
        if found is None or source is None:
            return
        if lookup.valid is not None and governing is not None:
            check_found_currency(fdef, lookup.valid, governing, found)
        value = registry.get(source.type).to_json(source, found)
        added[fdef.name] = value
        record[fdef.name] = found


def _criteria_operand(value: Any) -> Any:
    return str(value) if not isinstance(value, int | str | bool) else value


def _python(registry: Any, fdef: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    try:
        return registry.get(fdef.type).normalize(fdef, value)
    except (FieldValueError, ValueError, TypeError):
        return None
