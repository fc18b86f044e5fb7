"""The records service: what the REST API (and later the screens) call to work with records.

Every method takes the caller's `AccessSubject` first and returns JSON-ready dicts (field
types' `to_json` applied, hidden fields removed, system columns included). Reads and writes
go through `ScopedRepository` (access/README.md); each write is ONE transaction holding the
row change, its audit rows and its outbox event (`unit_of_work.write_transaction`).

Each write command has a twin taking a connection (`create_in`, `update_in`, ...): the
automation engine and the pipeline and conversion services compose several writes in one
transaction with them. `transaction()` opens such a transaction with the service's
listeners (synchronous triggers before the commit, the outbox relay after it).

Errors: ValidationFailed 422 (pointer per field), Forbidden 403, NotFound 404 (also for
records outside the read scope), StaleRecord 412, Conflict 409.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.access.scoped_reads import storable_id
from metacrm.access.scoped_repository import KEEP, BeforeSave, Unchanged
from metacrm.access.subject import AccessSubject, ActorLike
from metacrm.access.teams import TeamDirectory
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.clock import Clock, utc_now
from metacrm.kernel.errors import (
    ErrorDetail,
    Forbidden,
    MetacrmError,
    NotFound,
    ValidationFailed,
)
from metacrm.metadata.model import EntityDef
from metacrm.services.duplicates.checks import DuplicateChecker
from metacrm.services.metadata.service import MetadataService
from metacrm.services.records.batches import BatchItem, at_item, parse_creates, parse_updates
from metacrm.services.records.listing import (
    RecordPage,
    fetch_included,
    include_fields,
    with_include_fields,
)
from metacrm.services.records.runtime import RecordsRuntime, RuntimeCache
from metacrm.services.records.save_hooks import NO_INTERCEPTORS, SaveInterceptors, chained
from metacrm.services.records.unit_of_work import TransactionListener, write_transaction
from metacrm.services.records.validation_rules import ValidationRules
from metacrm.storage import outbox, record_merges
from metacrm.storage.outbox import OutboxEvent

OWNER = "owner"
DUPLICATES = "_duplicates"
"""Key of a saved record's JSON listing the records a warn duplicate rule matched."""


def split_owner(payload: Mapping[str, Any]) -> tuple[dict[str, Any], str | Unchanged]:
    """The field values of a create payload and the owner it asks for (KEEP: none)."""
    values = dict(payload)
    owner = values.pop(OWNER) if OWNER in values else KEEP
    return values, owner


class RecordsService:
    """List, read, create, change, delete records and read their history, as a subject."""

    def __init__(
        self,
        engine: sa.Engine,
        metadata: MetadataService,
        registry: FieldTypeRegistry,
        teams: TeamDirectory,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.metadata = metadata
        self.registry = registry
        self.teams = teams
        self._clock = clock
        self._runtimes = RuntimeCache(metadata, registry, clock)
        self.listeners: builtins.list[TransactionListener] = []
        """Hear every write command's events (see `unit_of_work.TransactionListener`)."""
        self.duplicates = DuplicateChecker(self.runtime)
        """The duplicate rules' checks (`services.duplicates.checks`), run on every save."""
        self.interceptors: SaveInterceptors = NO_INTERCEPTORS
        """Take part in every create and update before it is written (extension packs'
        interceptors, `services.records.save_hooks`)."""
        self.defaults: SaveInterceptors = NO_INTERCEPTORS
        """Lookup defaults (`metacrm.computed`): before the interceptors."""
        self.computed: SaveInterceptors = NO_INTERCEPTORS
        """Computed fields (`metacrm.computed`): after the interceptors, on what they set."""
        self.validations: SaveInterceptors = ValidationRules(
            lambda: self.runtime().model, registry, clock)
        """The entities' validation rules: last, on the record as it will be written."""

    def before_save(self, conn: sa.Connection, subject: AccessSubject, entity: str
                    ) -> BeforeSave | None:
        """The callback of one write command: lookup defaults, packs' interceptors,
        computed fields, then validation rules, each seeing what the earlier ones set."""
        hook = None
        for step in (self.defaults, self.interceptors, self.computed, self.validations):
            hook = chained(hook, step.hook(conn, subject, entity))
        return hook

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One write command's transaction, with the listeners."""
        with write_transaction(self.engine, tuple(self.listeners)) as conn:
            yield conn

    def now(self) -> datetime:
        return self._clock()

    def runtime(self) -> RecordsRuntime:
        """The machinery of the live metadata version (rebuilt when it changes)."""
        return self._runtimes.get()

    def subject_for(self, actor: ActorLike) -> AccessSubject:
        """The access subject of an authenticated actor (roles, teams, team members)."""
        return self.teams.subject(actor)

    def visible_entity(self, subject: AccessSubject, entity: str) -> EntityDef:
        """The entity as `subject` may know it — fields hidden from them left out — so a
        request naming a hidden field is answered exactly like one naming an unknown field."""
        return self.runtime().policy.visible_entity(subject, entity)

    # --- reads ---------------------------------------------------------------------------

    def list(
        self,
        subject: AccessSubject,
        entity: str,
        *,
        criteria: Any = None,
        sort: Sequence[str] = (),
        limit: int = 50,
        cursor: str | None = None,
        fields: Sequence[str] | None = None,
        q: str | None = None,
        include: Sequence[str] = (),
    ) -> RecordPage:
        """One page of the records the subject may read that match `criteria` and `q`."""
        runtime = self.runtime()
        scoped = runtime.scoped(subject)
        scoped.require(entity, "read")
        includes = include_fields(scoped, entity, include)
        with self.engine.connect() as conn:
            page, count = scoped.page_with_count(
                conn, entity, criteria=criteria, q=q, sort=sort, limit=limit, cursor=cursor,
                fields=with_include_fields(fields, includes))
            included = fetch_included(conn, scoped, runtime.json, includes, page.records)
        return RecordPage(
            records=[runtime.json.record(entity, record) for record in page.records],
            next_cursor=page.next_cursor,
            count=count.value,
            count_is_estimate=count.estimate,
            included=included,
        )

    def search(
        self, subject: AccessSubject, entity: str, text: str, *, limit: int,
        fields: Sequence[str] | None = None,
    ) -> RecordPage:
        """The subject's best `limit` records of `entity` for a full-text search (ranked;
        `access.scoped_search`), as JSON, with how many match in all."""
        runtime = self.runtime()
        scoped = runtime.scoped(subject)
        with self.engine.connect() as conn:
            found = scoped.search(conn, entity, text, limit=limit, fields=fields)
        return RecordPage(
            records=[runtime.json.record(entity, record) for record in found.records],
            next_cursor=None, count=found.count.value,
            count_is_estimate=found.count.estimate, included={})

    def get(
        self, subject: AccessSubject, entity: str, record_id: str, *,
        include: Sequence[str] = (),
    ) -> dict[str, Any]:
        """One record; with `include`, its referenced records under `_included`."""
        runtime = self.runtime()
        scoped = runtime.scoped(subject)
        scoped.require(entity, "read")
        includes = include_fields(scoped, entity, include)
        with self.engine.connect() as conn:
            record = scoped.get(conn, entity, record_id)
            included = fetch_included(conn, scoped, runtime.json, includes, [record])
        result = runtime.json.record(entity, record)
        if includes:
            result["_included"] = included
        return result

    def history(
        self, subject: AccessSubject, entity: str, record_id: str
    ) -> builtins.list[dict[str, Any]]:
        """The record's audit trail, newest first (at, actor, action, field, old, new),
        with the trails of the records merged into it (`services.records.merge`)."""
        scoped = self.runtime().scoped(subject)
        with self.engine.connect() as conn:
            entries = scoped.history(conn, entity, record_id)
            merged = [str(i) for merge in record_merges.merges_into(conn, entity, record_id)
                      for i in merge["merged"]] if storable_id(record_id) else []
            if merged:
                entries = sorted([*entries, *scoped.merged_history(conn, entity, record_id,
                                                                   merged)],
                                 key=lambda e: e.at, reverse=True)  # stable
            return [entry.to_json() for entry in entries]

    def explain(
        self,
        subject: AccessSubject,
        entity: str,
        record_id: str | None = None,
        *,
        caller: AccessSubject | None = None,
    ) -> dict[str, Any]:
        """Why `subject` may or may not do each operation on `entity` (and the record).

        `caller`, when given, must hold an admin role (else Forbidden): explanations reveal
        other users' rights and records' owners.
        """
        runtime = self.runtime()
        policy = runtime.policy
        if caller is not None and not policy.is_admin(caller):
            raise Forbidden("only administrators may ask why",
                            [ErrorDetail("needs an admin role", "")])
        policy.entity(entity)
        record = None
        if record_id is not None:
            if storable_id(record_id):
                with self.engine.connect() as conn:
                    # as the system: an admin asks about any record, in scope or not
                    record = runtime.system.get(conn, entity, record_id)
            if record is None:
                raise NotFound(f"{entity} record {record_id} does not exist",
                               [ErrorDetail("no such record", "/id")])
        return policy.explain(subject, entity, record)

    # --- writes --------------------------------------------------------------------------

    def create(
        self, subject: AccessSubject, entity: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Create a record (`owner` in the payload assigns it); returns it as stored."""
        with self.transaction() as conn:
            record = self.create_in(conn, subject, entity, payload)
            events = outbox.collected(conn)  # the listeners add to it until the commit
            written = len(events)
        return _with_warnings(self._as_committed(subject, entity, record, events[written:]),
                              record)

    def create_in(
        self, conn: sa.Connection, subject: AccessSubject, entity: str,
        payload: Mapping[str, Any],
    ) -> dict[str, Any]:
        """`create` within the caller's transaction."""
        runtime = self.runtime()
        scoped = runtime.scoped(subject)
        scoped.require(entity, "create")
        if not isinstance(payload, Mapping):
            raise ValidationFailed(f"invalid {entity} record", [
                ErrorDetail("must be an object of field values", "")])
        values, owner = split_owner(payload)
        errors: builtins.list[ErrorDetail] = []
        engine_values = runtime.states.initial_values(entity, values, "", errors)
        if errors:
            raise ValidationFailed(f"invalid {entity} record", errors)
        record = scoped.insert(conn, entity, values, owner=owner, engine_values=engine_values,
                               before_save=self.before_save(conn, subject, entity))
        warnings = self._check_duplicates(conn, subject, entity, record, "create",
                                          runtime=runtime)
        runtime.changes.created(conn, entity, [record], subject.user_id)
        return _with_warnings(runtime.json.record(entity, scoped.visible(entity, record)),
                              warnings)

    def update(
        self,
        subject: AccessSubject,
        entity: str,
        record_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Change fields (`owner` reassigns); with `expected_version`, StaleRecord (412)
        when the record changed since. Returns the record as stored."""
        with self.transaction() as conn:
            record = self.update_in(conn, subject, entity, record_id, changes,
                                    expected_version=expected_version)
            events = outbox.collected(conn)  # the listeners add to it until the commit
            written = len(events)
        return _with_warnings(self._as_committed(subject, entity, record, events[written:]),
                              record)

    def _as_committed(
        self, subject: AccessSubject, entity: str, record: dict[str, Any],
        later_events: Sequence[OutboxEvent],
    ) -> dict[str, Any]:
        """The record as committed: synchronous triggers run after the command's own write
        and may have changed it again — then it is read anew (once), else returned as is."""
        record_id = str(record["id"])
        if not any(e.entity == entity and e.record_id == record_id for e in later_events):
            return record
        try:
            return self.get(subject, entity, record_id)
        except NotFound:  # a trigger deleted it or moved it out of the caller's sight
            return record

    def update_in(
        self,
        conn: sa.Connection,
        subject: AccessSubject,
        entity: str,
        record_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """`update` within the caller's transaction."""
        runtime = self.runtime()
        scoped = runtime.scoped(subject)
        before, after = scoped.update(
            conn, entity, record_id, changes, expected_version=expected_version,
            guard=runtime.states.guard(entity, subject.roles,
                                       admin=runtime.policy.is_admin(subject)),
            before_save=self.before_save(conn, subject, entity),
        )
        warnings = (self._check_duplicates(conn, subject, entity, after, "update",
                                           runtime=runtime)
                    if _keys_changed(runtime.model.entities[entity], before, after) else {})
        runtime.changes.updated(conn, entity, [(before, after)], subject.user_id)
        return _with_warnings(runtime.json.record(entity, scoped.visible(entity, after)),
                              warnings)

    def _check_duplicates(
        self, conn: sa.Connection, subject: AccessSubject, entity: str,
        record: Mapping[str, Any], event: str, pointer: str = "",
        runtime: RecordsRuntime | None = None, later: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Run the duplicate rules on a record just written: DuplicateFound (409, the
        transaction rolls back) when a block rule matches; else the warn rules' matches
        (`{DUPLICATES: [...]}`, empty when none). `later`: records written after it in the
        same batch — a duplicate inside a batch is reported at the later of the two."""
        runtime = runtime or self.runtime()
        if not self.duplicates.has_rules(entity, event, runtime=runtime):
            return {}
        check = self.duplicates.find(conn, subject, entity, record,
                                     exclude=(str(record["id"]),), ignore=frozenset(later),
                                     event=event, runtime=runtime)
        if check.blocked:
            raise check.refusal(entity, pointer)
        return {DUPLICATES: check.warnings()} if check.matches else {}

    def delete(
        self, subject: AccessSubject, entity: str, record_id: str, *,
        expected_version: int | None = None,
    ) -> None:
        """Delete a record. Its references' `on_delete` rules apply; the records they delete
        or change are audited and published like the record itself."""
        with self.transaction() as conn:
            self.delete_in(conn, subject, entity, record_id, expected_version=expected_version)

    def delete_in(
        self, conn: sa.Connection, subject: AccessSubject, entity: str, record_id: str, *,
        expected_version: int | None = None,
    ) -> None:
        """`delete` within the caller's transaction."""
        runtime = self.runtime()
        scoped = runtime.scoped(subject)
        if runtime.states.has_locks(entity):
            runtime.states.check_unlocked(
                entity, scoped.load_for(conn, entity, record_id, "delete"), subject.roles,
                admin=runtime.policy.is_admin(subject))
        deletion = scoped.delete(conn, entity, record_id, expected_version=expected_version)
        runtime.changes.deleted(conn, entity, deletion, subject.user_id, self._clock())

    def bulk_create(
        self, subject: AccessSubject, entity: str, payloads: Sequence[Mapping[str, Any]]
    ) -> builtins.list[dict[str, Any]]:
        """Create up to 1,000 records, all or nothing; pointers `/<index>/<field>`."""
        runtime = self.runtime()
        scoped = runtime.scoped(subject)
        scoped.require(entity, "create")
        items = parse_creates(payloads)
        errors: builtins.list[ErrorDetail] = []
        engine_values = [runtime.states.initial_values(entity, values, f"/{index}", errors)
                         for index, (values, _owner) in enumerate(items)]
        if errors:
            raise ValidationFailed(f"invalid {entity} records", errors)
        if not items:
            return []
        with self.transaction() as conn:
            records = scoped.insert_many(conn, entity, [values for values, _o in items],
                                         owners=[owner for _v, owner in items],
                                         engine_values=engine_values,
                                         before_save=self.before_save(
                                             conn, subject, entity))
            if self.duplicates.has_rules(entity, "create"):
                ids = [str(record["id"]) for record in records]
                for index, record in enumerate(records):
                    # a duplicate inside the batch is the later of the two records
                    self._check_duplicates(conn, subject, entity, record, "create",
                                           f"/{index}", runtime, ids[index + 1:])
            runtime.changes.created(conn, entity, records, subject.user_id)
        return [runtime.json.record(entity, scoped.visible(entity, r)) for r in records]

    def bulk_update(
        self, subject: AccessSubject, entity: str, items: Sequence[Mapping[str, Any]], *,
        refusals: dict[int, MetacrmError] | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Change up to 1,000 records (`{"id", "version"?, "changes"}` each), all or
        nothing; pointers `/<index>/changes/<field>`, `/<index>/id`, `/<index>/version`.

        With `refusals` (a list's mass update), each item is tried in its own savepoint
        instead: a refused item — outside the update scope, locked, invalid — is left
        unchanged and its error kept under its index, and the others are written."""
        runtime = self.runtime()
        scoped = runtime.scoped(subject)
        scoped.require(entity, "update")
        parsed: builtins.list[BatchItem] = parse_updates(items)
        guard = runtime.states.guard(entity, subject.roles,
                                     admin=runtime.policy.is_admin(subject))
        results = []
        with self.transaction() as conn:
            pairs = []
            before_save = self.before_save(conn, subject, entity)
            for index, item in enumerate(parsed):
                if refusals is None:
                    with at_item(index):
                        pairs.append(scoped.update(
                            conn, entity, item.id, item.changes,
                            expected_version=item.version, guard=guard,
                            before_save=before_save,
                        ))
                    continue
                try:
                    with conn.begin_nested():
                        pairs.append(scoped.update(
                            conn, entity, item.id, item.changes,
                            expected_version=item.version, guard=guard,
                            before_save=before_save,
                        ))
                except MetacrmError as refused:
                    refusals[index] = refused
            if self.duplicates.has_rules(entity, "update"):
                for index, (before, after) in enumerate(pairs):
                    if _keys_changed(runtime.model.entities[entity], before, after):
                        self._check_duplicates(conn, subject, entity, after, "update",
                                               f"/{index}", runtime)
            runtime.changes.updated(conn, entity, pairs, subject.user_id)
            results = [runtime.json.record(entity, scoped.visible(entity, after))
                       for _before, after in pairs]
        return results


def _keys_changed(entity: EntityDef, before: Mapping[str, Any], after: Mapping[str, Any]
                  ) -> bool:
    """Whether a field some match key is made of changed (else the update cannot make a
    new duplicate, and is not checked)."""
    return any(before.get(key.field) != after.get(key.field) for key in entity.match_keys)


def _with_warnings(record: dict[str, Any], warnings: Mapping[str, Any]) -> dict[str, Any]:
    """`record` carrying the duplicate warnings of `warnings` (a saved record or the dict
    `_check_duplicates` returned)."""
    if DUPLICATES in warnings and DUPLICATES not in record:
        record[DUPLICATES] = warnings[DUPLICATES]
    return record
