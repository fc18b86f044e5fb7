"""Wire imports into a process: the service (`services.imports`) and the
`import` consumer that runs an import as a background work item."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from metacrm.imports.duplicate_rules import RulesCheck
from metacrm.imports.service import CONSUMER, ImportService
from metacrm.kernel.jobs import EventRecord, WorkItem

MAX_ATTEMPTS = 5


class ImportConsumer:
    """Runs (or resumes) the import a work item names; imports get work items only from
    `ImportService.start`, never from events."""

    name = CONSUMER

    def __init__(self, service: ImportService) -> None:
        self.service = service

    def targets(self, event: EventRecord) -> Sequence[str]:
        return ()

    def handle(self, item: WorkItem) -> None:
        self.service.run(item.target)

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        """A run that died (the database went away) resumes from its last batch."""
        return timedelta(seconds=30 * item.attempt) if item.attempt < MAX_ATTEMPTS else None


def install(services: Any) -> None:
    service = ImportService(services.records, services.subjects.users, services.subjects,
                            services.dispatcher, clock=lambda: services.clock(),
                            duplicates=RulesCheck(services.records.duplicates))
    services.imports = service
    services.consumers.register(ImportConsumer(service))
