"""The navigation: the packs and entities the signed-in user may read, in pack order."""

from __future__ import annotations

from dataclasses import dataclass

from metacrm.access.subject import AccessSubject
from metacrm.metadata.model import CompiledModel, EntityDef
from metacrm.web.context import services
from metacrm.web.i18n import label, t

PACK_ORDER = ("sales", "contacts", "service", "marketing", "communications", "documents",
              "tasks", "analytics", "other")
OTHER = "other"
"""The group of entities made in the designer or the API without one (their pack is the
internal `admin`, which must not read as the Administration menu)."""
UNGROUPED_PACKS = frozenset({"", "admin"})


def group_of(entity: EntityDef) -> str:
    """The navigation group an entity is listed under."""
    if entity.group:
        return entity.group
    return OTHER if entity.pack in UNGROUPED_PACKS else entity.pack


def group_label(name: str) -> str:
    """A group's label in the user's language (the shipped groups are translated)."""
    known = {
        "sales": t("Sales"), "contacts": t("Contacts"), "service": t("Service"),
        "marketing": t("Marketing"), "communications": t("Communications"),
        "documents": t("Documents"), "tasks": t("Tasks"), "analytics": t("Analytics"),
        OTHER: t("Other"),
    }
    return known.get(name, name.replace("_", " ").capitalize())


def group_names(model: CompiledModel) -> list[str]:
    """The groups the designer offers: the shipped ones and those in use, in menu order."""
    used = {group_of(entity) for entity in model.entities.values()}
    order = {name: index for index, name in enumerate(PACK_ORDER)}
    return sorted(used | set(PACK_ORDER), key=lambda name: (order.get(name, len(order)), name))


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
        packs.setdefault(group_of(entity), []).append(NavEntity(
            entity.name, label(entity.plural_label, entity.name),
            pipeline_of(model, entity.name) is not None))
    order = {name: index for index, name in enumerate(PACK_ORDER)}
    names = sorted(packs, key=lambda name: (order.get(name, len(order)), name))
    return [NavPack(name, group_label(name),
                    tuple(sorted(packs[name], key=lambda item: item.label)))
            for name in names]
