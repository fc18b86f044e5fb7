"""The composition root of command-line processes: settings -> `Services` (the same as
the web app's and the worker's, so `metacrm metadata plan/apply` checks what the web API
checks, trigger actions included)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from metacrm.composition import Services, build_services, pack_lifecycle
from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.metadata.compiler import load_model
from metacrm.metadata.documents import Document
from metacrm.metadata.loader import read_documents
from metacrm.packs.lifecycle import PackLifecycle
from metacrm.services.metadata.service import MetadataService
from metacrm.settings import Settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    registry: FieldTypeRegistry
    engine: sa.Engine
    metadata: MetadataService
    services: Services


@contextmanager
def open_runtime(settings: Settings | None = None) -> Iterator[Runtime]:
    """Pick adapters from settings (nothing else in a CLI process reads the environment);
    release the database connections when the command ends."""
    services = build_services(settings or Settings.from_env())
    try:
        yield Runtime(services.settings, services.registry, services.engine,
                      services.metadata, services)
    finally:
        services.close()


def pack_documents(paths: Sequence[Path], registry: FieldTypeRegistry) -> list[Document]:
    """The documents of the packs under `paths`; when any file is broken, MetadataInvalid
    lists the problems of every file at once (load_model), not just the unreadable ones."""
    documents, errors = read_documents(paths)
    if errors:
        load_model(paths, registry)
    return documents


def lifecycle_of(runtime: Runtime) -> PackLifecycle:
    """The pack lifecycle of a command-line process (`metacrm init`, `metacrm pack ...`)."""
    return pack_lifecycle(runtime.services)
