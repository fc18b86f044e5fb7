"""The composition root of command-line processes: settings -> engine -> services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from metacrm.fieldtypes import FieldTypeRegistry, default_registry
from metacrm.services.metadata_service import MetadataService
from metacrm.settings import Settings
from metacrm.storage.engine import create_database_engine


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    registry: FieldTypeRegistry
    engine: sa.Engine
    metadata: MetadataService


@contextmanager
def open_runtime(settings: Settings | None = None) -> Iterator[Runtime]:
    """Pick adapters from settings (nothing else in a CLI process reads the environment);
    release the database connections when the command ends."""
    settings = settings or Settings.from_env()
    registry = default_registry()
    registry.close()
    settings.ensure_instance()
    engine = create_database_engine(settings.database_url)
    try:
        yield Runtime(settings, registry, engine, MetadataService(engine, registry))
    finally:
        engine.dispose()
