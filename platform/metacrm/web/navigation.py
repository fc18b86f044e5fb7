"""The navigation: the packs and entities the signed-in user may read, in pack order."""

from __future__ import annotations

from dataclasses import dataclass

from metacrm.access.subject import AccessSubject
from metacrm.metadata.model import CompiledModel, EntityDef
from metacrm.web.context import services
from metacrm.web.i18n import label, t

PACK_ORDER = ("sales", "contacts", "service", "marketing", "communications", "documents",
              "tasks", "analytics")


@dataclass(frozen=True)
class NavEntity:
    name: str
    label: str
    has_board: bool


@dataclass(frozen=True)
class NavPack:
    name: str
    label: str
    entities: tuple[NavEntity, ...]


def pipeline_of(model: CompiledModel, entity: str) -> str | None:
    """The pipeline driving the entity's state field (the kanban board's columns), if any."""
    for pipeline in model.pipelines.values():
        if pipeline.entity == entity:
            return pipeline.name
    return None


def readable_entities(subject: AccessSubject) -> list[EntityDef]:
    policy = services().records.runtime().policy
    model = policy.model
    return [entity for entity in model.entities.values()
            if policy.scope(subject, entity.name, "read").allowed]


def navigation(subject: AccessSubject) -> list[NavPack]:
    model = services().records.runtime().policy.model
    packs: dict[str, list[NavEntity]] = {}
    for entity in readable_entities(subject):
        packs.setdefault(entity.pack or "custom", []).append(NavEntity(
            entity.name, label(entity.plural_label, entity.name),
            pipeline_of(model, entity.name) is not None))
    order = {name: index for index, name in enumerate(PACK_ORDER)}
    names = sorted(packs, key=lambda name: (order.get(name, len(order)), name))
    return [NavPack(name, t(name.replace("_", " ").capitalize()),
                    tuple(sorted(packs[name], key=lambda item: item.label)))
            for name in names]
