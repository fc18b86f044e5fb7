"""What depends on what, per metadata version: the computed fields' plan.

Built once per compiled model (`ComputedPlan.of`): each entity's formulas in an order where
every formula comes after the computed fields it reads, the rollups that aggregate each
entity's records, and the formulas of other entities that read each entity's fields
through a reference.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from metacrm.criteria.tree import criteria_fields
from metacrm.metadata.model import CompiledModel, EntityDef, FieldDef, FormulaDef, RollupDef


@dataclass(frozen=True, slots=True)
class Rollup:
    """A rollup field `field` of `parent`, over `definition.entity` records."""

    parent: str
    field: FieldDef
    definition: RollupDef

    @property
    def inputs(self) -> frozenset[str]:
        """The child's fields whose change can change the rollup."""
        names = {self.definition.via}
        if self.definition.field is not None:
            names.add(self.definition.field)
        names.update(criteria_fields(self.definition.filter))
        return frozenset(names)


@dataclass(frozen=True, slots=True)
class PathReader:
    """Formulas of `entity` reading fields of the records its reference `via` points at."""

    entity: str
    via: str
    reads: frozenset[str]


@dataclass(frozen=True)
class EntityPlan:
    formulas: tuple[FieldDef, ...] = ()
    """The entity's formula fields, inputs first."""
    rollups: tuple[FieldDef, ...] = ()
    lookups: tuple[FieldDef, ...] = ()
    manual_rollups: tuple[FieldDef, ...] = ()
    inputs: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Formula field -> the own fields (references included) it reads."""

    @property
    def on_save(self) -> bool:
        return bool(self.formulas or self.lookups or self.manual_rollups)

    def formulas_reading(self, changed: Iterable[str] | None) -> list[FieldDef]:
        """The formulas to compute when `changed` fields changed (None: all), following
        formulas that read other formulas."""
        if changed is None:
            return list(self.formulas)
        dirty = set(changed)
        result = []
        for formula in self.formulas:
            if self.inputs[formula.name] & dirty:
                result.append(formula)
                dirty.add(formula.name)
        return result


def _ordered_formulas(entity: EntityDef) -> tuple[tuple[FieldDef, ...], dict[str, frozenset[str]]]:
    formulas = {f.name: f for f in entity.fields if isinstance(f.computed, FormulaDef)}
    inputs: dict[str, frozenset[str]] = {}
    for name, fdef in formulas.items():
        assert isinstance(fdef.computed, FormulaDef)
        inputs[name] = frozenset(fdef.computed.names) | {ref for ref, _a in fdef.computed.paths}
    ordered: list[FieldDef] = []
    placed: set[str] = set()
    while len(ordered) < len(formulas):  # the compiler refused circles
        progressed = False
        for name, fdef in formulas.items():
            if name not in placed and not ((inputs[name] & formulas.keys()) - placed):
                ordered.append(fdef)
                placed.add(name)
                progressed = True
        if not progressed:  # pragma: no cover - a circle the compiler let through
            raise RuntimeError(f"circle among the formulas of {entity.name}")
    return tuple(ordered), inputs


class ComputedPlan:
    """The computed fields of one compiled model."""

    _cache_lock = threading.Lock()
    _cache: tuple[CompiledModel, ComputedPlan] | None = None

    def __init__(self, model: CompiledModel) -> None:
        self.model = model
        entities: dict[str, EntityPlan] = {}
        rollups_of: dict[str, list[Rollup]] = {}
        readers_of: dict[str, list[PathReader]] = {}
        for entity in model.entities.values():
            formulas, inputs = _ordered_formulas(entity)
            rollups = tuple(f for f in entity.fields if isinstance(f.computed, RollupDef))
            entities[entity.name] = EntityPlan(
                formulas=formulas,
                rollups=rollups,
                lookups=tuple(f for f in entity.fields if f.default_lookup is not None),
                manual_rollups=tuple(f for f in rollups if isinstance(f.computed, RollupDef)
                                     and f.computed.manual_when_empty),
                inputs=MappingProxyType(inputs),
            )
            for fdef in rollups:
                assert isinstance(fdef.computed, RollupDef)
                rollups_of.setdefault(fdef.computed.entity, []).append(
                    Rollup(entity.name, fdef, fdef.computed))
            by_via: dict[str, set[str]] = {}
            for fdef in formulas:
                assert isinstance(fdef.computed, FormulaDef)
                for ref, attr in fdef.computed.paths:
                    by_via.setdefault(ref, set()).add(attr)
            for via, reads in by_via.items():
                target = entity.field(via)
                if target is not None and target.target_entity:
                    readers_of.setdefault(target.target_entity, []).append(
                        PathReader(entity.name, via, frozenset(reads)))
        self.entities: Mapping[str, EntityPlan] = MappingProxyType(entities)
        self.rollups_of: Mapping[str, tuple[Rollup, ...]] = MappingProxyType(
            {k: tuple(v) for k, v in rollups_of.items()})
        self.readers_of: Mapping[str, tuple[PathReader, ...]] = MappingProxyType(
            {k: tuple(v) for k, v in readers_of.items()})
        self.empty = not any(p.on_save or p.rollups for p in entities.values()) \
            and not readers_of

    def entity(self, name: str) -> EntityPlan:
        return self.entities.get(name) or EntityPlan()

    @classmethod
    def of(cls, model: CompiledModel) -> ComputedPlan:
        """The plan of `model` (the last one built is kept)."""
        cached = cls._cache
        if cached is not None and cached[0] is model:
            return cached[1]
        plan = cls(model)
        with cls._cache_lock:
            cls._cache = (model, plan)
        return plan
