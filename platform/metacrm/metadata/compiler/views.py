"""Compile view documents: list layouts (columns, filter, sort) and form layouts."""

from __future__ import annotations

from types import MappingProxyType

from metacrm.metadata.compiler.context import CompileContext, Reporter
from metacrm.metadata.compiler.freeze import labels, names
from metacrm.metadata.documents import Document
from metacrm.metadata.model import EntityDef, SourceRef, ViewDef


def build_view(document: Document) -> ViewDef:
    body = document.body
    sections = tuple(
        MappingProxyType({
            "label": labels(raw.get("label")),
            "fields": names(raw.get("fields")),
            "columns": int(raw.get("columns", 1)),
        })
        for raw in body.get("sections", ())
    )
    return ViewDef(
        name=document.name,
        label=labels(body.get("label")),
        entity=str(body["entity"]),
        type=str(body["type"]),
        columns=names(body.get("columns")),
        sections=sections,
        filter=body.get("filter"),
        sort=names(body.get("sort")),
        pack=document.pack,
        source=SourceRef(document.source),
    )


def check_view(view: ViewDef, context: CompileContext) -> None:
    report = context.reporter(view.source.file)
    entity = context.entity(view.entity, report, "/entity")
    if entity is None:
        return
    for index, name in enumerate(view.columns):
        context.check_field(entity, name, report, f"/columns/{index}", system=True)
    if view.filter is not None:
        context.check_criteria(view.filter, entity, report, "/filter")
    _check_sort(view, entity, context, report)
    placed: dict[str, str] = {}
    for number, section in enumerate(view.sections):
        for index, name in enumerate(section["fields"]):
            pointer = f"/sections/{number}/fields/{index}"
            if name in placed:
                report.error(f"field '{name}' is already placed at {placed[name]}", pointer)
                continue
            placed[name] = pointer
            context.check_field(entity, name, report, pointer, system=True)


def _check_sort(
    view: ViewDef, entity: EntityDef, context: CompileContext, report: Reporter
) -> None:
    seen: set[str] = set()
    for index, key in enumerate(view.sort):
        name = key.removeprefix("-")
        pointer = f"/sort/{index}"
        if name in seen:
            report.error(f"the list is already sorted by '{name}'", pointer)
            continue
        seen.add(name)
        if not context.check_field(entity, name, report, pointer, system=True):
            continue
        if not entity.sortable(name):
            report.error(f"cannot sort on '{name}': only indexed fields sort fast; mark it "
                         "\"indexed\" or declare an index that starts with it", pointer)
