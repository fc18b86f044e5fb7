"""Document templates' texts checked when metadata is planned or applied: Jinja syntax and
the record fields they name (the compiler checked the entity, page and related lists)."""

from __future__ import annotations

from dataclasses import replace

from metacrm.documents.rendering import check_template
from metacrm.kernel.errors import ErrorDetail
from metacrm.metadata.model import CompiledModel, EntityDef


def check_templates(model: CompiledModel) -> list[ErrorDetail]:
    errors: list[ErrorDetail] = []
    for template in sorted(model.document_templates.values(), key=lambda t: t.name):
        entity = model.entity(template.entity)
        if entity is None:
            continue
        related: dict[str, EntityDef] = {}
        for spec in template.related:
            other = model.entity(spec.entity)
            if other is not None:
                related[spec.name] = other
        errors.extend(replace(error, source=template.source.file)
                      for error in check_template(template, entity, related))
    return errors
