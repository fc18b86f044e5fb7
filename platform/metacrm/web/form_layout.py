"""Sections of a record page and its forms, from the entity's form view metadata.

A form view (`type: form`) lists sections — a label, fields in order, 1 to 4 columns. Only
fields the subject may see are placed (the caller passes the entity as `visible_entity`
gives it). Fields the layout does not mention — say, one an admin added a minute ago — go
into a last section, so a new field shows on the form at once. Without a form view all
fields make one section.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from metacrm.metadata.model import CompiledModel, EntityDef, ViewDef
from metacrm.web.i18n import label, t


@dataclass(frozen=True)
class Section:
    label: str
    fields: tuple[str, ...]
    columns: int = 1


def form_view(model: CompiledModel, entity: str) -> ViewDef | None:
    """The entity's form view (the first by name when there are several)."""
    views = sorted((v for v in model.views.values() if v.entity == entity and v.type == "form"),
                   key=lambda v: v.name)
    return views[0] if views else None


def list_view(model: CompiledModel, entity: str) -> ViewDef | None:
    views = sorted((v for v in model.views.values() if v.entity == entity and v.type == "list"),
                   key=lambda v: v.name)
    return views[0] if views else None


def sections(model: CompiledModel, entity: EntityDef) -> list[Section]:
    """The sections showing `entity`'s fields (visible ones only, each once)."""
    view = form_view(model, entity.name)
    placed: set[str] = set()
    found = []
    for section in view.sections if view else ():
        names = section.get("fields")
        fields = tuple(name for name in names if isinstance(name, str)
                       and entity.has_field(name) and name not in placed
                       ) if isinstance(names, list | tuple) else ()
        if not fields:
            continue
        placed.update(fields)
        columns = section.get("columns")
        raw_label = section.get("label")
        found.append(Section(
            label(raw_label if isinstance(raw_label, Mapping) else None, entity.name),
            fields, columns if isinstance(columns, int) and 1 <= columns <= 4 else 1))
    rest = tuple(name for name in entity.field_names if name not in placed)
    if rest:
        title = label(entity.label, entity.name) if not found else t("More fields")
        found.append(Section(title, rest, 2 if len(rest) > 3 else 1))
    return found
