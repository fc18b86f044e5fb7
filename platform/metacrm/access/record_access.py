"""The records of one metadata version, reachable only through the access layer.

`RecordAccess` owns the record repository and never hands it out: callers get either a
subject's `ScopedRepository` (every path made on behalf of a user) or `SystemRecords`
(engine work acting with its own rights). So access is applied in one place by
construction — no service can build a SELECT on a record table and forget the scope.
"""

from __future__ import annotations

from metacrm.access.policy import AccessPolicy
from metacrm.access.scoped_repository import ScopedRepository
from metacrm.access.subject import AccessSubject
from metacrm.access.system_records import SystemRecords
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.clock import Clock
from metacrm.metadata.model import CompiledModel
from metacrm.storage.repository import RecordRepository
from metacrm.storage.tables import RecordTables


class RecordAccess:
    """Scoped and system access to the records of one compiled model."""

    def __init__(
        self, model: CompiledModel, tables: RecordTables, registry: FieldTypeRegistry,
        *, clock: Clock,
    ) -> None:
        self._repository = RecordRepository(model, tables, registry, clock=clock)
        self.policy = AccessPolicy(model, registry)
        self.system = SystemRecords(self._repository)

    def scoped(self, subject: AccessSubject) -> ScopedRepository:
        """The records within `subject`'s rights (cheap: built per request)."""
        return ScopedRepository(self._repository, self.policy, subject)
