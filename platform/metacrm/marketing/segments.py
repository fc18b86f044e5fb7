"""Segments: saved criteria over persons, companies or leads, resolved into an audience.

A `segment` record names the entity it selects from (`entity`), its `criteria` (the one
criteria language, `metacrm.criteria`: the list view's filter tree) and its type:
*dynamic* — the criteria are applied whenever the segment is used — or *static* — the
members frozen at one moment (`freeze`), kept as `segment_member` rows.

Every resolution runs as the caller: the segment must be readable to them, the criteria
may name only fields they may see, and members are only the records of their read scope
with the fields they may see (`ScopedRepository.rows_after`, a walk in id order in
batches of `BATCH`). A static segment's member outside the caller's scope is left out,
not reported. So a marketer who may read only their own persons mails only those, whoever
froze the list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeAlias

from metacrm.access.scoped_repository import ScopedRepository
from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import Conflict, ErrorDetail, ValidationFailed
from metacrm.metadata.model import EntityDef
from metacrm.metadata.titles import render_title
from metacrm.services.records.service import RecordsService

Actor: TypeAlias = AccessSubject
"""Who resolves a segment: the access subject the records service acts for (the contract
with `metacrm.marketing.mailings` names it `Actor`)."""

SEGMENT = "segment"
MEMBER = "segment_member"
AUDIENCE_ENTITIES = ("person", "company", "lead")
DYNAMIC, STATIC = "dynamic", "static"
BATCH = 5000
"""Records read per statement while resolving (one keyset step)."""
MEMBER_BATCH = 500
"""Static members looked up per statement (`ScopedRepository.fetch`'s chunk)."""
LANGUAGE_FIELDS = ("preferred_language", "language")
LANGUAGES = ("en", "ru")


@dataclass(frozen=True)
class AudienceMember:
    """One record a segment resolves to, as the resolving actor may see it."""

    entity: str
    """"person" | "lead" | "company"."""
    record_id: str
    email: str | None
    name: str
    language: str | None
    """"en" | "ru" | None (another or no preferred language)."""
    values: Mapping[str, Any]
    """The record's readable fields in JSON form (as the records API returns them), for
    merge fields; read when first used (`LazyValues`)."""


@dataclass(frozen=True)
class SegmentDefinition:
    """What a segment record says, checked."""

    id: str
    entity: str
    segment_type: str
    criteria: Any


class Segments:
    """Resolve, count, preview and freeze segments (`services.marketing.segments`)."""

    def __init__(self, records: RecordsService, clock: Callable[[], datetime]) -> None:
        self._records = records
        self._clock = clock

    # --- reading a segment ---------------------------------------------------------------

    def definition(self, segment_id: str, *, actor: Actor) -> SegmentDefinition:
        """The segment as the actor may read it (404 outside their scope), its entity and
        criteria checked (ValidationFailed pointing at `/entity` or `/criteria`)."""
        record = self._records.get(actor, SEGMENT, segment_id)
        entity = record.get("entity")
        criteria = record.get("criteria")
        self._check(entity, criteria)
        return SegmentDefinition(str(record["id"]), str(entity),
                                 str(record.get("segment_type") or DYNAMIC), criteria)

    def _check(self, entity: Any, criteria: Any) -> None:
        model = self._records.runtime().model
        if entity not in AUDIENCE_ENTITIES or model.entity(entity) is None:
            raise ValidationFailed("invalid segment", [ErrorDetail(
                f"must be one of {', '.join(AUDIENCE_ENTITIES)}", "/entity")])
        if criteria is not None and not isinstance(criteria, Mapping):
            raise ValidationFailed("invalid segment", [ErrorDetail(
                "must be a criteria tree (an object) or empty", "/criteria")])

    # --- the contract of metacrm.marketing.mailings --------------------------------------

    def resolve(self, segment_id: str, *, actor: Actor) -> Iterator[AudienceMember]:
        """The segment's members now: a dynamic segment's criteria under the actor's read
        scope, a static segment's frozen members that the actor may still read; in id
        order (dynamic) or frozen order (static), each once.

        Only the columns a member needs (email, the title's fields, the language) are read
        while walking; a member's `values` are read for its whole batch when the first of
        them is used (`BatchValues`), so a mailing without merge fields never reads them."""
        segment = self.definition(segment_id, actor=actor)
        runtime = self._records.runtime()
        builder = MemberBuilder(self._records.visible_entity(actor, segment.entity),
                                partial(runtime.json.record, segment.entity))
        scoped = self._scoped(actor)
        for batch in self._batches(segment, actor, fields=builder.fields):
            values = BatchValues(self._records, scoped, segment.entity,
                                 [str(record["id"]) for record in batch], builder.convert)
            for record in batch:
                yield builder.member(record, values)

    def count(self, segment_id: str, *, actor: Actor) -> int:
        """How many members `resolve` yields now, exactly."""
        segment = self.definition(segment_id, actor=actor)
        scoped = self._scoped(actor)
        if segment.segment_type != STATIC:
            with self._records.engine.connect() as conn:
                return scoped.exact_count(conn, segment.entity, criteria=segment.criteria)
        return sum(len(batch) for batch in self._static_batches(segment, actor, fields=()))

    # --- more for screens and the API ----------------------------------------------------

    def member_ids(self, segment_id: str, *, actor: Actor) -> Iterator[str]:
        """The ids of the members `resolve` yields (the cheapest walk: no record read)."""
        segment = self.definition(segment_id, actor=actor)
        if segment.segment_type == STATIC:
            for batch in self._static_batches(segment, actor, fields=()):
                yield from (str(record["id"]) for record in batch)
            return
        scoped = self._scoped(actor)
        after: str | None = None
        while True:
            with self._records.engine.connect() as conn:
                ids = scoped.ids_after(conn, segment.entity, criteria=segment.criteria,
                                       after=after, limit=BATCH * 4)
            yield from ids
            if len(ids) < BATCH * 4:
                return
            after = ids[-1]

    def preview(self, entity: Any, criteria: Any, *, actor: Actor) -> int:
        """How many records of `entity` matching `criteria` the actor may read: the count
        preview of a segment being built (nothing saved). Only for users who may read
        segments (403 otherwise): it is the segment builder's tool, not a second way to
        count records."""
        self._scoped(actor).require(SEGMENT, "read")
        self._check(entity, criteria)
        with self._records.engine.connect() as conn:
            return self._scoped(actor).exact_count(conn, str(entity), criteria=criteria)

    def freeze(self, segment_id: str, *, actor: Actor) -> dict[str, Any]:
        """Turn a dynamic segment into a static list of the members the actor resolves
        now, in one transaction; the segment as saved. The actor needs update on the
        segment and create on its members; a static segment is refused (409): its list is
        what was agreed on, and a new list is a new segment.

        Member rows are derived data: they are written without audit rows (the segment's
        own change to static, with its count and moment, is audited)."""
        segment = self.definition(segment_id, actor=actor)
        if segment.segment_type == STATIC:
            raise Conflict("this segment is already a static list",
                           [ErrorDetail("a static segment cannot be frozen again",
                                        "/segment_type")])
        ids = list(self.member_ids(segment_id, actor=actor))
        runtime = self._records.runtime()
        scoped = runtime.scoped(actor)
        scoped.require(MEMBER, "create")
        with self._records.transaction() as conn:
            for start in range(0, len(ids), 1000):
                scoped.insert_many(conn, MEMBER, [
                    {"segment": segment.id, "record_id": record_id}
                    for record_id in ids[start:start + 1000]])
            self._records.update_in(conn, actor, SEGMENT, segment.id,
                                    {"segment_type": STATIC})
            runtime.system.update(conn, SEGMENT, segment.id, {
                "frozen_at": self._clock(), "member_count": len(ids)},
                actor=actor.user_id or "", trusted=True)
        return self._records.get(actor, SEGMENT, segment.id)

    # --- internals -----------------------------------------------------------------------

    def _scoped(self, actor: Actor) -> ScopedRepository:
        return self._records.runtime().scoped(actor)

    def _batches(self, segment: SegmentDefinition, actor: Actor, fields: Sequence[str]
                 ) -> Iterator[Sequence[Mapping[str, Any]]]:
        if segment.segment_type == STATIC:
            yield from self._static_batches(segment, actor, fields=fields)
            return
        scoped = self._scoped(actor)
        after: str | None = None
        while True:
            with self._records.engine.connect() as conn:
                batch = scoped.rows_after(conn, segment.entity, criteria=segment.criteria,
                                          fields=fields, after=after, limit=BATCH)
            if batch:
                yield batch
            if len(batch) < BATCH:
                return
            after = str(batch[-1]["id"])

    def _static_batches(self, segment: SegmentDefinition, actor: Actor,
                        fields: Sequence[str] | None
                        ) -> Iterator[Sequence[Mapping[str, Any]]]:
        """The frozen members the actor may read, in frozen order, `MEMBER_BATCH` at a
        time; the member rows themselves are read with the actor's rights too."""
        scoped = self._scoped(actor)
        after: str | None = None
        while True:
            with self._records.engine.connect() as conn:
                rows = scoped.rows_after(conn, MEMBER, criteria={
                    "field": "segment", "op": "eq", "value": segment.id},
                    fields=["record_id"], after=after, limit=MEMBER_BATCH)
                ids = [str(row["record_id"]) for row in rows]
                found = scoped.fetch(conn, segment.entity, ids, fields=fields)
            readable = [found[i] for i in ids if i in found]
            if readable:
                yield readable
            if len(rows) < MEMBER_BATCH:
                return
            after = str(rows[-1]["id"])


class BatchValues:
    """The readable values of one batch of members, read in one go when the first member
    of the batch needs them (`LazyValues`): a mailing with plain text never reads them, a
    mailing with merge fields reads each batch once (measured: converting every field of
    every member was most of `resolve`'s time, bench/segments.py)."""

    def __init__(self, records: RecordsService, scoped: ScopedRepository, entity: str,
                 ids: Sequence[str],
                 convert: Callable[[Mapping[str, Any]], dict[str, Any]]) -> None:
        self._records = records
        self._scoped = scoped
        self._entity = entity
        self._ids = ids
        self._convert = convert
        self._loaded: dict[str, dict[str, Any]] | None = None

    def of(self, record_id: str) -> dict[str, Any]:
        if self._loaded is None:
            with self._records.engine.connect() as conn:
                found = self._scoped.fetch(conn, self._entity, self._ids)
            self._loaded = {key: self._convert(record) for key, record in found.items()}
        # a member deleted or moved out of sight since the walk has no values left
        return self._loaded.get(record_id, {})


class LazyValues(Mapping[str, Any]):
    """One member's values from its batch (`BatchValues`), read on first use."""

    __slots__ = ("_batch", "_id")

    def __init__(self, batch: BatchValues, record_id: str) -> None:
        self._batch = batch
        self._id = record_id

    def __getitem__(self, key: str) -> Any:
        return self._batch.of(self._id)[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._batch.of(self._id))

    def __len__(self) -> int:
        return len(self._batch.of(self._id))

    def __repr__(self) -> str:
        return f"LazyValues({self._batch.of(self._id)!r})"


class MemberBuilder:
    """Audience members of one entity as one actor sees it (`entity`: the visible entity,
    hidden fields left out), from records in storage form; what to read is worked out
    once, not per record."""

    def __init__(self, entity: EntityDef,
                 convert: Callable[[Mapping[str, Any]], dict[str, Any]]) -> None:
        self._entity = entity.name
        self.convert = convert
        self._email = "email" if entity.field("email") is not None else None
        self._language = next((name for name in LANGUAGE_FIELDS
                               if entity.field(name) is not None), None)
        self._title = entity.title
        self._text_fields = frozenset(
            name for name in entity.title_field_names
            if (field := entity.field(name)) is not None
            and field.type not in ("reference", "regarding"))
        self.fields: tuple[str, ...] = tuple(sorted(
            {*self._text_fields, *(n for n in (self._email, self._language) if n)}))
        """The fields a member is made of (the walk reads only these)."""

    def member(self, record: Mapping[str, Any], values: BatchValues) -> AudienceMember:
        email = record.get(self._email) if self._email else None
        language = record.get(self._language) if self._language else None

        def text(name: str) -> str:
            value = record.get(name) if name in self._text_fields else None
            return "" if value is None else str(value)

        record_id = str(record["id"])
        return AudienceMember(
            entity=self._entity, record_id=record_id, email=str(email) if email else None,
            name=render_title(self._title, text) or record_id,
            language=language if language in LANGUAGES else None,
            values=LazyValues(values, record_id))
