"""Compile entity documents: fields (names, types, options, defaults), indexes, search.

Checks that need only the entity itself happen here; references to other documents
(referenced entities, pipelines of state fields) are checked in `checks.py` once every
document has been built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from metacrm.metadata.compiler.computed import (
    COMPUTED_KEYS,
    COMPUTED_TYPES,
    LOOKUP_KEY,
    computed_parts,
    lookup_default,
)
from metacrm.metadata.compiler.context import CompileContext, Reporter, suggestion
from metacrm.metadata.compiler.freeze import freeze, labels, names
from metacrm.metadata.compiler.names import field_name_problem, physical_columns
from metacrm.metadata.documents import Document
from metacrm.metadata.model import (
    EMPTY,
    Choice,
    EntityDef,
    FieldDef,
    IndexDef,
    ReminderDef,
    RollupDef,
    SourceRef,
    ValidationRuleDef,
)
from metacrm.metadata.titles import TitlePart, TitleTemplateError, parse_title

COMMON_FIELD_KEYS = frozenset(
    {"name", "type", "label", "help", "required", "unique", "indexed", "read_only", "default"}
)
"""Keys every field may have; every other key is a type-specific option."""

TABLE_PREFIX = "crm_"
INDEXABLE_SYSTEM_COLUMNS = frozenset({"created_at", "updated_at"})
"""System columns an index may cover after its leading field."""
UNTITLED_TYPES = frozenset({"json", "textarea"})
"""Field types whose values are too long or structured to name a record."""


def build_entity(document: Document, context: CompileContext,
                 extensions: Sequence[Document] = ()) -> EntityDef:
    """The EntityDef of one entity document and the `entity_extension` documents that add
    fields to it (other packs' fields come after the entity's own, in the order given);
    problems go to the context's errors, each at the document that caused it."""
    body = document.body
    report = context.reporter(document.source)
    own_fields = _widened(body.get("fields", ()), extensions, context)
    groups = [(own_fields, report)]
    groups.extend((ext.body.get("fields", ()), context.reporter(ext.source))
                  for ext in extensions)
    fields = _build_fields(groups, context)
    entity = EntityDef(
        name=document.name,
        label=labels(body.get("label")),
        plural_label=labels(body.get("plural_label") or body.get("label")),
        table=TABLE_PREFIX + document.name,
        fields=tuple(fields),
        indexes=tuple(_build_indexes(body.get("indexes", ()))),
        search_fields=names(body.get("search_fields")),
        title_field=body.get("title_field"),
        title=_title_parts(body, report),
        description=labels(body.get("description")),
        pack=document.pack,
        group=str(body.get("group") or ""),
        reminders=tuple(_build_reminders(body.get("reminders", ()))),
        validations=tuple(_build_validations(body.get("validations", ()))),
        source=SourceRef(document.source),
    )
    _check_indexes(entity, report)
    _check_search(entity, context, report)
    if "title" in body:
        _check_title(entity, context, report)
    _check_reminders(entity, context, report)
    _check_validations(entity, context, report)
    return entity


def _widened(raw_fields: Any, extensions: Sequence[Document],
             context: CompileContext) -> list[Any]:
    """The entity's own fields, each `regarding` field's `entities` widened by the
    extensions' `regarding_targets` (an extension naming a field that is not a regarding
    field of the entity is reported at its `/regarding_targets/<field>`)."""
    fields = list(raw_fields)
    positions = {raw.get("name"): index for index, raw in enumerate(fields)
                 if isinstance(raw, Mapping) and raw.get("type") == "regarding"}
    for extension in extensions:
        targets = extension.body.get("regarding_targets") or {}
        for name, entities in targets.items():
            index = positions.get(name)
            if index is None:
                context.reporter(extension.source).error(
                    f"'{name}' is not a regarding field of entity "
                    f"'{extension.body.get('entity')}'"
                    + suggestion(str(name), [str(n) for n in positions]),
                    f"/regarding_targets/{name}")
                continue
            raw = fields[index]
            known = list(raw.get("entities") or ())
            fields[index] = {**raw, "entities": known + [e for e in entities
                                                          if e not in known]}
    return fields


def _build_validations(raw_rules: Any) -> list[ValidationRuleDef]:
    return [ValidationRuleDef(name=str(raw["name"]), require=raw["require"],
                              message=labels(raw["message"]), when=raw.get("when"),
                              field=raw.get("field"),
                              on=tuple(raw.get("on") or ("create", "update")))
            for raw in raw_rules]


def _check_validations(entity: EntityDef, context: CompileContext, report: Reporter) -> None:
    """Rule names are unique, the field a refusal points at exists, and `when` and
    `require` are valid criteria trees of the entity."""
    seen: set[str] = set()
    for number, rule in enumerate(entity.validations):
        pointer = f"/validations/{number}"
        if rule.name in seen:
            report.error(f"validation rule '{rule.name}' is declared twice", f"{pointer}/name")
        seen.add(rule.name)
        if rule.field is not None:
            context.check_field(entity, rule.field, report, f"{pointer}/field")
        if rule.when is not None:
            context.check_criteria(rule.when, entity, report, f"{pointer}/when")
        context.check_criteria(rule.require, entity, report, f"{pointer}/require")


REMINDER_FIELD_TYPES = frozenset({"date", "datetime"})
REMINDER_OWNER = "owner"


def _build_reminders(raw_reminders: Any) -> list[ReminderDef]:
    reminders = []
    for raw in raw_reminders:
        to = raw["to"]
        reminders.append(ReminderDef(field=str(raw["field"]),
                                     to=tuple(to) if isinstance(to, list) else (str(to),),
                                     unless=raw.get("unless")))
    return reminders


def _check_reminders(entity: EntityDef, context: CompileContext, report: Reporter) -> None:
    """A reminder counts from a date or datetime field, reminds the owner or whoever a
    user field holds, and its `unless` is a valid criteria tree of the entity."""
    for number, reminder in enumerate(entity.reminders):
        pointer = f"/reminders/{number}"
        if context.check_field(entity, reminder.field, report, f"{pointer}/field"):
            fdef = entity.field(reminder.field)
            if fdef is not None and fdef.type not in REMINDER_FIELD_TYPES:
                report.error(f"field '{reminder.field}' ({fdef.type}) is not a date or "
                             "datetime field: a reminder needs a moment", f"{pointer}/field")
        several = len(reminder.to) > 1
        for index, name in enumerate(reminder.to):
            where = f"{pointer}/to/{index}" if several else f"{pointer}/to"
            fdef = entity.field(name)
            if name != REMINDER_OWNER and (fdef is None or fdef.type != "user"):
                report.error(f"must be 'owner' or a user field of '{entity.name}'"
                             + suggestion(name, [f.name for f in entity.fields
                                                 if f.type == "user"]), where)
        if reminder.unless is not None:
            context.check_criteria(reminder.unless, entity, report, f"{pointer}/unless")


def _title_parts(body: Mapping[str, Any], report: Reporter) -> tuple[TitlePart, ...]:
    """The parsed `title` template; without one, the title field alone."""
    template = body.get("title")
    if isinstance(template, str):
        try:
            return parse_title(template)
        except TitleTemplateError as error:
            report.error(str(error), "/title")
            return ()
    title_field = body.get("title_field")
    return (TitlePart(field=title_field),) if isinstance(title_field, str) else ()


def _check_title(entity: EntityDef, context: CompileContext, report: Reporter) -> None:
    if entity.title and not entity.title_field_names:
        report.error("the title names no field: write placeholders such as {name}", "/title")
    for name in entity.title_field_names:
        if context.check_field(entity, name, report, "/title"):
            fdef = entity.field(name)
            if fdef is not None and fdef.type in UNTITLED_TYPES:
                report.error(f"field '{name}' ({fdef.type}) cannot be part of a title: "
                             "its values are not short text", "/title")


def _build_fields(
    groups: Sequence[tuple[Any, Reporter]], context: CompileContext
) -> list[FieldDef]:
    fields: list[FieldDef] = []
    pointers: dict[str, str] = {}
    column_owner: dict[str, str] = {}
    entity_source = groups[0][1].source
    for raw_fields, report in groups:
        for index, raw in enumerate(raw_fields):
            pointer = f"/fields/{index}"
            where = pointer if report.source == entity_source else \
                f"{report.source} {pointer}"
            fdef = _build_one_field(raw, pointer, where, report, context, pointers,
                                    column_owner)
            if fdef is not None:
                fields.append(fdef)
    return fields


def _build_one_field(raw: Mapping[str, Any], pointer: str, where: str, report: Reporter,
                     context: CompileContext, pointers: dict[str, str],
                     column_owner: dict[str, str]) -> FieldDef | None:
    """One field, checked against the fields built before it (names and columns)."""
    fdef = build_field(raw, pointer, report.source, context, report)
    if fdef.name in pointers:
        report.error(f"duplicate field name '{fdef.name}' (first declared at "
                     f"{pointers[fdef.name]})", f"{pointer}/name")
        return None
    pointers[fdef.name] = where
    problem = field_name_problem(fdef.name)
    if problem:
        report.error(problem, f"{pointer}/name")
    for column in physical_columns(fdef):
        owner = column_owner.setdefault(column, fdef.name)
        if owner != fdef.name:
            report.error(f"field '{fdef.name}' needs the column '{column}', which field "
                         f"'{owner}' already uses", f"{pointer}/name")
    _check_type(fdef, raw, pointer, context, report)
    return fdef


def build_field(raw: Mapping[str, Any], pointer: str, source: str,
                context: CompileContext, report: Reporter | None = None) -> FieldDef:
    """A FieldDef from its JSON; the type's operators are resolved here. A `formula` or
    `rollup` field becomes a field of its result type with `computed` set."""
    report = report or context.reporter(source)
    type_name = str(raw["type"])
    computed = None
    read_only = bool(raw.get("read_only", False))
    if type_name in COMPUTED_TYPES:
        type_name, computed = computed_parts(raw, pointer, report)
        read_only = not (isinstance(computed, RollupDef) and computed.manual_when_empty)
    lookup = (lookup_default(raw[LOOKUP_KEY], pointer, report) if LOOKUP_KEY in raw
              else None)
    options = {
        key: freeze(value)
        for key, value in raw.items()
        if key not in COMMON_FIELD_KEYS and key != "choices"
        and not (computed is not None and key in COMPUTED_KEYS) and key != LOOKUP_KEY
    }
    known_type = context.catalog.has_type(type_name)
    return FieldDef(
        name=str(raw["name"]),
        type=type_name,
        label=labels(raw.get("label")),
        required=bool(raw.get("required", False)),
        unique=bool(raw.get("unique", False)),
        indexed=bool(raw.get("indexed", False)),
        read_only=read_only,
        default=None if computed is not None else raw.get("default"),
        help=labels(raw.get("help")),
        options=MappingProxyType(options) if options else EMPTY,
        choices=tuple(
            Choice(str(choice["value"]), labels(choice.get("label")))
            for choice in raw.get("choices", ())
        ),
        operators=context.catalog.operators(type_name) if known_type else frozenset(),
        source=SourceRef(source, pointer),
        computed=computed,
        default_lookup=lookup,
    )


def _check_type(
    fdef: FieldDef, raw: Mapping[str, Any], pointer: str, context: CompileContext,
    report: Reporter,
) -> None:
    catalog = context.catalog
    if not catalog.has_type(fdef.type):
        known = getattr(catalog, "names", None)
        hint = suggestion(fdef.type, known()) if callable(known) else ""
        report.error(f"unknown field type '{fdef.type}'{hint}", f"{pointer}/type")
        return
    count = len(report.errors)
    seen: dict[str, int] = {}
    for index, choice in enumerate(fdef.choices):
        if choice.value in seen:
            report.error(f"duplicate choice value '{choice.value}'",
                         f"{pointer}/choices/{index}/value")
        seen.setdefault(choice.value, index)
    for option, reason in catalog.option_errors(fdef):
        where = f"{pointer}/{option}" if option in raw else pointer
        report.error(reason, where)
    if len(report.errors) > count or fdef.default is None or fdef.type == "state":
        return
    if isinstance(fdef.default, str) and fdef.default.startswith("$"):
        return  # a variable ("$now", "$today"): its type resolves it when a record is made
    # Field types check their default in option_errors; this catches types that do not.
    # A list default (multi-picklist) is checked item by item, as criteria compare items.
    values = fdef.default if isinstance(fdef.default, list) else [fdef.default]
    try:
        for value in values:
            catalog.coerce(fdef, value)
    except (ValueError, TypeError) as exc:
        report.error(f"the default does not fit the field: {exc}", f"{pointer}/default")


def _build_indexes(raw_indexes: Any) -> list[IndexDef]:
    return [
        IndexDef(name=str(raw["name"]), fields=names(raw["fields"]),
                 unique=bool(raw.get("unique", False)))
        for raw in raw_indexes
    ]


def _check_indexes(entity: EntityDef, report: Reporter) -> None:
    seen: dict[str, int] = {}
    for position, index in enumerate(entity.indexes):
        pointer = f"/indexes/{position}"
        if index.name in seen:
            report.error(f"duplicate index name '{index.name}'", f"{pointer}/name")
        seen.setdefault(index.name, position)
        for number, name in enumerate(index.fields):
            if number and name in INDEXABLE_SYSTEM_COLUMNS:
                continue  # after a field: e.g. (regarding, created_at) serves "newest about"
            if not entity.has_field(name):
                report.error(f"unknown field '{name}' of entity '{entity.name}'"
                             + suggestion(name, entity.field_names), f"{pointer}/fields/{number}")


def _check_search(entity: EntityDef, context: CompileContext, report: Reporter) -> None:
    for number, name in enumerate(entity.search_fields):
        pointer = f"/search_fields/{number}"
        if context.check_field(entity, name, report, pointer):
            fdef = entity.field(name)
            if fdef is not None and fdef.operators and "contains" not in fdef.operators:
                report.error(f"field '{name}' ({fdef.type}) cannot be searched: its type has "
                             "no 'contains' operator", pointer)
    if entity.title_field is not None:
        context.check_field(entity, entity.title_field, report, "/title_field")
