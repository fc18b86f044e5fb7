"""Everything the records service derives from one metadata version, built once.

The record access (the repository's codecs and statements, reachable only through the
access layer), the access policy (with its per-role-set caches), the
JSON plans, the pipeline state rules and the change recorder all depend only on the compiled
model. `RuntimeCache` rebuilds them when the live metadata version number changes — the
cheap check `MetadataService.live()` already makes — and never otherwise.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from metacrm.access.policy import AccessPolicy
from metacrm.access.record_access import RecordAccess
from metacrm.access.scoped_repository import ScopedRepository
from metacrm.access.subject import AccessSubject
from metacrm.access.system_records import SystemRecords
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.clock import Clock
from metacrm.metadata.model import CompiledModel
from metacrm.services.metadata.service import LiveModel, MetadataService
from metacrm.services.records.changes import ChangeRecorder
from metacrm.services.records.json_values import RecordJson
from metacrm.services.transitions.pipeline_states import StateRules


@dataclass(frozen=True)
class RecordsRuntime:
    """The records machinery of one metadata version."""

    number: int
    model: CompiledModel
    access: RecordAccess
    json: RecordJson
    states: StateRules
    changes: ChangeRecorder

    @property
    def policy(self) -> AccessPolicy:
        return self.access.policy

    @property
    def system(self) -> SystemRecords:
        """The records as the engine acts on them (no scope): say why when using it."""
        return self.access.system

    def scoped(self, subject: AccessSubject) -> ScopedRepository:
        """The records within `subject`'s rights (cheap: built per request)."""
        return self.access.scoped(subject)


def build_runtime(
    live: LiveModel, registry: FieldTypeRegistry, clock: Clock
) -> RecordsRuntime:
    json = RecordJson(live.model, registry)
    return RecordsRuntime(
        number=live.number,
        model=live.model,
        access=RecordAccess(live.model, live.tables, registry, clock=clock),
        json=json,
        states=StateRules(live.model),
        changes=ChangeRecorder(live.model, json),
    )


class RuntimeCache:
    """The runtime of the live metadata version, rebuilt only when the version changes."""

    def __init__(
        self, metadata: MetadataService, registry: FieldTypeRegistry,
        clock: Clock,
    ) -> None:
        self._metadata = metadata
        self._registry = registry
        self._clock = clock
        self._lock = threading.Lock()
        self._runtime: RecordsRuntime | None = None

    def get(self) -> RecordsRuntime:
        live = self._metadata.live()
        runtime = self._runtime
        if runtime is not None and runtime.number == live.number:
            return runtime
        with self._lock:
            runtime = self._runtime
            if runtime is None or runtime.number != live.number:
                runtime = build_runtime(live, self._registry, self._clock)
                self._runtime = runtime
            return runtime
