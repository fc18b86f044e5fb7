"""Related lists of a record page: the records of other entities that reference this one.

For every reference field (of any entity in the live model) that targets the record's
entity, and every regarding field that may link to it, one page of the records pointing at
it — read through `RecordsService.list`, so the
subject's read scope and field security apply exactly as on a list: an entity the subject
may not read, or a reference field hidden from them, gives no related list at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.regarding import allowed_entities
from metacrm.metadata.model import EntityDef, FieldDef
from metacrm.services.records.listing import RecordPage
from metacrm.services.records.service import RecordsService

RELATED_LIMIT = 10


@dataclass(frozen=True)
class RelatedList:
    """The records of `entity` whose `field` names the record (first page)."""

    entity: EntityDef
    """As the subject may see it (hidden fields left out)."""
    field: FieldDef
    page: RecordPage


def referencing_fields(records: RecordsService, subject: AccessSubject,
                       target: str) -> list[tuple[EntityDef, FieldDef]]:
    """(entity, reference field) pairs pointing at `target` that the subject may read."""
    policy = records.runtime().policy
    found = []
    for name in sorted(policy.model.entities):
        if not policy.scope(subject, name, "read").allowed:
            continue
        visible = policy.visible_entity(subject, name)
        for fdef in visible.fields:
            if (fdef.type == "reference" and fdef.target_entity == target) or (
                    fdef.type == "regarding" and target in allowed_entities(fdef)):
                found.append((visible, fdef))
    return found


def related_lists(records: RecordsService, subject: AccessSubject, entity: str,
                  record_id: str, *, limit: int = RELATED_LIMIT) -> list[RelatedList]:
    """One page (newest first) per referencing field."""
    result = []
    for other, fdef in referencing_fields(records, subject, entity):
        page = records.list(subject, other.name,
                            criteria={"field": fdef.name, "op": "eq", "value": record_id},
                            sort=("-created_at",), limit=limit)
        result.append(RelatedList(other, fdef, page))
    return result
