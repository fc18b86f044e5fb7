"""`PackContext`: the core's implementation of `metacrm.extension.ExtensionContext`.

It checks each registration when it is made (so the error names the call, not a later
symptom), collects it into the pack's `Contributions`, and closes when `install(ctx)`
returns: a pack that kept `ctx` and registers later gets `RegistrationClosed`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from metacrm.extension import (
    RECORD_EVENTS,
    ActionHandler,
    ChannelProvider,
    EventHandler,
    ExtensionError,
    FieldTypeSpec,
    FileScanner,
    Interceptor,
    PackInfo,
    PanelProvider,
    PeriodicJob,
    Records,
    RegistrationClosed,
    RouteHandler,
    TimelineProvider,
)
from metacrm.extension.testing import DeclaredSettings
from metacrm.extension_host.contributions import (
    ActionEntry,
    Contributions,
    InterceptorEntry,
    PeriodicEntry,
    RouteEntry,
    SubscriptionEntry,
    TimelineEntrySource,
)

NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
SEGMENT = re.compile(r"^(?:[A-Za-z0-9._~-]+|<[a-z_][a-z0-9_]*>)$")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
STORAGE_KINDS = frozenset({"text", "textarea", "integer", "decimal", "boolean", "date",
                           "datetime", "json"})
WIDGETS = frozenset({"text", "textarea", "integer", "decimal", "date", "email", "phone",
                     "url"})


def _name(kind: str, value: object) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise ExtensionError(f"{kind} name {value!r} must match {NAME.pattern}")
    return value


def _callable(kind: str, value: object) -> None:
    if not callable(value):
        raise ExtensionError(f"{kind} must be callable, got {type(value).__name__}")


def _schema(kind: str, schema: object) -> Mapping[str, Any]:
    if not isinstance(schema, Mapping):
        raise ExtensionError(f"{kind} must be a JSON Schema object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ExtensionError(f"{kind} is not a valid JSON Schema: {exc.message}") from None
    return schema


class PackContext:
    """The context one pack's `install(ctx)` gets."""

    def __init__(self, info: PackInfo, settings: DeclaredSettings, records: Records) -> None:
        self._info = info
        self._settings = settings
        self._records = records
        self._closed = False
        self.contributions = Contributions(info.name)

    @property
    def pack(self) -> PackInfo:
        return self._info

    @property
    def settings(self) -> Mapping[str, Any]:
        return self._settings

    @property
    def records(self) -> Records:
        return self._records

    def close(self) -> None:
        self._closed = True

    def _open(self, what: str) -> Contributions:
        if self._closed:
            raise RegistrationClosed(
                f"pack {self._info.name!r}: {what} after install(ctx) returned; register "
                "everything inside install(ctx)")
        return self.contributions

    def _unique(self, kind: str, key: str, taken: Mapping[str, Any] | Sequence[Any]) -> None:
        if key in taken:
            raise ExtensionError(f"pack {self._info.name!r} registers {kind} {key!r} twice")

    # --- registrations ----------------------------------------------------------------

    def register_field_type(self, spec: FieldTypeSpec) -> None:
        found = self._open("register_field_type")
        if not isinstance(spec, FieldTypeSpec):
            raise ExtensionError("register_field_type takes a FieldTypeSpec")
        _name("field type", spec.name)
        if spec.storage not in STORAGE_KINDS:
            raise ExtensionError(f"field type {spec.name!r}: storage {spec.storage!r} is not "
                                 f"one of {sorted(STORAGE_KINDS)}")
        if spec.widget is not None and spec.widget not in WIDGETS:
            raise ExtensionError(f"field type {spec.name!r}: widget {spec.widget!r} is not "
                                 f"one of {sorted(WIDGETS)}")
        _schema(f"field type {spec.name!r}: value_schema", spec.value_schema)
        for hook in (spec.normalize, spec.display):
            if hook is not None:
                _callable(f"field type {spec.name!r}: normalize/display", hook)
        self._unique("field type", spec.name, found.field_types)
        found.field_types[spec.name] = spec

    def register_action(self, name: str, handler: ActionHandler, *,
                        params_schema: Mapping[str, Any],
                        label: Mapping[str, str] | None = None) -> None:
        found = self._open("register_action")
        _name("action", name)
        _callable(f"action {name!r}: handler", handler)
        schema = _schema(f"action {name!r}: params_schema", params_schema)
        self._unique("action", name, found.actions)
        found.actions[name] = ActionEntry(name, handler, schema, dict(label or {}))

    def register_channel_provider(self, channel: str, provider: ChannelProvider) -> None:
        found = self._open("register_channel_provider")
        _name("channel", channel)
        for method in ("send", "parse_inbound"):
            _callable(f"channel provider {channel!r}: {method}", getattr(provider, method, None))
        self._unique("channel", channel, found.channels)
        found.channels[channel] = provider

    def subscribe(self, event_types: Sequence[str], handler: EventHandler, *,
                  entities: Sequence[str] = (), name: str = "events") -> None:
        found = self._open("subscribe")
        _name("subscription", name)
        _callable(f"subscription {name!r}: handler", handler)
        types = frozenset(event_types) if not isinstance(event_types, str) else frozenset()
        unknown = sorted(types - set(RECORD_EVENTS))
        if not types or unknown:
            raise ExtensionError(f"subscription {name!r}: event types must be some of "
                                 f"{list(RECORD_EVENTS)}, got {sorted(types) or event_types!r}")
        self._unique("subscription", name, found.subscriptions)
        found.subscriptions[name] = SubscriptionEntry(name, types, frozenset(entities), handler)

    def intercept(self, entity: str, interceptor: Interceptor, *, order: int = 100) -> None:
        found = self._open("intercept")
        _name("entity", entity)
        _callable(f"interceptor of {entity!r}", interceptor)
        if not isinstance(order, int) or isinstance(order, bool):
            raise ExtensionError(f"interceptor of {entity!r}: order must be an integer")
        found.interceptors.append(InterceptorEntry(entity, order, interceptor))

    def route(self, path: str, methods: Sequence[str], handler: RouteHandler, *,
              public: bool = False, summary: str | None = None,
              request_schema: Mapping[str, Any] | None = None,
              response_schema: Mapping[str, Any] | None = None) -> None:
        found = self._open("route")
        segments = tuple(path.strip("/").split("/")) if isinstance(path, str) else ()
        if not segments or not all(SEGMENT.match(s) for s in segments):
            raise ExtensionError(f"route path {path!r} must be segments of letters, digits, "
                                 "'._~-' or <name> parameters")
        verbs = frozenset(m.upper() for m in methods) if not isinstance(methods, str) \
            else frozenset()
        if not verbs or not verbs <= METHODS:
            raise ExtensionError(f"route {path!r}: methods must be some of {sorted(METHODS)}")
        _callable(f"route {path!r}: handler", handler)
        for label, schema in (("request_schema", request_schema),
                              ("response_schema", response_schema)):
            if schema is not None:
                _schema(f"route {path!r}: {label}", schema)
        if summary is not None and not isinstance(summary, str):
            raise ExtensionError(f"route {path!r}: summary must be text")
        entry = RouteEntry(path.strip("/"), segments, verbs, handler, bool(public), summary,
                           request_schema, response_schema)
        clash = [r for r in found.routes if r.shape() == entry.shape() and r.methods & verbs]
        if clash:
            raise ExtensionError(f"pack {self._info.name!r} registers route {path!r} twice "
                                 f"(as {clash[0].path!r})")
        found.routes.append(entry)

    def panel(self, entity: str, panel: PanelProvider) -> None:
        found = self._open("panel")
        _name("entity", entity)
        _callable(f"panel of {entity!r}", panel)
        found.panels.append((entity, panel))

    def periodic(self, name: str, every: timedelta, job: PeriodicJob) -> None:
        found = self._open("periodic")
        _name("periodic job", name)
        if not isinstance(every, timedelta) or every < timedelta(seconds=1):
            raise ExtensionError(f"periodic job {name!r}: every must be a timedelta of at "
                                 "least one second")
        _callable(f"periodic job {name!r}", job)
        self._unique("periodic job", name, found.periodic)
        found.periodic[name] = PeriodicEntry(name, every, job)

    def timeline_source(self, name: str, kinds: Sequence[str],
                        provider: TimelineProvider) -> None:
        found = self._open("timeline_source")
        _name("timeline source", name)
        wanted = tuple(kinds) if not isinstance(kinds, str) else ()
        if not wanted or len(set(wanted)) != len(wanted):
            raise ExtensionError(f"timeline source {name!r}: kinds must be a list of "
                                 "different names")
        for kind in wanted:
            _name("timeline kind", kind)
        _callable(f"timeline source {name!r}", provider)
        self._unique("timeline source", name, found.timeline)
        found.timeline[name] = TimelineEntrySource(name, wanted, provider)
    def register_file_scanner(self, name: str, scanner: FileScanner) -> None:
        found = self._open("file scanner")
        _name("file scanner", name)
        _callable(f"file scanner {name!r}", scanner)
        self._unique("file scanner", name, found.scanners)
        found.scanners[name] = scanner


__all__ = ["PackContext"]
