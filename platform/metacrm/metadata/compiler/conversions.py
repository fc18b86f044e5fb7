"""Compile conversion documents: the source, its transition, the targets and their mappings.

Every mapping is checked against the model so that a conversion that compiles can only fail
at run time on the record's own values (an empty required field, a value too long): fields
exist, each target field gets one value of a compatible type, links point at an earlier
target of the referenced entity, match lists name fields the conversion fills.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from metacrm.criteria.tree import SYSTEM_FIELDS
from metacrm.metadata.compiler.context import CompileContext, Reporter, suggestion
from metacrm.metadata.compiler.freeze import freeze, labels, names
from metacrm.metadata.documents import Document
from metacrm.metadata.model import (
    EMPTY,
    ConversionDef,
    ConversionTargetDef,
    EntityDef,
    FieldDef,
    SourceRef,
)

OWNER = "owner"
"""A target key that is not a field: who owns the new record (a `user`-typed source)."""

_STRINGS = frozenset({"text", "textarea", "email", "phone", "url", "picklist", "auto_number",
                      "state"})
_NUMBERS = frozenset({"integer", "decimal", "percent"})

SOURCES_OF: Mapping[str, frozenset[str]] = MappingProxyType({
    "text": _STRINGS,
    "textarea": _STRINGS,
    "email": frozenset({"email", "text"}),
    "phone": frozenset({"phone", "text"}),
    "url": frozenset({"url", "text"}),
    "decimal": _NUMBERS,
    "percent": _NUMBERS,
})
"""Target type -> the source types whose values it takes; other types take only their own
type (a text may still fail to be an email at run time: that is the record's problem)."""

UNSETTABLE_TYPES = frozenset({"state", "auto_number"})
"""Target field types the engine sets: a state starts in its pipeline's initial state."""

MATCHABLE_TYPES = frozenset({"text", "email", "phone", "url", "integer", "decimal", "date",
                             "picklist", "reference", "user", "boolean"})
"""Types whose values are compared for matching (one column, equality meaningful)."""


def build_conversion(document: Document) -> ConversionDef:
    """The ConversionDef of one conversion document (checked later by `check_conversion`)."""
    body = document.body
    return ConversionDef(
        name=document.name,
        label=labels(body.get("label")),
        entity=str(body["source"]),
        transition=str(body["transition"]),
        targets=tuple(_build_target(raw) for raw in body["targets"]),
        source_links=_name_map(body.get("source_links")),
        description=labels(body.get("description")),
        pack=document.pack,
        source=SourceRef(document.source),
    )


def _build_target(raw: Mapping[str, Any]) -> ConversionTargetDef:
    constants = raw.get("constants") or {}
    return ConversionTargetDef(
        name=str(raw["name"]),
        entity=str(raw["entity"]),
        optional=bool(raw.get("optional", False)),
        fields=_name_map(raw.get("fields")),
        constants=MappingProxyType({k: freeze(v) for k, v in constants.items()})
        if constants else EMPTY,
        links=_name_map(raw.get("links")),
        match=tuple(names(fields) for fields in raw.get("match", ())),
    )


def _name_map(value: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or not value:
        return EMPTY
    return MappingProxyType({str(k): str(v) for k, v in value.items()})


# --- checks against the model ------------------------------------------------------------


def check_conversion(conversion: ConversionDef, context: CompileContext) -> None:
    report = context.reporter(conversion.source.file)
    source = context.entity(conversion.entity, report, "/source")
    if source is not None:
        _check_transition(conversion, source, context, report)
    targets: dict[str, ConversionTargetDef] = {}
    for index, target in enumerate(conversion.targets):
        pointer = f"/targets/{index}"
        if target.name in targets:
            report.error(f"duplicate target name '{target.name}'", f"{pointer}/name")
            continue
        entity = context.entity(target.entity, report, f"{pointer}/entity")
        if entity is not None:
            _TargetCheck(target, entity, source, targets, context, report, pointer).run()
        targets[target.name] = target
    if source is not None:
        _check_source_links(conversion, source, targets, context, report)


def _check_transition(
    conversion: ConversionDef, source: EntityDef, context: CompileContext, report: Reporter
) -> None:
    pipelines = [p for p in context.pipelines.values() if p.entity == source.name]
    if not pipelines:
        report.missing(f"entity '{source.name}' has no pipeline, so it has no transition to "
                       "close the converted record with", "/transition")
        return
    known = [t.name for p in pipelines for t in p.transitions]
    if conversion.transition not in known:
        report.error(f"unknown transition '{conversion.transition}' of entity "
                     f"'{source.name}'" + suggestion(conversion.transition, known),
                     "/transition")


def _check_source_links(
    conversion: ConversionDef, source: EntityDef, targets: Mapping[str, ConversionTargetDef],
    context: CompileContext, report: Reporter,
) -> None:
    for field_name, target_name in conversion.source_links.items():
        pointer = f"/source_links/{field_name}"
        if not context.check_field(source, field_name, report, pointer):
            continue
        target = targets.get(target_name)
        if target is None:
            report.error(f"unknown target '{target_name}'" + suggestion(target_name, targets),
                         pointer)
            continue
        _check_reference_to(source.field(field_name), target, report, pointer)


def _check_reference_to(
    fdef: FieldDef | None, target: ConversionTargetDef, report: Reporter, pointer: str
) -> None:
    if fdef is None:
        return
    if fdef.type != "reference":
        report.error(f"field '{fdef.name}' ({fdef.type}) is not a reference field, which a "
                     "link needs", pointer)
    elif fdef.target_entity != target.entity:
        report.error(f"field '{fdef.name}' refers to entity '{fdef.target_entity}', but "
                     f"target '{target.name}' is a '{target.entity}'", pointer)


class _TargetCheck:
    """The checks of one target against its entity, the source and the earlier targets."""

    def __init__(
        self, target: ConversionTargetDef, entity: EntityDef, source: EntityDef | None,
        earlier: Mapping[str, ConversionTargetDef], context: CompileContext,
        report: Reporter, pointer: str,
    ) -> None:
        self.target = target
        self.entity = entity
        self.source = source
        self.earlier = earlier
        self.context = context
        self.report = report
        self.pointer = pointer
        self.assigned: dict[str, str] = {}

    def run(self) -> None:
        for name, source_field in self.target.fields.items():
            pointer = f"{self.pointer}/fields/{name}"
            if self._assign(name, "fields", pointer):
                self._check_copy(name, source_field, pointer)
        for name, value in self.target.constants.items():
            pointer = f"{self.pointer}/constants/{name}"
            if self._assign(name, "constants", pointer) and name != OWNER:
                self._check_constant(name, value, pointer)
        for name, target_name in self.target.links.items():
            pointer = f"{self.pointer}/links/{name}"
            if self._assign(name, "links", pointer):
                self._check_link(name, target_name, pointer)
        self._check_match()

    def _assign(self, name: str, where: str, pointer: str) -> bool:
        """Whether `name` is a settable field given its first value here (errors reported)."""
        if name in self.assigned:
            self.report.error(f"field '{name}' already gets a value from "
                              f"{self.assigned[name]}", pointer)
            return False
        self.assigned[name] = where
        if name == OWNER and where != "links":
            return True
        fdef = self.entity.field(name)
        if fdef is None:
            self.report.error(f"unknown field '{name}' of entity '{self.entity.name}'"
                              + suggestion(name, self.entity.field_names), pointer)
            return False
        if fdef.type in UNSETTABLE_TYPES:
            self.report.error(f"field '{name}' ({fdef.type}) is set by the engine", pointer)
            return False
        if fdef.read_only:
            self.report.error(f"field '{name}' is read-only; a conversion writes as the "
                              "user who converts", pointer)
            return False
        return True

    def _check_copy(self, name: str, source_field: str, pointer: str) -> None:
        if self.source is None:
            return
        sdef = self.source.field(source_field) or SYSTEM_FIELDS.get(source_field)
        if sdef is None:
            self.report.error(f"unknown field '{source_field}' of entity '{self.source.name}'"
                              + suggestion(source_field, self.source.field_names), pointer)
            return
        if name == OWNER:
            if sdef.type != "user":
                self.report.error(f"the owner takes a user; field '{source_field}' "
                                  f"({sdef.type}) holds none", pointer)
            return
        fdef = self.entity.field(name)
        if fdef is not None:
            self._check_types(fdef, sdef, pointer)

    def _check_types(self, fdef: FieldDef, sdef: FieldDef, pointer: str) -> None:
        allowed = SOURCES_OF.get(fdef.type, frozenset({fdef.type}))
        if sdef.type not in allowed:
            self.report.error(f"field '{fdef.name}' ({fdef.type}) cannot take the value of "
                              f"'{sdef.name}' ({sdef.type})", pointer)
        elif fdef.type == "reference" and sdef.target_entity != fdef.target_entity:
            self.report.error(f"field '{fdef.name}' refers to '{fdef.target_entity}', "
                              f"'{sdef.name}' to '{sdef.target_entity}'", pointer)
        elif fdef.choices and sdef.choices:
            missing = [v for v in sdef.choice_values if v not in fdef.choice_values]
            if missing:
                self.report.error(f"field '{fdef.name}' has no choice "
                                  f"{', '.join(repr(v) for v in missing)} of '{sdef.name}'",
                                  pointer)

    def _check_constant(self, name: str, value: Any, pointer: str) -> None:
        fdef = self.entity.field(name)
        if fdef is None:
            return
        if value is None:
            self.report.error("a constant needs a value; leave the field out instead", pointer)
            return
        values = value if isinstance(value, tuple) and fdef.type == "multi_picklist" else [value]
        try:
            for item in values:
                self.context.catalog.coerce(fdef, item)
        except (ValueError, TypeError) as exc:
            self.report.error(f"the constant does not fit field '{name}': {exc}", pointer)

    def _check_link(self, name: str, target_name: str, pointer: str) -> None:
        linked = self.earlier.get(target_name)
        if linked is None:
            self.report.error(f"'{target_name}' is not a target declared before this one"
                              + suggestion(target_name, self.earlier), pointer)
            return
        _check_reference_to(self.entity.field(name), linked, self.report, pointer)

    def _check_match(self) -> None:
        for number, fields in enumerate(self.target.match):
            for index, name in enumerate(fields):
                pointer = f"{self.pointer}/match/{number}/{index}"
                if not self.context.check_field(self.entity, name, self.report, pointer):
                    continue
                fdef = self.entity.field(name)
                if fdef is not None and fdef.type not in MATCHABLE_TYPES:
                    self.report.error(f"field '{name}' ({fdef.type}) cannot be matched on",
                                      pointer)
                elif name not in self.assigned:
                    self.report.error(f"field '{name}' gets no value from this target's "
                                      "fields, constants or links, so it never matches",
                                      pointer)
