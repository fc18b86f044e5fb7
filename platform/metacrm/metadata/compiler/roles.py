"""Compile role documents: per-entity scopes, row rules, field security, transitions."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from metacrm.metadata.compiler.context import CompileContext, suggestion
from metacrm.metadata.compiler.freeze import labels, names
from metacrm.metadata.documents import Document
from metacrm.metadata.model import EMPTY, SYSTEM_COLUMNS, EntityPermission, RoleDef, SourceRef

ACTIONS = ("read", "create", "update", "delete", "export")
IMPORT = "import"


def build_role(document: Document) -> RoleDef:
    body = document.body
    entities = {
        name: _permission(raw) for name, raw in body.get("entities", {}).items()
    }
    transitions = {
        pipeline: ("*",) if allowed == "*" else names(allowed)
        for pipeline, allowed in body.get("transitions", {}).items()
    }
    return RoleDef(
        name=document.name,
        label=labels(body.get("label")),
        entities=MappingProxyType(entities),
        transitions=MappingProxyType(transitions),
        admin=bool(body.get("admin", False)),
        pack=document.pack,
        source=SourceRef(document.source),
    )


def _permission(raw: Mapping[str, Any]) -> EntityPermission:
    scopes = {action: str(raw.get(action, "none")) for action in ACTIONS}
    fields = raw.get("fields")
    return EntityPermission(
        **scopes,
        import_=str(raw.get(IMPORT, "none")),
        rules=tuple(raw.get("rules", ())),
        fields=MappingProxyType(dict(fields)) if fields else EMPTY,
    )


def check_role(role: RoleDef, context: CompileContext) -> None:
    """The role's entities, fields, pipelines and transitions must exist; rules must check."""
    report = context.reporter(role.source.file)
    for entity_name, permission in role.entities.items():
        pointer = f"/entities/{_escape(entity_name)}"
        entity = context.entity(entity_name, report, pointer)
        if entity is None:
            continue
        for index, rule in enumerate(permission.rules):
            context.check_criteria(rule, entity, report, f"{pointer}/rules/{index}")
        for field_name in permission.fields:
            where = f"{pointer}/fields/{_escape(field_name)}"
            if field_name in SYSTEM_COLUMNS:
                report.error(f"'{field_name}' is a system column; field security applies to "
                             "the entity's own fields", where)
            else:
                context.check_field(entity, field_name, report, where)
    for pipeline_name, allowed in role.transitions.items():
        pointer = f"/transitions/{_escape(pipeline_name)}"
        pipeline = context.pipeline(pipeline_name, report, pointer)
        if pipeline is None or allowed == ("*",):
            continue
        known = [t.name for t in pipeline.transitions]
        for index, name in enumerate(allowed):
            if name not in known:
                report.error(f"unknown transition '{name}' of pipeline '{pipeline.name}'"
                             + suggestion(name, known), f"{pointer}/{index}")


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
