"""The host's read-mostly tables of loaded contributions: interceptors by entity, routes by
pack, panels by entity, channel providers by channel.

Rebuilt whole (copy on write) whenever a pack is loaded or unloaded, so a request reading
them needs no lock and sees either all of a pack's contributions or none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from metacrm.extension import ChannelProvider, FileScanner, PanelProvider
from metacrm.extension_host.contributions import (
    Contributions,
    InterceptorEntry,
    RouteEntry,
    TimelineEntrySource,
)


@dataclass(frozen=True)
class HostTables:
    """What the loaded packs contribute to requests, indexed for them."""

    interceptors: Mapping[str, tuple[tuple[str, InterceptorEntry], ...]] = field(
        default_factory=dict)
    routes: Mapping[str, tuple[RouteEntry, ...]] = field(default_factory=dict)
    panels: Mapping[str, tuple[tuple[str, PanelProvider], ...]] = field(default_factory=dict)
    channels: Mapping[str, tuple[str, ChannelProvider]] = field(default_factory=dict)
    timeline: tuple[tuple[str, TimelineEntrySource], ...] = ()
    """(pack, source) in load order."""
    scanners: tuple[tuple[str, FileScanner], ...] = ()

    @classmethod
    def build(cls, loaded: Iterable[Contributions]) -> HostTables:
        """Index `loaded` (in load order: ties of interceptor order keep it)."""
        interceptors: dict[str, list[tuple[str, InterceptorEntry]]] = {}
        routes: dict[str, tuple[RouteEntry, ...]] = {}
        panels: dict[str, list[tuple[str, PanelProvider]]] = {}
        channels: dict[str, tuple[str, ChannelProvider]] = {}
        timeline: list[tuple[str, TimelineEntrySource]] = []
        scanners: list[tuple[str, FileScanner]] = []
        for found in loaded:  # `loaded` may be a generator: one pass only
            timeline.extend((found.pack, source) for source in found.timeline.values())
            scanners.extend((f"{found.pack}.{name}", scanner)
                            for name, scanner in found.scanners.items())
            for entry in found.interceptors:
                interceptors.setdefault(entry.entity, []).append((found.pack, entry))
            routes[found.pack] = tuple(found.routes)
            for entity, provider in found.panels:
                panels.setdefault(entity, []).append((found.pack, provider))
            for channel, channel_provider in found.channels.items():
                channels[channel] = (found.pack, channel_provider)
        return cls(
            interceptors={entity: tuple(sorted(chain, key=lambda pair: pair[1].order))
                          for entity, chain in interceptors.items()},
            routes=routes,
            panels={entity: tuple(chain) for entity, chain in panels.items()},
            channels=channels,
            timeline=tuple(timeline),
            scanners=tuple(scanners),
        )

    def route(self, pack: str, method: str, path: str
              ) -> tuple[RouteEntry, dict[str, str]] | frozenset[str] | None:
        """The route of `pack` serving `method` at `path` with its parameters; the allowed
        methods when the path exists but not for `method`; None when there is no route."""
        segments = tuple(path.strip("/").split("/"))
        allowed: set[str] = set()
        for entry in self.routes.get(pack, ()):
            params = entry.match(segments)
            if params is None:
                continue
            if method in entry.methods:
                return entry, params
            allowed |= entry.methods
        return frozenset(allowed) if allowed else None
