"""A pack's contributions, collected while its `install(ctx)` runs and added as one unit.

Plain data: the context (`context.py`) fills a `Contributions`, the registries
(`registries.py`) add or remove it whole, and `claims()` names what two packs may not both
have (a field type name, an action name, a channel, a route).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from jsonschema import Draft202012Validator

from metacrm.extension import (
    ActionHandler,
    ChannelProvider,
    EventHandler,
    FieldTypeSpec,
    FileScanner,
    Interceptor,
    PanelProvider,
    PeriodicJob,
    RouteHandler,
    TimelineProvider,
)
from metacrm.kernel.errors import ErrorDetail

PARAM = re.compile(r"^<([a-z_][a-z0-9_]*)>$")


def _pointer(path: Iterable[Any]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


@dataclass(frozen=True)
class ActionEntry:
    name: str
    handler: ActionHandler
    params_schema: Mapping[str, Any]
    label: Mapping[str, str]


@dataclass(frozen=True)
class SubscriptionEntry:
    name: str
    event_types: frozenset[str]
    entities: frozenset[str]
    handler: EventHandler


@dataclass(frozen=True)
class InterceptorEntry:
    entity: str
    order: int
    interceptor: Interceptor


@dataclass(frozen=True)
class RouteEntry:
    path: str
    segments: tuple[str, ...]
    methods: frozenset[str]
    handler: RouteHandler
    public: bool
    summary: str | None = None
    request_schema: Mapping[str, Any] | None = None
    """JSON Schema of the request body: checked before the handler runs (422 with
    pointers), and published in the OpenAPI document with `response_schema`."""
    response_schema: Mapping[str, Any] | None = None

    def body_problems(self, body: Any) -> list[ErrorDetail]:
        """Where a JSON request body breaks `request_schema` (empty: it conforms)."""
        if self.request_schema is None:
            return []
        validator = Draft202012Validator(self.request_schema)
        return [ErrorDetail(error.message, _pointer(error.absolute_path))
                for error in sorted(validator.iter_errors(body), key=lambda e: e.path)]

    def shape(self) -> tuple[str, ...]:
        """The path with parameter names blanked: two routes of one shape collide."""
        return tuple("<>" if PARAM.match(s) else s for s in self.segments)

    def match(self, segments: tuple[str, ...]) -> dict[str, str] | None:
        if len(segments) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for pattern, value in zip(self.segments, segments, strict=True):
            name = PARAM.match(pattern)
            if name:
                params[name.group(1)] = value
            elif pattern != value:
                return None
        return params


@dataclass(frozen=True)
class PeriodicEntry:
    name: str
    every: timedelta
    job: PeriodicJob


@dataclass(frozen=True)
class TimelineEntrySource:
    """A pack's timeline source: its name, the kinds it gives, the provider."""

    name: str
    kinds: tuple[str, ...]
    provider: TimelineProvider


@dataclass
class Contributions:
    """Everything one pack registered."""

    pack: str
    field_types: dict[str, FieldTypeSpec] = field(default_factory=dict)
    actions: dict[str, ActionEntry] = field(default_factory=dict)
    channels: dict[str, ChannelProvider] = field(default_factory=dict)
    subscriptions: dict[str, SubscriptionEntry] = field(default_factory=dict)
    interceptors: list[InterceptorEntry] = field(default_factory=list)
    routes: list[RouteEntry] = field(default_factory=list)
    panels: list[tuple[str, PanelProvider]] = field(default_factory=list)
    periodic: dict[str, PeriodicEntry] = field(default_factory=dict)
    timeline: dict[str, TimelineEntrySource] = field(default_factory=dict)
    scanners: dict[str, FileScanner] = field(default_factory=dict)

    def claims(self) -> dict[tuple[str, str], str]:
        """(kind, key) -> description of what only one pack may own."""
        found: dict[tuple[str, str], str] = {}
        for name in self.field_types:
            found[("field type", name)] = f"field type {name!r}"
        for name in self.actions:
            found[("action", name)] = f"action {name!r}"
        for channel in self.channels:
            found[("channel", channel)] = f"a provider for channel {channel!r}"
        for source in self.timeline.values():
            for kind in source.kinds:
                found[("timeline kind", kind)] = f"timeline kind {kind!r}"
        for route in self.routes:
            for method in sorted(route.methods):
                key = f"{method} /api/v1/ext/{self.pack}/" + "/".join(route.shape())
                found[("route", key)] = f"route {method} {route.path!r}"
        return found
