"""The import service: start, run (a background job), dry run, status, error file, revert.

* `start` checks everything that can be checked before a row is read — the entity, the
  importer's `import` right and the create/update right the mode needs, the mapping against
  the file's header, the key fields — stores the file with the import and hands the run to
  the job queue. The same file with the same options started again by the same user returns
  the earlier import (idempotent per file) unless it failed or was reverted.
* `run` reads the file from the row after the last committed batch, so a run that died is
  resumed where it stopped (a runner is considered dead after `STALE_AFTER` without a
  heartbeat). Each batch is one transaction: its records, their audit rows and events, the
  ledger rows and the progress commit together.
* A dry run is the same run inside one transaction that is rolled back: every row is
  validated exactly as the real run would (types, required, picklists, references, keys,
  duplicates, access), nothing is written but the import's summary.
* `revert` (within `REVERT_DAYS`) deletes the records the import created and restores the
  values it replaced, as the importer, in one transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Protocol

import sqlalchemy as sa

from metacrm.access.scoped_repository import BeforeSave
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.imports import ledger
from metacrm.imports.conversion import ConvertedRow, RowConverter
from metacrm.imports.duplicates import DuplicateCheck, NoDuplicateCheck
from metacrm.imports.lookups import Lookups, UserResolver
from metacrm.imports.mapping import ImportMapping, parse_mapping, suggest_mapping
from metacrm.imports.readers import SourceRow, TableReader, open_table
from metacrm.imports.revert import revert_import
from metacrm.imports.status import estimate_rows, safe_cell
from metacrm.imports.writer import MODES, BatchOutcome, BatchWriter, ImportPlan
from metacrm.kernel.errors import (
    ErrorDetail,
    Forbidden,
    MetacrmError,
    NotFound,
    ValidationFailed,
)
from metacrm.kernel.ids import new_id
from metacrm.kernel.jobs import EventRecord
from metacrm.kernel.users import UserDirectory
from metacrm.metadata.model import EntityDef
from metacrm.services.records.service import RecordsService
from metacrm.services.records.unit_of_work import write_transaction
from metacrm.storage import outbox, trailing_writes
from metacrm.storage.outbox import OutboxEvent
from metacrm.storage.trigram_upkeep import flush_trigram_indexes

_log = logging.getLogger(__name__)

CONSUMER = "import"
BATCH_SIZE = 1000
STALE_AFTER = timedelta(minutes=5)
PREVIEW_ROWS = 5
VALUE_CHOICES = 50
"""Distinct values of one column the wizard offers to map, at most."""
VALUE_SCAN_ROWS = 100_000
"""Rows read to find a column's distinct values (the wizard's file fits well within)."""
MAX_FILE_BYTES = 200 * 1024 * 1024
ERROR_COLUMN = "import_error"
COMPLETED_EVENT = "import.completed"

Progress = Callable[[int, "int | None", Mapping[str, int]], None]
"""Told after each batch: rows processed, rows in the file (estimate), counts so far."""


class SubjectLookup(Protocol):
    """Access subjects of users by id (`metacrm.identity.subjects.SubjectDirectory`)."""

    def subject_of(self, user_id: str) -> AccessSubject | None: ...


class Submitter(Protocol):
    """The job queue as imports use it (`metacrm.jobs.dispatcher.Dispatcher`)."""

    def submit(self, conn: sa.Connection, consumer: str, target: str, event: EventRecord
               ) -> str | None: ...

    def kick(self) -> None: ...


@dataclass(frozen=True)
class ImportRequest:
    """What a caller asks for: the file and the options (API form fields, CLI options)."""

    entity: str
    file_name: str
    content: bytes
    mapping: Any = None
    """A mapping object, the name of a saved mapping, or None: the suggested mapping."""
    mode: str = "create"
    key: tuple[str, ...] = ()
    dry_run: bool = False
    silent: bool = False
    save_mapping: str | None = None


@dataclass
class _RunState:
    counts: Counter[str] = field(default_factory=Counter)
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"columns": self.columns, "errors": self.errors, "warnings": self.warnings}



class _SaveChain:
    """The records service's whole before-save chain — lookup defaults, packs'
    interceptors, computed fields — as the batch writer's `SaveInterceptors`, so an
    imported row is completed exactly as the same row saved through the API."""

    def __init__(self, records: RecordsService) -> None:
        self._records = records

    def hook(self, conn: sa.Connection, subject: AccessSubject, entity: str
             ) -> BeforeSave | None:
        return self._records.before_save(conn, subject, entity)

class ImportService:
    """Imports of files into records (see the module docstring)."""

    def __init__(self, records: RecordsService, users: UserDirectory,
                 subjects: SubjectLookup, submitter: Submitter | None = None, *,
                 clock: Callable[[], datetime] | None = None,
                 batch_size: int = BATCH_SIZE,
                 duplicates: DuplicateCheck | None = None) -> None:
        self.records = records
        self.engine = records.engine
        self.users = users
        self.subjects = subjects
        self.submitter = submitter
        self.duplicates: DuplicateCheck = duplicates or NoDuplicateCheck()
        """Asked about every batch (`imports.duplicate_rules.RulesCheck` in a process)."""
        self._clock = clock or records.now
        self.batch_size = batch_size

    # --- checks --------------------------------------------------------------------------

    def _entity(self, subject: AccessSubject, entity: str, mode: str | None) -> EntityDef:
        runtime = self.records.runtime()
        if entity not in runtime.model.entities:
            raise NotFound(f"there is no entity {entity!r}",
                           [ErrorDetail("no such entity", "/entity")])
        scoped = runtime.scoped(subject)
        if not scoped.scope(entity, "import").allowed:
            raise Forbidden(f"your roles do not allow importing {entity} records",
                            [ErrorDetail("needs the import right on the entity", "/entity")])
        if mode is None:  # a preview: the import right is enough
            return runtime.policy.visible_entity(subject, entity)
        if mode not in MODES:
            raise ValidationFailed("invalid mode", [
                ErrorDetail(f"must be one of {', '.join(MODES)}", "/mode")])
        needed = {"create": ("create",), "update": ("update",),
                  "upsert": ("create", "update")}[mode]
        for operation in needed:
            scoped.require(entity, operation)
        return runtime.policy.visible_entity(subject, entity)

    def _mapping(self, subject: AccessSubject, entity: EntityDef, raw: Any,
                 columns: Sequence[str]) -> ImportMapping:
        if isinstance(raw, str):
            with self.engine.connect() as conn:
                saved = ledger.load_mapping(conn, entity.name, raw)
            if saved is None:
                raise ValidationFailed("unknown mapping", [ErrorDetail(
                    f"{entity.name!r} has no saved mapping {raw!r}", "/mapping")])
            raw = saved
        if raw is None:
            raw = suggest_mapping(entity, columns)
        return parse_mapping(raw, entity, columns)

    def _key(self, entity: EntityDef, mode: str, key: Sequence[str],
             mapping: ImportMapping) -> tuple[str, ...]:
        if mode == "create":
            return ()
        errors = []
        if not key:
            errors.append(ErrorDetail(f"mode {mode} needs a key: the field (or fields) "
                                      "that find the record to update", "/key"))
        for index, name in enumerate(key):
            fdef = entity.field(name)
            if fdef is None:
                errors.append(ErrorDetail(f"{entity.name!r} has no field {name!r}",
                                          f"/key/{index}"))
            elif fdef.type in ("money", "regarding", "multi_picklist", "json"):
                errors.append(ErrorDetail(f"a {fdef.type} field cannot be a key",
                                          f"/key/{index}"))
            elif name not in mapping.fields():
                errors.append(ErrorDetail(f"no column is mapped to the key field {name!r}",
                                          f"/key/{index}"))
        if errors:
            raise ValidationFailed("invalid key", errors)
        return tuple(key)

    # --- preview and start ---------------------------------------------------------------

    def preview(self, subject: AccessSubject, entity: str, file_name: str, content: bytes,
                ) -> dict[str, Any]:
        """The file's columns and first rows, and the suggested mapping."""
        definition = self._entity(subject, entity, None)
        reader = open_table(content, file_name)
        sample = [row.cells for row in islice(reader.rows(), PREVIEW_ROWS)]
        with self.engine.connect() as conn:
            saved = ledger.mapping_names(conn, entity)
        return {"entity": entity, "format": reader.info.format,
                "encoding": reader.info.encoding, "delimiter": reader.info.delimiter,
                "columns": list(reader.info.columns), "rows": sample,
                "suggested_mapping": suggest_mapping(definition, reader.info.columns),
                "saved_mappings": saved}

    def column_values(self, subject: AccessSubject, entity: str, file_name: str,
                      content: bytes, columns: Sequence[str]) -> dict[str, list[str]]:
        """The distinct values of `columns` in the file ("" for a blank cell), in the order
        they first appear, at most `VALUE_CHOICES` each: the wizard's value mapping offers
        one choice per value (a pipeline's stages, a picklist's values)."""
        self._entity(subject, entity, None)
        found: dict[str, dict[str, None]] = {column: {} for column in columns}
        for row in islice(open_table(content, file_name).rows(), VALUE_SCAN_ROWS):
            for column, seen in found.items():
                if len(seen) < VALUE_CHOICES:
                    seen.setdefault(row.cells.get(column, "").strip(), None)
        return {column: list(seen) for column, seen in found.items()}

    def saved_mapping(self, subject: AccessSubject, entity: str, name: str
                      ) -> dict[str, Any]:
        """The saved mapping `name` of `entity` as stored (the wizard fills its steps from
        it); the import right is enough, as for the preview that lists the names."""
        self._entity(subject, entity, None)
        with self.engine.connect() as conn:
            saved = ledger.load_mapping(conn, entity, name)
        if saved is None:
            raise ValidationFailed("unknown mapping", [ErrorDetail(
                f"{entity!r} has no saved mapping {name!r}", "/mapping")])
        return saved

    def start(self, subject: AccessSubject, request: ImportRequest, *, run_now: bool = True
              ) -> ledger.StoredImport:
        """Check and store an import, then hand it to the job queue (`run_now`) or leave
        it queued for the caller to `run` (the CLI runs it in its own process)."""
        definition = self._entity(subject, request.entity, request.mode)
        if not request.content:
            raise ValidationFailed("empty file", [ErrorDetail("the file is empty", "/file")])
        if len(request.content) > MAX_FILE_BYTES:
            raise ValidationFailed("file too large", [ErrorDetail(
                f"at most {MAX_FILE_BYTES // (1024 * 1024)} MiB per import", "/file")])
        reader = open_table(request.content, request.file_name)
        mapping = self._mapping(subject, definition, request.mapping, reader.info.columns)
        key = self._key(definition, request.mode, request.key, mapping)
        options = {"mode": request.mode, "key": list(key), "mapping": mapping.to_json(),
                   "dry_run": request.dry_run, "silent": request.silent,
                   "columns": list(reader.info.columns), "format": reader.info.format,
                   "encoding": reader.info.encoding, "delimiter": reader.info.delimiter}
        file_hash = hashlib.sha256(request.content).hexdigest()
        request_hash = hashlib.sha256(json.dumps(
            {"file": file_hash, "entity": request.entity, **options}, sort_keys=True,
            default=str).encode()).hexdigest()
        user_id = str(subject.user_id)
        now = self._clock()
        with self.engine.begin() as conn:
            if request.save_mapping:
                ledger.save_mapping(conn, request.entity, request.save_mapping,
                                    mapping.to_json(), user_id, now)
            if not request.dry_run:
                earlier = ledger.find_request(conn, user_id, request_hash)
                if earlier is not None:
                    return earlier
            import_id = new_id()
            ledger.insert(conn, {
                "id": import_id, "entity": request.entity, "user_id": user_id,
                "status": ledger.QUEUED, "options": options, "file_name": request.file_name,
                "file_hash": file_hash, "request_hash": request_hash,
                "content": request.content, "processed_rows": 0,
                "total_rows": estimate_rows(request.content, reader),
                "counts": ledger.zero_counts(), "created_at": now})
            if run_now and self.submitter is not None:
                self.submitter.submit(conn, CONSUMER, import_id, EventRecord(
                    id=import_id, type="import.requested", entity=request.entity,
                    record_id=import_id, payload={}, created_at=now))
        if run_now and self.submitter is not None:
            self.submitter.kick()
        return self._stored(import_id)

    def _stored(self, import_id: str) -> ledger.StoredImport:
        with self.engine.connect() as conn:
            stored = ledger.get(conn, import_id)
        if stored is None:
            raise NotFound(f"there is no import {import_id}")
        return stored

    # --- reads ---------------------------------------------------------------------------

    def get(self, subject: AccessSubject, import_id: str) -> ledger.StoredImport:
        """An import its owner (or an admin) may see; others get NotFound (404), as if it
        did not exist — its summary and error file hold the file's data."""
        with self.engine.connect() as conn:
            stored = ledger.get(conn, import_id) if len(import_id) <= 36 else None
        policy = self.records.runtime().policy
        if stored is None or (stored.user_id != subject.user_id
                              and not policy.is_admin(subject)):
            raise NotFound(f"there is no import {import_id}",
                           [ErrorDetail("no such import", "/id")])
        return stored

    def error_file(self, subject: AccessSubject, import_id: str) -> str:
        """The failing rows as CSV — the file's columns and `import_error` — to fix and
        import again."""
        stored = self.get(subject, import_id)
        columns = [str(c) for c in stored.options.get("columns", [])]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([*columns, ERROR_COLUMN])
        with self.engine.connect() as conn:
            for row in ledger.rows(conn, import_id, (ledger.ROW_FAILED,)):
                source = row.source or {}
                writer.writerow([safe_cell(source.get(c, "")) for c in columns]
                                + [row.reason or ""])
        return out.getvalue()

    # --- the run -------------------------------------------------------------------------

    def run(self, import_id: str, progress: Progress | None = None) -> ledger.StoredImport:
        """Run (or resume) an import; returns it as it ended. Nothing happens when another
        runner is alive or the import is over."""
        now = self._clock()
        with self.engine.begin() as conn:
            if not ledger.claim(conn, import_id, now, now - STALE_AFTER):
                return self._stored(import_id)
            stored = ledger.get(conn, import_id)
            content = ledger.content(conn, import_id)
        assert stored is not None
        subject = self._subject(stored)
        try:
            if subject is None:
                raise Forbidden("the importer is no longer an active user")
            if content is None:
                raise ValidationFailed("the file of this import is gone")
            self._run(stored, subject, content, progress)
        except MetacrmError as exc:  # the batches committed before it stay (revertible)
            with self.engine.begin() as conn:
                ledger.update(conn, import_id, status=ledger.FAILED, error=str(exc),
                              finished_at=self._clock(), content=None)
        return self._stored(import_id)

    def _subject(self, stored: ledger.StoredImport) -> AccessSubject | None:
        """The importer with their rights as they are now (a revoked right stops a run)."""
        return self.subjects.subject_of(stored.user_id)

    def _run(self, stored: ledger.StoredImport, subject: AccessSubject, content: bytes,
             progress: Progress | None) -> None:
        options = stored.options
        definition = self._entity(subject, stored.entity, options["mode"])
        runtime = self.records.runtime()
        mapping = parse_mapping(options["mapping"], definition, options.get("columns"))
        plan = ImportPlan(stored.entity, mapping, options["mode"], tuple(options["key"]),
                          bool(options["silent"]))
        converter = RowConverter(runtime.model, definition, mapping)
        lookups = Lookups(runtime.model, definition, mapping, self.records.registry,
                          UserResolver(self.users, mapping.owner_by))
        writer = BatchWriter(runtime, self.records.registry, subject, plan, lookups,
                             self.duplicates, _SaveChain(self.records))
        reader = open_table(content, stored.file_name)
        state = _RunState(Counter(stored.counts), dict((stored.summary or {}).get(
            "columns", {})), list((stored.summary or {}).get("errors", [])),
            list((stored.summary or {}).get("warnings", [])))
        for column, name in mapping.columns.items():
            state.columns.setdefault(column, {"field": name, "filled": 0, "failed": 0})
        dry = bool(options["dry_run"])
        rows = _skip(reader, stored.processed_rows)
        processed = stored.processed_rows
        with self._dry_transaction(dry) as dry_conn:
            while True:
                batch = list(islice(rows, self.batch_size))
                if not batch:
                    break
                converted = [self._convert(converter, row, state) for row in batch]
                processed += len(batch)
                if dry_conn is not None:  # no other write may wait for this one
                    with dry_conn.begin_nested():
                        outcome = writer.write(dry_conn, converted, -1)
                    self._account(state, outcome)
                else:
                    self._write_batch(stored, writer, converted, processed, state, plan)
                if progress is not None:
                    progress(processed, stored.total_rows, dict(state.counts))
        self._finish(stored, processed, state, plan, dry)

    @contextmanager
    def _dry_transaction(self, dry: bool) -> Iterator[sa.Connection | None]:
        """A dry run's one transaction, always rolled back (audit rows and events are
        buffered and never written)."""
        if not dry:
            yield None
            return
        with self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                with trailing_writes.deferred(conn):
                    yield conn
            finally:
                transaction.rollback()

    def _convert(self, converter: RowConverter, row: SourceRow, state: _RunState
                 ) -> ConvertedRow:
        converted = converter.convert(row)
        for column in converter.mapping.columns:
            if row.cells.get(column, "").strip():
                state.columns[column]["filled"] += 1
        return converted

    def _account(self, state: _RunState, outcome: BatchOutcome) -> None:
        state.counts.update(outcome.counts)
        for column, count in outcome.column_errors.items():
            if column in state.columns:
                state.columns[column]["failed"] += count
        room = 100 - len(state.errors)
        state.errors.extend(outcome.errors[:max(room, 0)])
        state.warnings.extend(outcome.warnings[:max(100 - len(state.warnings), 0)])

    def _write_batch(self, stored: ledger.StoredImport, writer: BatchWriter,
                     converted: list[ConvertedRow], processed: int, state: _RunState,
                     plan: ImportPlan) -> None:
        listeners = () if plan.silent else tuple(self.records.listeners)
        with write_transaction(self.engine, listeners) as conn:
            outcome = writer.write(conn, converted, ledger.next_reference_row(conn, stored.id))
            ledger.write_rows(conn, stored.id, outcome.ledger)
            self._account(state, outcome)
            ledger.update(conn, stored.id, processed_rows=processed,
                          counts=dict(state.counts), summary=state.summary(),
                          heartbeat_at=self._clock())

    def _finish(self, stored: ledger.StoredImport, processed: int, state: _RunState,
                plan: ImportPlan, dry: bool) -> None:
        if not dry and (state.counts[ledger.CREATED] or state.counts[ledger.UPDATED]):
            # the imported keys would otherwise wait in the trigram indexes' pending lists,
            # which every fuzzy duplicate check scans whole (`storage.trigram_upkeep`)
            entity = self.records.runtime().model.entities.get(stored.entity)
            if entity is not None:
                with self.engine.begin() as conn:
                    flush_trigram_indexes(conn, entity)
        now = self._clock()
        with write_transaction(self.engine) as conn:
            ledger.update(conn, stored.id, status=ledger.COMPLETED, finished_at=now,
                          total_rows=processed, processed_rows=processed,
                          counts=dict(state.counts), summary=state.summary(), content=None)
            if not dry:
                outbox.append(conn, [OutboxEvent(
                    type=COMPLETED_EVENT, entity=stored.entity, record_id=stored.id,
                    payload={"import": stored.id, "entity": stored.entity,
                             "actor": stored.user_id, "mode": plan.mode,
                             "silent": plan.silent, "counts": dict(state.counts),
                             "occurred_at": datetime_to_json(now)},
                    created_at=now)])

    # --- revert --------------------------------------------------------------------------

    def revert(self, subject: AccessSubject, import_id: str) -> ledger.StoredImport:
        """Delete what the import created, restore what it changed (`imports.revert`)."""
        stored = self.get(subject, import_id)
        revert_import(self.records, subject, stored, self._clock())
        return self._stored(import_id)


def _skip(reader: TableReader, count: int) -> Iterator[SourceRow]:
    rows = reader.rows()
    for _ in islice(rows, count):
        pass
    return rows
