"""The live compiled model of one database, recompiled only when the stored version changes."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import sqlalchemy as sa

from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import MetadataInvalid
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.model import CompiledModel
from metacrm.storage import metadata_store
from metacrm.storage.metadata_store import StoredVersion
from metacrm.storage.tables import RecordTables, build_record_tables
from metacrm.storage.version_watch import VersionWatcher


@dataclass(frozen=True)
class LiveModel:
    """The model of one stored metadata version (number 0: nothing applied yet)."""

    number: int
    model: CompiledModel
    tables: RecordTables


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
