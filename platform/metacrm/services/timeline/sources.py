"""The core timeline sources: the audit trail, and the records regarding the record.

`AuditSource` tells the record's changes (`change`: created, updated, deleted) and pipeline
moves (`transition`), one entry per change with its fields' old and new values — hidden
fields left out as in the history.

`RegardingSource` shows every record of a *timeline entity* that is about the record: an
entity with a `regarding` field that may link to the record's entity (calls, meetings,
notes, tasks), its kind being the entity's name, its moment `created_at`. Also shown:

* records the record takes part in — a *link entity* (one with a reference to a timeline
  entity and a regarding field, as `participant` has `meeting` and `contact`) whose
  regarding field names the record puts the referenced record on its timeline; link
  entities are not timeline entries themselves;
* roll-ups: the records regarding records that belong to this one (`ROLL_UPS`: a
  company's timeline shows the activities of its people).

Everything is read through the subject's scoped repository: an activity they may not read
is not on their timeline, and a regarding field hidden from them finds nothing. Roll-ups
and participation follow at most `MAX_RELATED` records each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metacrm.fieldtypes.regarding import allowed_entities
from metacrm.metadata.model import CompiledModel, EntityDef
from metacrm.services.timeline.service import Position, TimelineEntry, TimelineRequest
from metacrm.storage.keyset import position_cursor

KIND_CHANGE = "change"
KIND_TRANSITION = "transition"
TRANSITIONED = "transitioned"
MAX_ROUNDS = 20
"""Audit pages read at most to fill one filtered page (then the page is shorter)."""
MAX_RELATED = 500
SORT = ("-created_at", "-id")
ROLL_UPS: Mapping[str, tuple[tuple[str, str], ...]] = {"company": (("person", "company"),)}
"""record entity -> (entity, reference field) whose records' activities roll up to it."""


class AuditSource:
    """Changes and transitions from the audit trail."""

    name = "audit"

    def kinds(self, request: TimelineRequest) -> Sequence[str]:
        return (KIND_CHANGE, KIND_TRANSITION)

    def entries(self, request: TimelineRequest, kinds: frozenset[str],
                before: Position | None, limit: int) -> list[TimelineEntry]:
        found: list[TimelineEntry] = []
        cursor = (before.at, before.key) if before is not None else None
        for _ in range(MAX_ROUNDS):
            events = request.scoped.audit_events(request.conn, request.entity,
                                                 request.record_id, before=cursor, limit=limit)
            for event in events:
                if not event.entries:  # a change of fields hidden from the viewer only
                    continue
                first = event.entries[0]
                kind = KIND_TRANSITION if first.action == TRANSITIONED else KIND_CHANGE
                if kind in kinds:
                    found.append(TimelineEntry(
                        kind=kind, at=event.at, key=event.key, actor=first.actor,
                        data={"action": first.action, "changes": [
                            {"field": e.field, "old": e.old, "new": e.new}
                            for e in event.entries  # a file's row: its details
                            if e.field is not None or e.new is not None or e.old is not None]}))
            if len(found) >= limit or len(events) < limit:
                break
            cursor = (events[-1].at, events[-1].key)
        return found[:limit]


@dataclass(frozen=True)
class _Link:
    """A link entity's reference to a timeline entity and its regarding field."""

    entity: str
    reference: str
    regarding: str


def _regarding_fields(entity: EntityDef, targets: set[str]) -> list[str]:
    return [f.name for f in entity.fields if f.type == "regarding"
            and targets & set(allowed_entities(f))]


def _has_regarding(entity: EntityDef) -> bool:
    return any(f.type == "regarding" for f in entity.fields)


def link_entities(model: CompiledModel) -> set[str]:
    """Entities that reference a timeline entity: they link records to activities."""
    return {entity.name for entity in model.entities.values()
            if _has_regarding(entity) and any(
                f.type == "reference" and f.target_entity != entity.name
                and (target := model.entity(f.target_entity or "")) is not None
                and _has_regarding(target) for f in entity.fields)}


class RegardingSource:
    """Records about the record (activities, tasks), by entity."""

    name = "regarding"

    def __init__(self, roll_ups: Mapping[str, tuple[tuple[str, str], ...]] = ROLL_UPS) -> None:
        self.roll_ups = roll_ups

    def _targets(self, request: TimelineRequest) -> set[str]:
        model = request.runtime.model
        return {request.entity} | {entity for entity, _ in self.roll_ups.get(request.entity, ())
                                   if model.entity(entity) is not None}

    def _links(self, request: TimelineRequest) -> list[_Link]:
        model = request.runtime.model
        links: list[_Link] = []
        for name in sorted(link_entities(model)):
            entity = model.entities[name]
            for regarding in _regarding_fields(entity, {request.entity}):
                links.extend(_Link(name, f.name, regarding) for f in entity.fields
                             if f.type == "reference" and f.target_entity is not None)
        return links

    def kinds(self, request: TimelineRequest) -> Sequence[str]:
        model = request.runtime.model
        links = link_entities(model)
        targets = self._targets(request)
        linked = {model.entities[link.entity].field(link.reference).target_entity  # type: ignore[union-attr]
                  for link in self._links(request)}
        return tuple(
            name for name, entity in sorted(model.entities.items())
            if name not in links and request.scoped.scope(name, "read").allowed
            and (_regarding_fields(entity, targets) or name in linked))

    def entries(self, request: TimelineRequest, kinds: frozenset[str],
                before: Position | None, limit: int) -> list[TimelineEntry]:
        ids = self._ids(request)
        participation = self._participation(request, kinds)
        entries: list[TimelineEntry] = []
        for name in sorted(kinds):
            criteria = self._criteria(request, name, ids, participation.get(name, ()))
            if criteria is None:
                continue
            page = request.scoped.page(
                request.conn, name, criteria=criteria, sort=SORT, limit=limit,
                cursor=(position_cursor(name, SORT, (before.at, before.key))
                        if before is not None else None))
            entries.extend(self._entry(request, name, record) for record in page.records)
        entries.sort(key=lambda e: e.position, reverse=True)
        return entries[:limit]

    # --- which records ---------------------------------------------------------------------

    def _ids(self, request: TimelineRequest) -> dict[str, list[str]]:
        """Target entity -> the ids whose records' activities show: the record's, and the
        rolled-up records' (those the subject may read)."""
        ids = {request.entity: [request.record_id]}
        for entity, field_name in self.roll_ups.get(request.entity, ()):
            if request.runtime.model.entity(entity) is None:
                continue
            visible = request.scoped.policy.visible_entity(request.subject, entity) \
                if request.scoped.scope(entity, "read").allowed else None
            if visible is None or not visible.has_field(field_name):
                continue
            page = request.scoped.page(
                request.conn, entity, limit=MAX_RELATED, fields=[field_name],
                criteria={"field": field_name, "op": "eq", "value": request.record_id})
            found = [str(record["id"]) for record in page.records]
            if found:
                ids[entity] = found
        return ids

    def _participation(self, request: TimelineRequest, kinds: frozenset[str]
                       ) -> dict[str, list[str]]:
        """Timeline entity -> ids of its records the record takes part in."""
        found: dict[str, list[str]] = {}
        model = request.runtime.model
        for link in self._links(request):
            target = model.entities[link.entity].field(link.reference)
            name = target.target_entity if target is not None else None
            if name not in kinds or not request.scoped.scope(link.entity, "read").allowed:
                continue
            visible = request.scoped.policy.visible_entity(request.subject, link.entity)
            if not (visible.has_field(link.reference) and visible.has_field(link.regarding)):
                continue
            page = request.scoped.page(
                request.conn, link.entity, limit=MAX_RELATED, fields=[link.reference],
                criteria={"field": link.regarding, "op": "eq", "value": request.record_id})
            found.setdefault(str(name), []).extend(
                str(record[link.reference]) for record in page.records
                if record.get(link.reference))
        return found

    def _criteria(self, request: TimelineRequest, name: str, ids: Mapping[str, list[str]],
                  participating: Sequence[str]) -> dict[str, Any] | None:
        visible = request.scoped.policy.visible_entity(request.subject, name)
        parts: list[dict[str, Any]] = []
        for fdef in visible.fields:
            if fdef.type != "regarding":
                continue
            linked = [i for entity in allowed_entities(fdef) for i in ids.get(entity, ())]
            if linked:
                parts.append({"field": fdef.name, "op": "in", "value": linked})
        if participating:
            parts.append({"field": "id", "op": "in",
                          "value": sorted(set(participating))[:MAX_RELATED]})
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"or": parts}

    @staticmethod
    def _entry(request: TimelineRequest, name: str, record: Mapping[str, Any]
               ) -> TimelineEntry:
        return TimelineEntry(
            kind=name, at=record["created_at"], key=str(record["id"]),
            actor=record.get("created_by"),
            data={"entity": name, "record": request.runtime.json.record(name, record)})
