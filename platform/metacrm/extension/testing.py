"""Fakes for a pack's own unit tests: a context that records registrations and an
in-memory `Records`. The fakes enforce what the real host does that a pack can get wrong
(undeclared settings, registration after install); everything else is kept simple —
integration tests run the pack in a real instance (`metacrm.extension_host`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Literal

from metacrm.extension.actions import ActionHandler
from metacrm.extension.channels import ChannelProvider
from metacrm.extension.context import PackInfo, PeriodicJob
from metacrm.extension.errors import NotFound, RegistrationClosed, SettingNotDeclared
from metacrm.extension.events import EventHandler
from metacrm.extension.fields import FieldTypeSpec
from metacrm.extension.files import FileScanner
from metacrm.extension.http import ExtRequest, RouteHandler
from metacrm.extension.panels import PanelProvider
from metacrm.extension.records import Caller, RecordList
from metacrm.extension.saves import Interceptor, PendingSave
from metacrm.extension.timeline import TimelineProvider


def _frozen(value: Any) -> Any:
    """A read-only copy: objects become read-only mappings, arrays tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value


class DeclaredSettings(Mapping[str, Any]):
    """A read-only view of the declared settings: an undeclared key raises
    `SettingNotDeclared` even when `values` holds it."""

    __slots__ = ("_declared", "_pack", "_values")
    _pack: str
    _declared: frozenset[str]
    _values: Mapping[str, Any]

    def __init__(self, pack: str, declared: Sequence[str], values: Mapping[str, Any]) -> None:
        keys = frozenset(declared)
        object.__setattr__(self, "_pack", pack)
        object.__setattr__(self, "_declared", keys)
        object.__setattr__(self, "_values", MappingProxyType(
            {key: _frozen(value) for key, value in values.items() if key in keys}))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"the settings of pack {self._pack!r} are read-only")

    def __getitem__(self, key: str) -> Any:
        if key not in self._declared:
            raise SettingNotDeclared(self._pack, key)
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self._declared:
            raise SettingNotDeclared(self._pack, key)
        return self._values.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<settings of pack {self._pack!r}: {sorted(self._values)}>"


class MemoryRecords:
    """`Records` over dicts (`where`: only `{"field", "op": "eq", "value"}` leaves and `and`)."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    def add(self, entity: str, **values: Any) -> dict[str, Any]:
        return dict(self.create(entity, values))

    def list(self, entity: str, *, where: Mapping[str, Any] | None = None,
             sort: Sequence[str] = (), limit: int = 50, cursor: str | None = None,
             fields: Sequence[str] | None = None) -> RecordList:
        rows = [dict(r) for r in self.tables.get(entity, {}).values() if _matches(r, where)]
        return RecordList(rows[:limit], None, len(rows))

    def get(self, entity: str, record_id: str) -> Mapping[str, Any]:
        try:
            return dict(self.tables[entity][record_id])
        except KeyError:
            raise NotFound(f"{entity} record {record_id} does not exist") from None

    def create(self, entity: str, values: Mapping[str, Any]) -> Mapping[str, Any]:
        record = {**values, "id": f"{entity}-{next(self._ids)}", "version": 1}
        self.tables.setdefault(entity, {})[record["id"]] = record
        return dict(record)

    def update(self, entity: str, record_id: str, changes: Mapping[str, Any], *,
               expected_version: int | None = None) -> Mapping[str, Any]:
        record = dict(self.get(entity, record_id))
        record.update(changes)
        record["version"] += 1
        self.tables[entity][record_id] = record
        return dict(record)

    def delete(self, entity: str, record_id: str) -> None:
        self.get(entity, record_id)
        del self.tables[entity][record_id]


def _matches(record: Mapping[str, Any], where: Mapping[str, Any] | None) -> bool:
    if where is None:
        return True
    if "and" in where:
        return all(_matches(record, part) for part in where["and"])
    return bool(where.get("op") == "eq" and record.get(where["field"]) == where["value"])


@dataclass
class FakeContext:
    """An `ExtensionContext` for unit tests; registrations land in the public dicts."""

    pack_name: str
    declared_settings: Sequence[str] = ()
    setting_values: Mapping[str, Any] = field(default_factory=dict)
    records: MemoryRecords = field(default_factory=MemoryRecords)
    version: str = "0.0.0"
    closed: bool = False
    field_types: dict[str, FieldTypeSpec] = field(default_factory=dict)
    actions: dict[str, tuple[ActionHandler, Mapping[str, Any]]] = field(default_factory=dict)
    channels: dict[str, ChannelProvider] = field(default_factory=dict)
    subscriptions: list[tuple[tuple[str, ...], EventHandler]] = field(default_factory=list)
    interceptors: dict[str, list[tuple[int, Interceptor]]] = field(default_factory=dict)
    routes: dict[str, tuple[tuple[str, ...], RouteHandler, bool]] = field(
        default_factory=dict)
    panels: dict[str, list[PanelProvider]] = field(default_factory=dict)
    periodic_jobs: dict[str, tuple[timedelta, PeriodicJob]] = field(default_factory=dict)
    timeline_sources: dict[str, tuple[tuple[str, ...], TimelineProvider]] = field(
        default_factory=dict)
    file_scanners: dict[str, FileScanner] = field(default_factory=dict)

    @property
    def pack(self) -> PackInfo:
        return PackInfo(self.pack_name, self.version)

    @property
    def settings(self) -> Mapping[str, Any]:
        return DeclaredSettings(self.pack_name, self.declared_settings, self.setting_values)

    def _open(self) -> None:
        if self.closed:
            raise RegistrationClosed(f"pack {self.pack_name!r}: registration is closed")

    def register_field_type(self, spec: FieldTypeSpec) -> None:
        self._open()
        self.field_types[spec.name] = spec

    def register_action(self, name: str, handler: ActionHandler, *,
                        params_schema: Mapping[str, Any],
                        label: Mapping[str, str] | None = None) -> None:
        self._open()
        self.actions[name] = (handler, params_schema)

    def register_channel_provider(self, channel: str, provider: ChannelProvider) -> None:
        self._open()
        self.channels[channel] = provider

    def subscribe(self, event_types: Sequence[str], handler: EventHandler, *,
                  entities: Sequence[str] = (), name: str = "events") -> None:
        self._open()
        self.subscriptions.append((tuple(event_types), handler))

    def intercept(self, entity: str, interceptor: Interceptor, *, order: int = 100) -> None:
        self._open()
        self.interceptors.setdefault(entity, []).append((order, interceptor))

    def route(self, path: str, methods: Sequence[str], handler: RouteHandler, *,
              public: bool = False) -> None:
        self._open()
        self.routes[path] = (tuple(m.upper() for m in methods), handler, public)

    def panel(self, entity: str, panel: PanelProvider) -> None:
        self._open()
        self.panels.setdefault(entity, []).append(panel)

    def periodic(self, name: str, every: timedelta, job: PeriodicJob) -> None:
        self._open()
        self.periodic_jobs[name] = (every, job)

    def timeline_source(self, name: str, kinds: Sequence[str],
                        provider: TimelineProvider) -> None:
        self._open()
        self.timeline_sources[name] = (tuple(kinds), provider)
    def register_file_scanner(self, name: str, scanner: FileScanner) -> None:
        self._open()
        self.file_scanners[name] = scanner

    # --- driving the registrations in tests --------------------------------------------

    def save(self, entity: str, record: Mapping[str, Any], *,
             operation: Literal["create", "update"] = "create",
             previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run the entity's interceptors like the host does; returns the record as it
        would be stored."""
        current = dict(record)
        for _order, interceptor in sorted(self.interceptors.get(entity, []),
                                          key=lambda pair: pair[0]):
            changes = interceptor(PendingSave(
                entity=entity, operation=operation, record=MappingProxyType(dict(current)),
                changes=MappingProxyType(dict(record)), previous=previous,
                caller=None, reader=self.records))
            current.update(changes or {})
        return current

    def request(self, method: str, path: str, *, body: bytes = b"",
                headers: Mapping[str, str] | None = None,
                caller: Caller | None = None) -> Any:
        """Call the route registered at `path` (no path parameters) like the host does."""
        methods, handler, _public = self.routes[path]
        assert method.upper() in methods, f"{method} is not allowed on {path}"
        return handler(ExtRequest(
            method=method.upper(), path_params={}, query={},
            headers={k.lower(): v for k, v in (headers or {}).items()}, body=body,
            caller=caller))


__all__ = ["DeclaredSettings", "FakeContext", "MemoryRecords"]
