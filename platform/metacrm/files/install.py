"""`install(services)`: the files feature in a process (web app, worker, scheduler).

Registers `services.files` (the `FileService` over the file store the settings
pick) and the scheduler's periodic task `files.purge` (files of deleted records are kept
`RETENTION`, then removed). Antivirus scanners come from the loaded packs
(`ctx.register_file_scanner`) and from `FileService.core_scanners` (in-tree features).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from metacrm.extension.files import FileScanner
from metacrm.files.service import FileService
from metacrm.files.stores import file_store

if TYPE_CHECKING:
    from metacrm.composition import Services

FEATURE = "files"
PURGE_TASK = "files.purge"


def install(services: Services) -> None:
    def scanners() -> Sequence[tuple[str, FileScanner]]:
        packs = getattr(services, "packs", None)
        return packs.file_scanners() if packs is not None else ()

    files = FileService(
        services.engine, services.records, file_store(services.settings),
        secret=services.settings.effective_secret_key,
        subject_of=services.subjects.subject_of, scanners=scanners,
        max_bytes=services.settings.upload_max_bytes, clock=lambda: services.clock())
    services.files = files
    services.periodic[PURGE_TASK] = files.purge_task
