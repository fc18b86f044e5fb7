"""Compile document templates: the entity, the page format, the related lists.

The template texts themselves (Jinja syntax, the fields they name) are checked by the
documents feature (`metacrm.documents.validation`), which owns the sandbox they run in.
"""

from __future__ import annotations

from metacrm.metadata.compiler.context import CompileContext
from metacrm.metadata.compiler.freeze import labels
from metacrm.metadata.documents import Document
from metacrm.metadata.model import DocumentTemplateDef, RelatedListDef, SourceRef

REFERENCE = "reference"


def build_document_template(document: Document) -> DocumentTemplateDef:
    body = document.body
    page = body.get("page") or {}
    return DocumentTemplateDef(
        name=document.name,
        label=labels(body.get("label")),
        entity=str(body["entity"]),
        language=str(body["language"]),
        body=str(body["body"]),
        header=str(body.get("header") or ""),
        footer=str(body.get("footer") or ""),
        styles=str(body.get("styles") or ""),
        file_name=body.get("file_name"),
        page_size=str(page.get("size", "A4")),
        orientation=str(page.get("orientation", "portrait")),
        margin_mm=float(page.get("margin_mm", 20)),
        related=tuple(
            RelatedListDef(name=str(raw["name"]), entity=str(raw["entity"]),
                           field=str(raw["field"]), sort=tuple(raw.get("sort") or ()),
                           limit=int(raw.get("limit", 500)))
            for raw in body.get("related") or ()),
        description=labels(body.get("description")),
        pack=document.pack,
        source=SourceRef(document.source),
    )


def check_document_template(template: DocumentTemplateDef, context: CompileContext) -> None:
    report = context.reporter(template.source.file)
    entity = context.entity(template.entity, report, "/entity")
    if entity is None:
        return
    seen: set[str] = set()
    for index, related in enumerate(template.related):
        pointer = f"/related/{index}"
        if related.name in seen or related.name in ("record", "now", "today", "document"):
            report.error(f"the name '{related.name}' is taken", f"{pointer}/name")
        seen.add(related.name)
        other = context.entity(related.entity, report, f"{pointer}/entity")
        if other is None:
            continue
        if not context.check_field(other, related.field, report, f"{pointer}/field"):
            continue
        fdef = other.field(related.field)
        if fdef is None or fdef.type != REFERENCE or fdef.target_entity != entity.name:
            report.error(f"'{related.field}' of '{other.name}' is not a reference to "
                         f"'{entity.name}'", f"{pointer}/field")
        for key_index, key in enumerate(related.sort):
            context.check_field(other, key.lstrip("-"), report,
                                f"{pointer}/sort/{key_index}", system=True)
