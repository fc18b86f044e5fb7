"""Compile computed fields: `formula` and `rollup` fields, and lookup defaults.

A document declares `{"type": "formula", "result": "money", "expression": "..."}` or
`{"type": "rollup", "result": "money", "rollup": {"entity", "via", "aggregate", "field",
"filter"}}`. The compiled `FieldDef` has the RESULT type as its `type` (so storage,
criteria, screens and the API treat it as that type) and the formula or rollup as
`computed`; it is read-only (a rollup with `manual_when_empty` excepted).

The expression is parsed here only to learn what it reads (Jinja2's parser: nothing is
run); the engine evaluates it in the automation sandbox (`metacrm.computed`). Names are the
record's own fields, `ref.field` reads a field of the record a reference points at, and the
sandbox's date helpers may be called. Computed fields that depend on each other in a
circle are an error naming the circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, nodes
from jinja2.parser import Parser

from metacrm.criteria.tree import criteria_fields
from metacrm.metadata.compiler.context import (
    CRITERIA_SYSTEM_COLUMNS,
    CompileContext,
    Reporter,
    suggestion,
)
from metacrm.metadata.model import (
    COMPUTED_RESULT_TYPES,
    ROLLUP_AGGREGATES,
    EntityDef,
    FieldDef,
    FormulaDef,
    LookupDefault,
    LookupValidity,
    RollupDef,
)

COMPUTED_TYPES = frozenset({"formula", "rollup"})
COMPUTED_KEYS = frozenset({"result", "expression", "rollup", "manual_when_empty"})
LOOKUP_KEY = "default_lookup"
FORMULA_FUNCTIONS = frozenset({"add_days", "add_business_days", "days_between"})
"""Helpers of the sandbox a stored formula may call (`now`/`today` may not: a stored value
must depend on the record's data only)."""
NUMERIC_RESULTS = frozenset({"decimal", "money", "integer", "percent"})
MAX_EXPRESSION = 2_000

_PARSER_ENVIRONMENT = Environment(autoescape=True)


class FormulaSyntaxError(ValueError):
    """The expression does not parse."""


def read_expression(environment: Environment, text: str) -> nodes.Expr:
    """`text` as one Jinja2 expression; TemplateSyntaxError when it does not parse or has
    text after the expression. Stored formulas (here) and trigger formulas
    (`automation.formulas`) are read alike."""
    parser = Parser(environment, text, state="variable")
    tree = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError("unexpected text after the expression",
                                  parser.stream.current.lineno)
    return tree


def parse_formula(expression: str) -> FormulaDef:
    """What `expression` reads; FormulaSyntaxError when it is not one expression."""
    try:
        tree = read_expression(_PARSER_ENVIRONMENT, expression)
    except TemplateSyntaxError as exc:
        raise FormulaSyntaxError(exc.message or "invalid expression") from None
    names: list[str] = []
    paths: list[tuple[str, str]] = []
    _collect(tree, names, paths)
    return FormulaDef(expression, tuple(dict.fromkeys(names)), tuple(dict.fromkeys(paths)))


def _collect(node: nodes.Node, names: list[str], paths: list[tuple[str, str]]) -> None:
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        paths.append((node.node.name, node.attr))
        return
    if isinstance(node, nodes.Name):
        names.append(node.name)
        return
    for child in node.iter_child_nodes():
        _collect(child, names, paths)


def computed_parts(
    raw: Mapping[str, Any], pointer: str, report: Reporter
) -> tuple[str, FormulaDef | RollupDef | None]:
    """The result type and the computed definition of a `formula` / `rollup` field."""
    kind = str(raw["type"])
    result = raw.get("result")
    if result not in COMPUTED_RESULT_TYPES:
        report.error(f"a {kind} field needs a 'result' type, one of "
                     f"{', '.join(sorted(COMPUTED_RESULT_TYPES))}", f"{pointer}/result")
        result = "text"
    for key in ("required", "default", "unique"):
        if raw.get(key):
            report.error(f"a {kind} field is computed: '{key}' does not apply",
                         f"{pointer}/{key}")
    if kind == "formula":
        if "manual_when_empty" in raw or "rollup" in raw:
            report.error("'manual_when_empty' and 'rollup' apply to rollup fields", pointer)
        expression = raw.get("expression")
        if not isinstance(expression, str) or not expression.strip() or \
                len(expression) > MAX_EXPRESSION:
            report.error(f"a formula needs an 'expression' of 1 to {MAX_EXPRESSION} "
                         "characters", f"{pointer}/expression")
            return str(result), None
        try:
            return str(result), parse_formula(expression)
        except FormulaSyntaxError as exc:
            report.error(f"formula syntax error: {exc}", f"{pointer}/expression")
            return str(result), None
    return str(result), _rollup(raw, result, pointer, report)


def _rollup(raw: Mapping[str, Any], result: Any, pointer: str,
            report: Reporter) -> RollupDef | None:
    spec = raw.get("rollup")
    if "expression" in raw:
        report.error("'expression' applies to formula fields", f"{pointer}/expression")
    if not isinstance(spec, Mapping):
        report.error("a rollup field needs 'rollup': {entity, via, aggregate, field}",
                     f"{pointer}/rollup")
        return None
    unknown = set(spec) - {"entity", "via", "aggregate", "field", "filter"}
    for key in sorted(unknown):
        report.error(f"unknown rollup option '{key}'", f"{pointer}/rollup/{key}")
    aggregate = spec.get("aggregate")
    if aggregate not in ROLLUP_AGGREGATES:
        report.error(f"'aggregate' must be one of {', '.join(sorted(ROLLUP_AGGREGATES))}",
                     f"{pointer}/rollup/aggregate")
        return None
    entity, via, field = spec.get("entity"), spec.get("via"), spec.get("field")
    if not isinstance(entity, str) or not isinstance(via, str):
        report.error("a rollup names the related 'entity' and its reference field 'via'",
                     f"{pointer}/rollup")
        return None
    if aggregate == "count":
        if field is not None:
            report.error("a count counts records: 'field' does not apply",
                         f"{pointer}/rollup/field")
        if result != "integer":
            report.error("a count's result is 'integer'", f"{pointer}/result")
    elif not isinstance(field, str):
        report.error(f"a {aggregate} needs the 'field' it aggregates",
                     f"{pointer}/rollup/field")
        return None
    manual = raw.get("manual_when_empty", False)
    if not isinstance(manual, bool):
        report.error("must be true or false", f"{pointer}/manual_when_empty")
    return RollupDef(entity=entity, via=via, aggregate=str(aggregate),
                     field=field if aggregate != "count" else None,
                     filter=spec.get("filter"), manual_when_empty=manual is True)


def lookup_default(raw: Any, pointer: str, report: Reporter) -> LookupDefault | None:
    """`default_lookup`: {entity, match: {field: path}, field}."""
    where = f"{pointer}/{LOOKUP_KEY}"
    if not isinstance(raw, Mapping) or not isinstance(raw.get("entity"), str) or \
            not isinstance(raw.get("field"), str) or not isinstance(raw.get("match"), Mapping) \
            or not raw["match"] or set(raw) - {"entity", "match", "field", "valid"}:
        report.error("a lookup default is {entity, match: {field: path}, field, valid?}",
                     where)
        return None
    match = raw["match"]
    if not all(isinstance(path, str) for path in match.values()):
        report.error("each match names a path of this record: 'field' or 'ref.field'",
                     f"{where}/match")
        return None
    valid = None
    if "valid" in raw:
        valid = _lookup_validity(raw["valid"], f"{where}/valid", report)
        if valid is None:
            return None
    return LookupDefault(raw["entity"], tuple((str(k), str(v)) for k, v in match.items()),
                         raw["field"], valid)


VALIDITY_KEYS = {"record": "record", "from": "valid_from", "to": "valid_to",
                 "active": "active", "currency": "currency", "on": "on"}


def _lookup_validity(raw: Any, where: str, report: Reporter) -> LookupValidity | None:
    """`default_lookup.valid`: {record, from?, to?, active?, currency?, on?}."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("record"), str) \
            or set(raw) - set(VALIDITY_KEYS) \
            or not all(isinstance(value, str) for value in raw.values()):
        report.error("a lookup's validity is {record, from?, to?, active?, currency?, on?}, "
                     "each a field name or path", where)
        return None
    return LookupValidity(**{VALIDITY_KEYS[key]: str(value) for key, value in raw.items()})


# --- checks once every entity is built ------------------------------------------------------

Node = tuple[str, str]
"""(entity, field)."""


def check_computed(context: CompileContext) -> None:
    """Names and paths exist, rollups name a reference back, no circle of computed fields."""
    edges: dict[Node, set[Node]] = {}
    pointers: dict[Node, str] = {}
    for entity in context.entities.values():
        report = context.reporter(entity.source.file)
        for fdef in entity.fields:
            pointer = fdef.source.pointer
            node = (entity.name, fdef.name)
            pointers[node] = pointer
            if isinstance(fdef.computed, FormulaDef):
                edges[node] = _formula_inputs(entity, fdef.computed, context, report, pointer)
            elif isinstance(fdef.computed, RollupDef):
                edges[node] = _rollup_inputs(entity, fdef, fdef.computed, context, report,
                                             pointer)
            if fdef.default_lookup is not None:
                _check_lookup(entity, fdef, fdef.default_lookup, context, report, pointer)
    _report_cycles(edges, pointers, context)


def _formula_inputs(entity: EntityDef, formula: FormulaDef, context: CompileContext,
                    report: Reporter, pointer: str) -> set[Node]:
    where = f"{pointer}/expression"
    inputs: set[Node] = set()
    for name in formula.names:
        if name in FORMULA_FUNCTIONS:
            continue
        fdef = entity.field(name)
        if fdef is None:
            report.error(f"the formula reads '{name}', which is not a field of "
                         f"'{entity.name}'" + suggestion(name, entity.field_names), where)
        elif fdef.type == "reference":
            report.error(f"the formula reads reference '{name}' itself: name a field of "
                         f"the record it points at, e.g. {name}.<field>", where)
        else:
            inputs.add((entity.name, name))
    for ref, attr in formula.paths:
        fdef = entity.field(ref)
        if fdef is None or fdef.type != "reference":
            report.error(f"'{ref}.{attr}': '{ref}' is not a reference field of "
                         f"'{entity.name}'", where)
            continue
        target = context.entities.get(fdef.target_entity or "")
        if target is None:
            continue  # the reference check reports it
        if not target.has_field(attr):
            report.error(f"'{ref}.{attr}': '{attr}' is not a field of '{target.name}'"
                         + suggestion(attr, target.field_names), where)
            continue
        inputs.add((entity.name, ref))
        inputs.add((target.name, attr))
    return inputs


def _rollup_inputs(parent: EntityDef, fdef: FieldDef, rollup: RollupDef,
                   context: CompileContext, report: Reporter, pointer: str) -> set[Node]:
    where = f"{pointer}/rollup"
    child = context.entity(rollup.entity, report, f"{where}/entity")
    if child is None:
        return set()
    via = child.field(rollup.via)
    if via is None or via.type != "reference" or via.target_entity != parent.name:
        report.error(f"'{rollup.via}' is not a reference of '{child.name}' to "
                     f"'{parent.name}'", f"{where}/via")
        return set()
    inputs = {(child.name, rollup.via)}
    if rollup.field is not None:
        aggregated = child.field(rollup.field)
        if aggregated is None:
            report.error(f"unknown field '{rollup.field}' of entity '{child.name}'"
                         + suggestion(rollup.field, child.field_names), f"{where}/field")
        else:
            inputs.add((child.name, rollup.field))
            _check_aggregated(aggregated, fdef, rollup, report, f"{where}/field")
    if rollup.filter is not None:
        context.check_criteria(rollup.filter, child, report, f"{where}/filter")
        inputs.update((child.name, name) for name in criteria_fields(rollup.filter)
                      if child.has_field(name))
    return inputs


def _check_aggregated(aggregated: FieldDef, fdef: FieldDef, rollup: RollupDef,
                      report: Reporter, where: str) -> None:
    if rollup.aggregate == "sum" and aggregated.type not in NUMERIC_RESULTS:
        report.error(f"cannot sum field '{aggregated.name}' ({aggregated.type})", where)
    elif (aggregated.type == "money") != (fdef.type == "money") and rollup.aggregate != "count":
        report.error(f"field '{aggregated.name}' ({aggregated.type}) does not fit the "
                     f"result type '{fdef.type}'", where)


def _check_lookup(entity: EntityDef, fdef: FieldDef, lookup: LookupDefault,
                  context: CompileContext, report: Reporter, pointer: str) -> None:
    where = f"{pointer}/{LOOKUP_KEY}"
    source = context.entity(lookup.entity, report, f"{where}/entity")
    if source is None:
        return
    context.check_field(source, lookup.field, report, f"{where}/field")
    for name, path in lookup.match:
        context.check_field(source, name, report, f"{where}/match", system=True)
        ref, _dot, attr = path.partition(".")
        ref_def = entity.field(ref)
        if ref_def is None:
            report.error(f"'{path}': '{ref}' is not a field of '{entity.name}'",
                         f"{where}/match/{name}")
        elif attr:
            target = context.entities.get(ref_def.target_entity or "")
            if ref_def.type != "reference" or target is None or not target.has_field(attr):
                report.error(f"'{path}' is not a field of the record '{ref}' points at",
                             f"{where}/match/{name}")
    if lookup.valid is not None:
        _check_validity(entity, lookup.valid, context, report, f"{where}/valid")


def _check_validity(entity: EntityDef, valid: LookupValidity, context: CompileContext,
                    report: Reporter, where: str) -> None:
    """`record` is a one-hop path to a reference; its fields exist with fitting types."""
    ref, _dot, attr = valid.record.partition(".")
    ref_def = entity.field(ref)
    holder = context.entities.get(ref_def.target_entity or "") if ref_def else None
    target_def = holder.field(attr) if holder is not None and attr else ref_def
    target = context.entities.get(target_def.target_entity or "") if target_def else None
    if target_def is None or target_def.type != "reference" or target is None:
        report.error(f"'{valid.record}' does not name a reference of this record",
                     f"{where}/record")
        return
    for key, name, types in (("from", valid.valid_from, {"date"}),
                             ("to", valid.valid_to, {"date"}),
                             ("active", valid.active, {"boolean"}),
                             ("currency", valid.currency, {"picklist", "text"})):
        found = target.field(name) if name is not None else None
        if name is not None and (found is None or found.type not in types):
            report.error(f"'{name}' is not a {' or '.join(sorted(types))} field of "
                         f"'{target.name}'", f"{where}/{key}")
    if valid.on is not None:
        head, _dot, tail = valid.on.partition(".")
        head_def = entity.field(head)
        on_holder = context.entities.get(head_def.target_entity or "") if head_def else None
        if head_def is None or (tail and (on_holder is None or not (
                on_holder.has_field(tail) or tail in CRITERIA_SYSTEM_COLUMNS))):
            report.error(f"'{valid.on}' is not a date of this record or of one it references",
                         f"{where}/on")


def _report_cycles(edges: dict[Node, set[Node]], pointers: dict[Node, str],
                   context: CompileContext) -> None:
    """Each circle of computed fields once, at its first field (in name order)."""
    reported: set[frozenset[Node]] = set()
    for start in sorted(edges):
        path = _cycle_from(start, edges)
        if path is None or frozenset(path) in reported:
            continue
        reported.add(frozenset(path))
        entity = context.entities[start[0]]
        shown = " -> ".join(f"{e}.{f}" for e, f in (*path, path[0]))
        context.reporter(entity.source.file).error(
            f"computed fields depend on each other in a circle: {shown}",
            pointers.get(start, ""))


def _cycle_from(start: Node, edges: dict[Node, set[Node]]) -> list[Node] | None:
    """A path of computed fields from `start` back to itself, or None."""
    stack: list[tuple[Node, list[Node]]] = [(start, [start])]
    seen: set[Node] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                return path
            if nxt in edges and nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None
