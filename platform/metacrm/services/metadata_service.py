"""Metadata versions as the admin sees them: plan a change, apply it, list the history.

Applying is ONE database transaction holding the schema migration and the new version row:
either the tables match the new metadata and the version is recorded, or nothing changed.
Every process reads the live model through `current_model()`, which recompiles only when
the stored version number changed (one cheap `SELECT max(number)` per call).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import (
    DestructiveChangeRefused,
    ErrorDetail,
    MetadataInvalid,
    MigrationFailed,
    StaleRecord,
)
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.metadata.loader import error_summary
from metacrm.metadata.model import CompiledModel
from metacrm.storage import metadata_store
from metacrm.storage.metadata_store import StoredVersion, VersionSummary
from metacrm.storage.migration import MigrationPlan, apply_plan, begin_migration, plan_migration
from metacrm.storage.migration.apply import failure_reason
from metacrm.storage.system_tables import create_system_tables, metadata_versions
from metacrm.storage.tables import RecordTables, build_record_tables
from metacrm.storage.version_watch import VersionWatcher, can_watch


@dataclass(frozen=True)
class LiveModel:
    """The model of one stored metadata version (number 0: nothing applied yet)."""

    number: int
    model: CompiledModel
    tables: RecordTables


@dataclass(frozen=True)
class PlanReport:
    """What applying some documents would do to the live database."""

    live_version: int
    """The live version number (0: none yet); applying would create `live_version + 1`."""
    model: CompiledModel
    plan: MigrationPlan
    unchanged: bool
    """The documents equal the live version's: applying is a no-op."""

    def describe(self) -> str:
        if self.unchanged:
            return (
                f"Nothing to apply: the database is at metadata version {self.live_version} "
                "with the same documents."
            )
        live = str(self.live_version) if self.live_version else "none (empty database)"
        text = f"Live metadata version: {live}. Applying creates version {self.live_version + 1}.\n"
        if self.plan.is_empty:
            return text + "No schema changes (labels, layouts or rules only)."
        text += self.plan.describe(self.live_version + 1)
        if self.plan.destructive:
            text += (
                "\nDestructive operations need confirmation; their data is archived, "
                "not deleted."
            )
        return text


@dataclass(frozen=True)
class AppliedVersion:
    """A metadata version that was just applied."""

    number: int
    checksum: str
    plan: MigrationPlan
    author: str | None
    comment: str | None
    created_at: datetime
    model: CompiledModel

    def describe(self) -> str:
        text = f"Applied metadata version {self.number}."
        if self.plan.is_empty:
            return text + " No schema changes."
        return text + "\n" + self.plan.describe(self.number)


class ModelCache:
    """The live compiled model, recompiled only when the stored version number changes."""

    def __init__(self, engine: sa.Engine, registry: FieldTypeRegistry) -> None:
        self._engine = engine
        self._registry = registry
        self._lock = threading.Lock()
        self._live = LiveModel(0, CompiledModel(), build_record_tables(CompiledModel(), registry))
        self.watcher: VersionWatcher | None = None
        """When set and listening, tells the latest version without a query."""

    def get(self) -> LiveModel:
        watcher = self.watcher
        if watcher is not None and watcher.latest() == self._live.number != 0:
            return self._live
        with self._engine.connect() as connection:
            number = metadata_store.latest_number(connection)
            if number == self._live.number:
                return self._live
            with self._lock:
                if number != self._live.number:
                    version = metadata_store.get(connection, number)
                    self._live = self._compile(version)
                return self._live

    def model_of(self, version: StoredVersion | None) -> CompiledModel | None:
        """The compiled model of `version` (cached when it is the live one)."""
        if version is None:
            return None
        live = self._live
        if version.number == live.number and version.checksum == live.model.checksum:
            return live.model
        return self._compile(version).model

    def remember(self, number: int, model: CompiledModel) -> None:
        """Keep the model just applied as version `number` (saves compiling it again)."""
        with self._lock:
            if number > self._live.number:
                self._live = LiveModel(number, model, build_record_tables(model, self._registry))

    def _compile(self, version: StoredVersion) -> LiveModel:
        try:
            model = compile_model(version.documents, self._registry)
        except MetadataInvalid as exc:
            raise MetadataInvalid(
                f"the stored metadata version {version.number} no longer compiles "
                f"(a field type or pack may be missing): {exc.message}",
                exc.errors,
            ) from exc
        return LiveModel(version.number, model, build_record_tables(model, self._registry))


_pinned: ContextVar[tuple[ModelCache, LiveModel] | None] = ContextVar(
    "metacrm_pinned_metadata", default=None
)
"""The version a unit of work (a web request) holds, per model cache."""


ModelValidator = Callable[[CompiledModel], list[ErrorDetail]]
"""A check of a compiled model by a layer above the compiler (the automation feature checks
trigger actions' parameters against its actions registry); errors name file and pointer."""


class MetadataService:
    """Plan, apply and list metadata versions of one database."""

    def __init__(self, engine: sa.Engine, registry: FieldTypeRegistry) -> None:
        self.engine = engine
        self.registry = registry
        self._cache = ModelCache(engine, registry)
        self._initialized = False
        self._validators: list[ModelValidator] = []

    def add_validator(self, validator: ModelValidator) -> None:
        """Run `validator` on every model planned or applied (after it compiled); its errors
        are reported like the compiler's (MetadataInvalid, nothing applied). Stored versions
        are not re-checked when loaded."""
        self._validators.append(validator)

    def _validate(self, model: CompiledModel) -> None:
        errors = [error for validator in self._validators for error in validator(model)]
        if errors:
            raise MetadataInvalid(error_summary(errors),
                                  sorted(errors, key=lambda error: error.source))

    def watch_versions(self) -> None:
        """Notice new versions through PostgreSQL LISTEN/NOTIFY instead of a query per
        `live()` (storage/version_watch.py); a no-op on SQLite. Long-lived processes (web,
        worker, scheduler) call it; `close()` stops it."""
        if can_watch(self.engine) and self._cache.watcher is None:
            watcher = VersionWatcher(self.engine)
            self._cache.watcher = watcher
            watcher.start()

    def close(self) -> None:
        """Stop watching for versions (the engine itself is the caller's to dispose)."""
        watcher, self._cache.watcher = self._cache.watcher, None
        if watcher is not None:
            watcher.stop()

    def initialize(self) -> None:
        """Create the system tables that do not exist yet (idempotent)."""
        with self.engine.begin() as connection:
            create_system_tables(connection)
        self._initialized = True

    def current_model(self) -> CompiledModel:
        """The live compiled model (empty before the first version)."""
        return self.live().model

    def live(self) -> LiveModel:
        """The live version's number, compiled model and record tables.

        Inside `pinned()` this is the version pinned at its start (no query); elsewhere one
        cheap `SELECT max(number)` tells whether to recompile — or, once `watch_versions()`
        listens, a comparison in memory.
        """
        pinned = _pinned.get()
        if pinned is not None and pinned[0] is self._cache:
            return pinned[1]
        self._ensure_initialized()
        return self._cache.get()

    @contextmanager
    def pinned(self) -> Iterator[LiveModel]:
        """Hold the live version for a unit of work, such as one web request.

        Everything inside sees one metadata version — identity, access and records agree
        even if an admin applies a change meanwhile — and the version check runs once, not
        once per service call. A version applied inside becomes the pinned one.
        """
        live = self.live()
        token = _pinned.set((self._cache, live))
        try:
            yield live
        finally:
            _pinned.reset(token)

    def history(self) -> list[VersionSummary]:
        """Every applied version, newest first."""
        self._ensure_initialized()
        with self.engine.connect() as connection:
            return metadata_store.history(connection)

    def plan(self, documents: Sequence[Document]) -> PlanReport:
        """Compile `documents` (MetadataInvalid lists every error) and diff with the live model."""
        model = compile_model(documents, self.registry)
        self._validate(model)
        self._ensure_initialized()
        with self.engine.connect() as connection:
            live = metadata_store.current(connection)
        number = live.number if live is not None else 0
        if live is not None and live.checksum == model.checksum:
            return PlanReport(number, model, MigrationPlan(), unchanged=True)
        plan = plan_migration(self._cache.model_of(live), model, self.registry)
        return PlanReport(number, model, plan, unchanged=False)

    def apply(
        self,
        documents: Sequence[Document],
        *,
        author: str | None = None,
        comment: str | None = None,
        confirm_destructive: bool = False,
        expected_version: int | None = None,
    ) -> AppliedVersion | None:
        """Migrate the database to `documents` and record them as a new version.

        None when the documents equal the live version's. Raises MetadataInvalid,
        DestructiveChangeRefused (nothing changed) or MigrationFailed (nothing changed).
        `expected_version` is the version the caller built `documents` from (0: none yet):
        when another version went live meanwhile, StaleRecord (412) and nothing changed —
        so two admins editing at once cannot silently drop each other's change. It is
        checked under the version lock, so no apply slips in between check and write.
        """
        model = compile_model(documents, self.registry)
        self._validate(model)
        self._ensure_initialized()
        try:
            with begin_migration(self.engine) as connection:
                self._lock_versions(connection)
                live = metadata_store.current(connection)
                check_expected_version(expected_version, live.number if live is not None else 0)
                if live is not None and live.checksum == model.checksum:
                    return None
                old_model = self._cache.model_of(live)
                plan = plan_migration(old_model, model, self.registry)
                number = (live.number if live is not None else 0) + 1
                apply_plan(
                    connection,
                    plan,
                    old_model=old_model,
                    new_model=model,
                    registry=self.registry,
                    version=number,
                    confirm_destructive=confirm_destructive,
                )
                stored = metadata_store.record_version(
                    connection,
                    documents=documents,
                    checksum=model.checksum,
                    author=author,
                    comment=comment,
                    plan=plan.to_json(number),
                    number=number,
                )
        except (DestructiveChangeRefused, MetadataInvalid, MigrationFailed, StaleRecord):
            raise
        except Exception as exc:
            raise MigrationFailed(
                f"applying the metadata failed, nothing was changed: {failure_reason(exc)}",
                [ErrorDetail(failure_reason(exc))],
            ) from exc
        self._cache.remember(number, model)
        pinned = _pinned.get()
        if pinned is not None and pinned[0] is self._cache:
            # The unit of work that applied the version goes on with it; the outer
            # `pinned()` still restores what was there before when it ends.
            _pinned.set((self._cache, self._cache.get()))
        return AppliedVersion(
            number=stored.number,
            checksum=stored.checksum,
            plan=plan,
            author=author,
            comment=comment,
            created_at=stored.created_at,
            model=model,
        )

    def _ensure_initialized(self) -> None:
        if not self._initialized:
            self.initialize()

    def _lock_versions(self, connection: sa.Connection) -> None:
        """Serialise concurrent appliers, before the first read of the transaction.

        SQLite has one writer at a time, but a transaction that has read first and then
        writes is refused at once ("database is locked", no waiting) when another
        connection is writing meanwhile — a record saved while an admin applies a change.
        Taking the write lock first makes the apply wait for that write instead."""
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(
                f"LOCK TABLE {metadata_versions.name} IN SHARE ROW EXCLUSIVE MODE"
            )
        elif connection.dialect.name == "sqlite":
            connection.execute(_TAKE_SQLITE_WRITE_LOCK)


_TAKE_SQLITE_WRITE_LOCK = (
    sa.update(metadata_versions).where(sa.false()).values(comment=None)
)
"""A write that changes nothing: SQLite's write lock, taken before anything is read."""


def check_expected_version(expected: int | None, live: int) -> None:
    """StaleRecord (412) when the version a caller read (`expected`) is no longer `live`."""
    if expected is None or expected == live:
        return
    message = f"metadata changed since version {expected}: now at {live}; reload and retry"
    raise StaleRecord(message, [ErrorDetail(message)])
