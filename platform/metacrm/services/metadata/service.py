"""Metadata versions as the admin sees them: plan a change, apply it, list the history.

Applying is ONE database transaction holding the schema migration and the new version row:
either the tables match the new metadata and the version is recorded, or nothing changed.
Every process reads the live model through `current_model()`, which recompiles only when
the stored version number changed (one cheap `SELECT max(number)` per call).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import sqlalchemy as sa

from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import (
    ErrorDetail,
    MetacrmError,
    MetadataInvalid,
    MigrationFailed,
    StaleRecord,
)
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.metadata.layers import Customisation, Rebased, Side, customisations, rebase
from metacrm.metadata.loader import error_summary
from metacrm.metadata.model import CompiledModel
from metacrm.services.metadata.model_cache import LiveModel, ModelCache
from metacrm.services.metadata.reports import (
    AppliedVersion,
    PendingChange,
    PlanReport,
    RebasePlan,
    conflict_error,
    same_bodies,
)
from metacrm.storage import baseline_store, metadata_store
from metacrm.storage.metadata_store import StoredVersion, VersionSummary
from metacrm.storage.migration import (
    MigrationPlan,
    apply_plan,
    begin_migration,
    plan_migration,
    restorable,
)
from metacrm.storage.migration.apply import failure_reason
from metacrm.storage.system_tables import create_system_tables, metadata_versions
from metacrm.storage.version_watch import VersionWatcher, can_watch

__all__ = ["AppliedVersion", "LiveModel", "MetadataService", "PlanReport", "RebasePlan",
           "check_expected_version"]


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
            archived = restorable(connection)
        number = live.number if live is not None else 0
        if live is not None and live.checksum == model.checksum:
            return PlanReport(number, model, MigrationPlan(), unchanged=True)
        plan = plan_migration(self._cache.model_of(live), model, self.registry, archived)
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

        def change(_connection: sa.Connection, _live: StoredVersion | None) -> PendingChange:
            return PendingChange(tuple(documents), model, baseline=None)

        return self._commit(change, author=author, comment=comment,
                            confirm_destructive=confirm_destructive,
                            expected_version=expected_version)

    def rebase_onto(
        self,
        baseline: Sequence[Document],
        *,
        author: str | None,
        comment: str | None,
        take: Side | None = None,
        confirm_destructive: bool = False,
        within: Callable[[sa.Connection, int], None] | None = None,
        archive_origin: str | None = None,
    ) -> AppliedVersion | None:
        """Make `baseline` (every installed pack's documents) the new baseline and re-apply
        the admins' customisations on top (`metadata.layers.rebase`), in ONE transaction.

        `within(connection, number)` runs inside that transaction after the migration, with
        the live version's number (the new one, or the unchanged one when the documents did
        not change): the pack lifecycle writes its own rows there, so a pack install is all
        or nothing. Raises MetadataConflict (409) when an admin and the packs changed the
        same thing differently and `take` does not say which side wins; MetadataInvalid,
        DestructiveChangeRefused, MigrationFailed as `apply` (nothing changed). None when
        neither the documents nor the baseline changed (`within` still ran).

        `archive_origin` (e.g. `pack vat`) marks the fields this change archives as
        restorable: when the same fields come back (the pack is installed again), their
        archived columns are renamed back instead of new empty ones being added.
        """
        self._ensure_initialized()
        new_baseline = tuple(baseline)

        def change(connection: sa.Connection, live: StoredVersion | None) -> PendingChange:
            rebased = self._rebased(connection, live, new_baseline, take)
            if rebased.conflicts and take is None:
                raise conflict_error(rebased.conflicts)
            model = compile_model(rebased.documents, self.registry)
            self._validate(model)
            old = baseline_store.baseline_of(connection, live.number if live else 0)
            changed = old is None or not same_bodies(old, new_baseline)
            return PendingChange(rebased.documents, model,
                           baseline=new_baseline if changed else None)

        return self._commit(change, author=author, comment=comment,
                            confirm_destructive=confirm_destructive, within=within,
                            archive_origin=archive_origin)

    def plan_rebase(self, baseline: Sequence[Document], *, take: Side | None = None
                    ) -> RebasePlan:
        """What `rebase_onto(baseline, take=take)` would do, without doing it: the
        migration plan, the customisations carried over and the conflicts. MetadataInvalid
        when the merged documents do not compile."""
        self._ensure_initialized()
        with self.engine.connect() as connection:
            live = metadata_store.current(connection)
            rebased = self._rebased(connection, live, tuple(baseline), take)
            archived = restorable(connection)
        model = compile_model(rebased.documents, self.registry)
        self._validate(model)
        number = live.number if live is not None else 0
        if live is not None and live.checksum == model.checksum:
            report = PlanReport(number, model, MigrationPlan(), unchanged=True)
        else:
            plan = plan_migration(self._cache.model_of(live), model, self.registry, archived)
            report = PlanReport(number, model, plan, unchanged=False)
        return RebasePlan(report, rebased.conflicts, rebased.carried, rebased.documents)

    def live_documents(self) -> tuple[Document, ...]:
        """The documents of the live version (none before the first one)."""
        self._ensure_initialized()
        with self.engine.connect() as connection:
            live = metadata_store.current(connection)
        return live.documents if live is not None else ()

    def customisations(self) -> list[Customisation]:
        """What admins changed relative to the packs' documents in the live version."""
        self._ensure_initialized()
        with self.engine.connect() as connection:
            live = metadata_store.current(connection)
            if live is None:
                return []
            base = baseline_store.baseline_of(connection, live.number) or ()
        return customisations(base, live.documents)

    def _rebased(self, connection: sa.Connection, live: StoredVersion | None,
                 baseline: tuple[Document, ...], take: Side | None) -> Rebased:
        if live is None:
            return rebase((), (), baseline, take=take)
        old = baseline_store.baseline_of(connection, live.number) or live.documents
        return rebase(old, live.documents, baseline, take=take)

    def _commit(
        self,
        change: Callable[[sa.Connection, StoredVersion | None], PendingChange],
        *,
        author: str | None,
        comment: str | None,
        confirm_destructive: bool,
        expected_version: int | None = None,
        within: Callable[[sa.Connection, int], None] | None = None,
        archive_origin: str | None = None,
    ) -> AppliedVersion | None:
        """Under the version lock: build the change from the live version, migrate, record
        the version (and the baseline when it changed), run `within` — one transaction."""
        applied: tuple[StoredVersion, MigrationPlan, CompiledModel] | None = None
        try:
            with begin_migration(self.engine) as connection:
                self._lock_versions(connection)
                live = metadata_store.current(connection)
                live_number = live.number if live is not None else 0
                check_expected_version(expected_version, live_number)
                wanted = change(connection, live)
                if live is not None and live.checksum == wanted.model.checksum:
                    if wanted.baseline is not None:
                        baseline_store.record_baseline(connection, live_number, wanted.baseline)
                    if within is not None:
                        within(connection, live_number)
                    return None
                old_model = self._cache.model_of(live)
                plan = plan_migration(old_model, wanted.model, self.registry,
                                      restorable(connection))
                number = live_number + 1
                apply_plan(
                    connection,
                    plan,
                    old_model=old_model,
                    new_model=wanted.model,
                    registry=self.registry,
                    version=number,
                    confirm_destructive=confirm_destructive,
                    restorable_origin=archive_origin,
                )
                stored = metadata_store.record_version(
                    connection,
                    documents=wanted.documents,
                    checksum=wanted.model.checksum,
                    author=author,
                    comment=comment,
                    plan=plan.to_json(number),
                    number=number,
                )
                if wanted.baseline is not None or live is None:
                    baseline_store.record_baseline(
                        connection, number,
                        wanted.baseline if wanted.baseline is not None else wanted.documents)
                if within is not None:
                    within(connection, number)
                applied = (stored, plan, wanted.model)
        except MetacrmError:
            raise  # an answer (invalid, refused, conflict, stale...): nothing was changed
        except Exception as exc:
            raise MigrationFailed(
                f"applying the metadata failed, nothing was changed: {failure_reason(exc)}",
                [ErrorDetail(failure_reason(exc))],
            ) from exc
        stored, plan, model = applied
        self._cache.remember(stored.number, model)
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

