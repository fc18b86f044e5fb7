"""Cross-document checks: duplicate documents, references between entities, state fields
and their pipelines, index names that must be unique in the whole database."""

from __future__ import annotations

from collections.abc import Sequence

from metacrm.metadata.compiler.context import CompileContext, suggestion
from metacrm.metadata.documents import Document
from metacrm.metadata.model import EntityDef, FieldDef


def without_duplicates(documents: Sequence[Document], context: CompileContext) -> list[Document]:
    """The documents minus any that repeat an earlier one's kind and name (each reported)."""
    first: dict[tuple[str, str], Document] = {}
    kept: list[Document] = []
    for document in documents:
        key = (document.kind, document.name)
        earlier = first.setdefault(key, document)
        if earlier is document:
            kept.append(document)
            continue
        context.reporter(document.source).error(
            f"duplicate {document.kind} name '{document.name}': also defined in "
            f"{earlier.source}", "/name")
    return kept


def check_entity_links(context: CompileContext) -> None:
    """References name existing entities; state fields name a pipeline of their entity."""
    index_owner: dict[str, str] = {}
    for entity in context.entities.values():
        for position, fdef in enumerate(entity.fields):
            pointer = _field_pointer(fdef, position)
            if fdef.type == "reference":
                _check_reference(entity, fdef, pointer, context)
            elif fdef.type == "regarding":
                _check_regarding(entity, fdef, pointer, context)
            elif fdef.type == "state":
                _check_state_field(entity, fdef, pointer, context)
        report = context.reporter(entity.source.file)
        for position, index in enumerate(entity.indexes):
            owner = index_owner.setdefault(index.name, entity.name)
            if owner != entity.name:
                report.error(f"index name '{index.name}' is already used by entity '{owner}'; "
                             "index names are unique in the whole database",
                             f"/indexes/{position}/name")


def _field_pointer(fdef: FieldDef, position: int) -> str:
    return fdef.source.pointer or f"/fields/{position}"


def _check_regarding(
    entity: EntityDef, fdef: FieldDef, pointer: str, context: CompileContext
) -> None:
    names = fdef.option("entities")
    for position, target in enumerate(names if isinstance(names, tuple | list) else ()):
        if isinstance(target, str) and target not in context.entities:
            context.reporter(entity.source.file).missing(
                f"field '{fdef.name}' may link to unknown entity '{target}'"
                + suggestion(target, context.entities), f"{pointer}/entities/{position}")


def _check_reference(
    entity: EntityDef, fdef: FieldDef, pointer: str, context: CompileContext
) -> None:
    target = fdef.target_entity
    if target is not None and target not in context.entities:
        context.reporter(entity.source.file).missing(
            f"field '{fdef.name}' refers to unknown entity '{target}'"
            + suggestion(target, context.entities), f"{pointer}/entity")


def _check_state_field(
    entity: EntityDef, fdef: FieldDef, pointer: str, context: CompileContext
) -> None:
    report = context.reporter(entity.source.file)
    name = fdef.option("pipeline")
    pipeline = context.pipelines.get(name) if isinstance(name, str) else None
    if pipeline is None:
        report.missing(f"field '{fdef.name}' names unknown pipeline '{name}'"
                     + suggestion(str(name), context.pipelines), f"{pointer}/pipeline")
        return
    if pipeline.entity != entity.name:
        report.error(f"pipeline '{pipeline.name}' belongs to entity '{pipeline.entity}', not "
                     f"'{entity.name}'", f"{pointer}/pipeline")
        return
    if fdef.default is not None and fdef.default not in pipeline.state_names:
        report.error(f"the default '{fdef.default}' is not a state of pipeline "
                     f"'{pipeline.name}'" + suggestion(str(fdef.default), pipeline.state_names),
                     f"{pointer}/default")
