"""The composition root shared by every process: settings -> adapters -> services.

The web app (`metacrm.app.create_app`), the RQ worker and the scheduler (`metacrm worker`,
`metacrm scheduler`) all build the same `Services` here, so a work item runs with the same
metadata, access rules, consumers and actions wherever it runs. Features install themselves
(`FEATURES`: each module's `install(services)` registers its consumers, actions, periodic
tasks and service objects), then the extension packs named in `METACRM_EXTENSIONS` do the
same — extension packs use exactly the hooks the core uses.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from metacrm.access.teams import TeamDirectory
from metacrm.fieldtypes import FieldTypeRegistry, default_registry
from metacrm.kernel.jobs import ConsumerRegistry
from metacrm.services.metadata_service import MetadataService
from metacrm.services.records import RecordsService
from metacrm.settings import Settings
from metacrm.storage.engine import create_database_engine

T = TypeVar("T")

FEATURES: tuple[str, ...] = ()
"""Modules whose `install(services)` wires a core feature, in order (later ones may use
what earlier ones registered)."""

PeriodicTask = Callable[[datetime], None]
"""Run by the scheduler on every tick with the current time (time-based triggers, cron
triggers, the sweeper); must be safe with several schedulers running."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """Everything a process works with, built once per process."""

    settings: Settings
    registry: FieldTypeRegistry
    engine: sa.Engine
    metadata: MetadataService
    teams: TeamDirectory
    records: RecordsService
    clock: Callable[[], datetime] = _utc_now
    consumers: ConsumerRegistry = field(default_factory=ConsumerRegistry)
    periodic: dict[str, PeriodicTask] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)
    """Feature services by name (`transitions`, `conversion`, `automation`, `webhooks`...),
    for the API blueprints and other features."""

    def feature(self, name: str, kind: type[T]) -> T:
        """The feature service `name`, checked to be a `kind`."""
        value = self.features.get(name)
        if not isinstance(value, kind):
            raise LookupError(f"feature {name!r} is not installed in this process")
        return value

    def close(self) -> None:
        """Release the database connections (the process or the test is done)."""
        self.engine.dispose()


def build_services(settings: Settings | None = None) -> Services:
    """Build and install everything for `settings` (default: the environment)."""
    settings = settings or Settings.from_env()
    settings.ensure_instance()
    registry = default_registry()
    engine = create_database_engine(settings.database_url)
    try:
        metadata = MetadataService(engine, registry)
        metadata.initialize()
        teams = TeamDirectory(engine)
        teams.initialize()
        services = Services(
            settings=settings, registry=registry, engine=engine, metadata=metadata,
            teams=teams, records=RecordsService(engine, metadata, registry, teams),
        )
        for module in (*FEATURES, *settings.extensions):
            install_module(module, services)
        registry.close()
        return services
    except BaseException:
        engine.dispose()
        raise


def install_module(module: str, services: Services) -> None:
    """Import `module` and call its `install(services)`; errors name the module."""
    try:
        loaded = importlib.import_module(module)
    except ImportError as exc:
        raise ValueError(f"cannot import extension module {module!r}: {exc}") from exc
    install = getattr(loaded, "install", None)
    if not callable(install):
        raise ValueError(f"module {module!r} has no install(services) function")
    install(services)
