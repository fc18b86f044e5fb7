"""`PackHost`: loads installed packs' Python contributions into a running process.

`sync(specs)` makes the process match the installed packs: it unloads the packs that were
removed or changed (version, module, folder, settings or permissions) and loads the new and
changed ones. Loading a pack means: check its source's imports (`isolation`), import its
module, run `install(ctx)` with a fresh `PackContext`, close the context, check the
contributions for conflicts with the core and the other loaded packs, and add them all — or,
if any step fails, none (the failure is logged and kept in `failures`). `refresh()` does
this when the source's generation number changed: the web app calls it before each
request, the worker before each job, the scheduler on each tick, so every process picks up
a pack change without a restart.

`check_installable(spec)` runs the same checks without adding anything, for the lifecycle
to refuse an install whose problems would otherwise only show when loading.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from metacrm.automation.actions import ActionRegistry
from metacrm.extension import (
    Caller,
    ChannelProvider,
    DeliveryReceipt,
    FileScanner,
    OutboundMessage,
    PackInfo,
    Panel,
    PanelRequest,
)
from metacrm.extension.testing import DeclaredSettings
from metacrm.extension_host.adapters import (
    PackAction,
    PackSubscriber,
    PeriodClaim,
    ThrottledJob,
    consumer_name,
    periodic_name,
)
from metacrm.extension_host.context import PackContext
from metacrm.extension_host.contributions import Contributions, RouteEntry, TimelineEntrySource
from metacrm.extension_host.field_types import adapt
from metacrm.extension_host.interceptors import Chain, PackInterceptors
from metacrm.extension_host.isolation import import_problems, source_files
from metacrm.extension_host.service_account import ServiceAccountRecords
from metacrm.extension_host.specs import NoPacks, PackSource, PackSpec, declared_settings
from metacrm.extension_host.tables import HostTables
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.jobs import ConsumerRegistry
from metacrm.services.records.service import RecordsService

_log = logging.getLogger(__name__)

PeriodicTasks = dict[str, Callable[[Any], None]]


class PackLoadError(Exception):
    """A pack could not be loaded; the message lists every problem."""

    def __init__(self, pack: str, problems: Sequence[str]) -> None:
        super().__init__(f"pack {pack!r} cannot be loaded: " + "; ".join(problems))
        self.pack = pack
        self.problems = list(problems)


@dataclass
class HostCore:
    """The parts of the composition root a pack's contributions are added to."""

    records: RecordsService
    field_types: FieldTypeRegistry
    consumers: ConsumerRegistry
    periodic: PeriodicTasks
    actions: Callable[[], ActionRegistry | None] = lambda: None
    """The automation feature's actions registry, when that feature is installed."""
    claim_period: PeriodClaim = lambda _name, _now, _every: True
    """Whether a periodic job may start now across every scheduler process (the database's
    `claim_period`); the default lets each process throttle on its own."""


@dataclass
class LoadedPack:
    spec_key: str
    contributions: Contributions
    modules: tuple[str, ...] = ()
    path_entry: str | None = None


def spec_key(spec: PackSpec) -> str:
    """What must be equal for a loaded pack to stay loaded."""
    return json.dumps({
        "version": spec.version, "module": spec.module,
        "root": str(spec.root) if spec.root is not None else None,
        "settings": dict(spec.settings),
        "permissions": {k: sorted(v) for k, v in spec.permissions.items()},
    }, sort_keys=True, default=str)


@dataclass
class _Imported:
    module: ModuleType | None
    names: tuple[str, ...] = ()
    path_entry: str | None = None
    problems: list[str] = field(default_factory=list)


class PackHost:
    """The packs loaded in this process (one host per `Services`)."""

    def __init__(self, core: HostCore, source: PackSource | None = None) -> None:
        self.core = core
        self.source: PackSource = source or NoPacks()
        self._loaded: dict[str, LoadedPack] = {}
        self._tables = HostTables()
        self._lock = threading.RLock()
        self._generation: int | None = None
        self.failures: dict[str, str] = {}
        """Packs that failed to load in the last sync, with the reason."""
        core.records.interceptors = PackInterceptors(core.records, self.interceptors_for)

    # --- keeping up with the installed packs ---------------------------------------------

    def refresh(self) -> None:
        """Sync with the source when its generation changed since the last sync (one cheap
        read otherwise)."""
        generation = self.source.generation()
        if generation == self._generation:
            return
        with self._lock:
            if generation == self._generation:
                return
            self.sync(self.source.packs())
            self._generation = generation

    def reload(self) -> None:
        """Sync now: this process just changed the installed packs (a source that keeps
        the generation for a moment is told to read it again)."""
        forget = getattr(self.source, "forget", None)
        if callable(forget):
            forget()
        self.refresh()

    def sync(self, packs: Sequence[PackSpec]) -> None:
        """Load new packs, unload removed ones, reload changed ones (each as a unit)."""
        with self._lock:
            wanted = {spec.name: spec for spec in packs}
            for name in list(self._loaded):
                spec = wanted.get(name)
                if spec is None or spec_key(spec) != self._loaded[name].spec_key:
                    self._unload(name)
            self.failures = {name: reason for name, reason in self.failures.items()
                             if name in wanted}
            for spec in packs:
                if spec.name in self._loaded:
                    continue
                try:
                    self._load(spec)
                    self.failures.pop(spec.name, None)
                except PackLoadError as exc:
                    _log.error("%s", exc)
                    self.failures[spec.name] = str(exc)
            self._tables = HostTables.build(p.contributions for p in self._loaded.values())

    def loaded(self) -> dict[str, str]:
        """Loaded pack names -> their versions (as the spec said)."""
        return {name: json.loads(p.spec_key)["version"] for name, p in self._loaded.items()}

    def check_installable(self, spec: PackSpec) -> list[str]:
        """Problems that would stop `spec` from loading — imports other than
        `metacrm.extension` (file:line), a failing import or `install(ctx)`, and conflicts
        with the core or another loaded pack (naming both packs). Empty: installable. A
        pack of the same name already loaded is ignored (an upgrade replaces it)."""
        with self._lock:
            imported = self._import(spec)
            try:
                if imported.problems:
                    return imported.problems
                contributions = self._install(spec, imported.module)
                return self._conflicts(contributions, ignore=spec.name)
            except PackLoadError as exc:
                return exc.problems
            finally:
                self._forget_modules(imported.names, imported.path_entry,
                                     keep=spec.name in self._loaded)

    # --- reading contributions (requests, jobs) -----------------------------------------

    def interceptors_for(self, entity: str) -> Chain:
        return self._tables.interceptors.get(entity, ())

    def route(self, pack: str, method: str, path: str) -> Any:
        return self._tables.route(pack, method, path)

    def routes(self) -> list[tuple[str, RouteEntry]]:
        """Every loaded pack's routes as (pack, route), by pack name then registration
        order (the OpenAPI document lists them)."""
        tables = self._tables
        return [(pack, entry) for pack in sorted(tables.routes)
                for entry in tables.routes[pack]]

    def routes_key(self) -> str:
        """Changes whenever the loaded packs change (caches of `routes()` key on it)."""
        with self._lock:
            keys = sorted(f"{name}={loaded.spec_key}" for name, loaded in self._loaded.items())
        return hashlib.sha256("\n".join(keys).encode()).hexdigest()

    def panels(self, entity: str, record: Mapping[str, Any], viewer: Caller
               ) -> list[tuple[str, Panel | None]]:
        """(pack, panel) for the record page; panel None: it failed (logged), and the page
        says so instead of breaking."""
        shown: list[tuple[str, Panel | None]] = []
        request = PanelRequest(entity, record, viewer)
        for pack, provider in self._tables.panels.get(entity, ()):
            try:
                panel = provider(request)
            except Exception:
                _log.exception("panel of pack %r on %r failed", pack, entity)
                shown.append((pack, None))
                continue
            if isinstance(panel, Panel):
                shown.append((pack, panel))
        return shown

    def timeline_sources(self) -> tuple[tuple[str, TimelineEntrySource], ...]:
        """(pack, source) of the loaded packs' timeline sources."""
        return self._tables.timeline
    def file_scanners(self) -> tuple[tuple[str, FileScanner], ...]:
        """(pack.name, scanner) of the loaded packs' antivirus hooks, in load order."""
        return self._tables.scanners

    def channels(self) -> tuple[str, ...]:
        return tuple(sorted(self._tables.channels))

    def channel_provider(self, channel: str) -> ChannelProvider:
        """The provider of `channel`; LookupError when no loaded pack provides it."""
        found = self._tables.channels.get(channel)
        if found is None:
            raise LookupError(f"no installed pack provides channel {channel!r}")
        return found[1]

    def send(self, channel: str, recipient: str, text: str) -> DeliveryReceipt:
        """Send a text over `channel` with its provider."""
        return self.channel_provider(channel).send(OutboundMessage(recipient, text))

    def action_schemas(self) -> dict[str, Mapping[str, Any]]:
        """Parameter schemas of the loaded packs' actions, by action name."""
        return {name: entry.params_schema for p in self._loaded.values()
                for name, entry in p.contributions.actions.items()}

    # --- loading and unloading ---------------------------------------------------------

    def _load(self, spec: PackSpec) -> None:
        imported = self._import(spec)
        try:
            if imported.problems:
                raise PackLoadError(spec.name, imported.problems)
            contributions = self._install(spec, imported.module)
            conflicts = self._conflicts(contributions, ignore=spec.name)
            if conflicts:
                raise PackLoadError(spec.name, conflicts)
            self._add(contributions)
        except BaseException:
            self._forget_modules(imported.names, imported.path_entry)
            raise
        self._loaded[spec.name] = LoadedPack(spec_key(spec), contributions, imported.names,
                                             imported.path_entry)

    def _unload(self, name: str) -> None:
        loaded = self._loaded.pop(name)
        self._remove(loaded.contributions)
        self._forget_modules(loaded.modules, loaded.path_entry)

    def _import(self, spec: PackSpec) -> _Imported:
        if spec.module is None:
            return _Imported(None)
        files = source_files(spec.module, spec.root)
        if not files:
            return _Imported(None, problems=[
                f"module {spec.module!r} of pack {spec.name!r} was not found"
                + (f" in {spec.root}" if spec.root is not None else "")])
        problems = import_problems(files, spec.root)
        if problems:
            return _Imported(None, problems=problems)
        path_entry = None
        if spec.root is not None and str(spec.root) not in sys.path:
            path_entry = str(spec.root)
            sys.path.insert(0, path_entry)
        top = spec.module.split(".")[0]
        self._forget_modules(_module_names(top), None)
        importlib.invalidate_caches()
        before = set(sys.modules)
        try:
            module = importlib.import_module(spec.module)
        except Exception as exc:
            names = tuple(n for n in set(sys.modules) - before
                          if n == top or n.startswith(top + "."))
            self._forget_modules(names, path_entry)
            return _Imported(None, problems=[
                f"importing {spec.module!r} failed: {type(exc).__name__}: {exc}"])
        names = tuple(n for n in set(sys.modules) - before if n == top or n.startswith(top + "."))
        return _Imported(module, names, path_entry)

    def _install(self, spec: PackSpec, module: ModuleType | None) -> Contributions:
        context = PackContext(
            PackInfo(spec.name, spec.version),
            DeclaredSettings(spec.name, declared_settings(spec), spec.settings),
            ServiceAccountRecords(self.core.records, spec.name))
        if module is None:
            context.close()
            return context.contributions
        install = getattr(module, "install", None)
        if not callable(install):
            raise PackLoadError(spec.name, [f"module {spec.module!r} has no install(ctx)"])
        try:
            install(context)
        except Exception as exc:
            raise PackLoadError(spec.name, [
                f"install(ctx) failed: {type(exc).__name__}: {exc}"]) from exc
        finally:
            context.close()
        return context.contributions

    def _conflicts(self, contributions: Contributions, *, ignore: str) -> list[str]:
        problems: list[str] = []
        mine = contributions.claims()
        for name, loaded in self._loaded.items():
            if name == ignore:
                continue
            theirs = loaded.contributions.claims()
            problems.extend(
                f"pack {contributions.pack!r} and pack {name!r} both register {what}"
                for key, what in mine.items() if key in theirs)
        core_types = {t.name for t in self.core.field_types} - self._pack_names("field_types")
        actions = self.core.actions()
        core_actions = set(actions.names() if actions else ()) - self._pack_names("actions")
        for type_name in contributions.field_types:
            if type_name in core_types:
                problems.append(f"pack {contributions.pack!r} registers field type "
                                f"{type_name!r}, which the core already has")
        for action in contributions.actions:
            if action in core_actions:
                problems.append(f"pack {contributions.pack!r} registers action {action!r}, "
                                "which the core already has")
        return problems

    def _pack_names(self, kind: str) -> set[str]:
        """Names of field types or actions the loaded packs added (not the core's)."""
        return {n for p in self._loaded.values() for n in getattr(p.contributions, kind)}

    def _add(self, found: Contributions) -> None:
        """Add every contribution to the core registries, or none."""
        with self._undo_on_error(found):
            for spec in found.field_types.values():
                self.core.field_types.add_extension(
                    adapt(spec, self.core.field_types.get(spec.storage)))
            actions = self.core.actions()
            if found.actions and actions is None:
                raise PackLoadError(found.pack, ["registers actions, but the automation "
                                                 "feature is not installed"])
            for entry in found.actions.values():
                assert actions is not None
                actions.register(PackAction(entry))
            for subscription in found.subscriptions.values():
                self.core.consumers.register(
                    PackSubscriber(found.pack, subscription, self.core.records))
            for job in found.periodic.values():
                name = periodic_name(found.pack, job.name)
                self.core.periodic[name] = ThrottledJob(name, job, self.core.claim_period)

    @contextmanager
    def _undo_on_error(self, found: Contributions) -> Iterator[None]:
        try:
            yield
        except ValueError as exc:
            self._remove(found)
            raise PackLoadError(found.pack, [str(exc)]) from exc
        except BaseException:
            self._remove(found)
            raise

    def _remove(self, found: Contributions) -> None:
        """Remove what `found` added (and only that: a name another pack holds stays)."""
        registry = self.core.field_types
        for type_name, spec in found.field_types.items():
            if registry.has_type(type_name) and getattr(
                    registry.get(type_name), "spec", None) is spec:
                registry.remove_extension(type_name)
        actions = self.core.actions()
        if actions is not None:
            for name, entry in found.actions.items():
                action = actions.get(name)
                if isinstance(action, PackAction) and action.entry is entry:
                    actions.unregister(name)
        for subscription in found.subscriptions:
            self.core.consumers.unregister(consumer_name(found.pack, subscription))
        for job in found.periodic:
            self.core.periodic.pop(periodic_name(found.pack, job), None)

    @staticmethod
    def _forget_modules(names: Sequence[str], path_entry: str | None, *,
                        keep: bool = False) -> None:
        if keep:
            return
        for name in names:
            sys.modules.pop(name, None)
        if path_entry is not None and path_entry in sys.path:
            sys.path.remove(path_entry)


def _module_names(top: str) -> tuple[str, ...]:
    return tuple(n for n in list(sys.modules) if n == top or n.startswith(top + "."))
