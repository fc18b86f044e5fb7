"""`ExtensionContext`: everything a pack's `install(ctx)` may use and register.

Registration is open only while `install(ctx)` runs: the pack's contributions are added to
the running instance as one unit when it returns (and removed as one unit when the pack is
uninstalled or reloaded); a call after that raises `RegistrationClosed`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from metacrm.extension.actions import ActionHandler
from metacrm.extension.channels import ChannelProvider
from metacrm.extension.events import EventHandler
from metacrm.extension.fields import FieldTypeSpec
from metacrm.extension.files import FileScanner
from metacrm.extension.http import RouteHandler
from metacrm.extension.panels import PanelProvider
from metacrm.extension.records import Records
from metacrm.extension.saves import Interceptor
from metacrm.extension.timeline import TimelineProvider


@dataclass(frozen=True, slots=True)
class PackInfo:
    """The pack being installed."""

    name: str
    version: str


PeriodicJob = Callable[[datetime], None]
"""Called with the current time (UTC)."""


class ExtensionContext(Protocol):
    """What `install(ctx)` gets."""

    @property
    def pack(self) -> PackInfo: ...

    @property
    def settings(self) -> Mapping[str, Any]:
        """The pack's declared settings (read-only; values set per instance by an admin).
        An undeclared key raises `SettingNotDeclared`; a declared one without a value,
        KeyError (use `.get`)."""
        ...

    @property
    def records(self) -> Records:
        """Records as the pack's service account (`permissions` in pack.json)."""
        ...

    def register_field_type(self, spec: FieldTypeSpec) -> None:
        """A new field type for metadata (`"type": spec.name`)."""

    def register_action(
        self, name: str, handler: ActionHandler, *, params_schema: Mapping[str, Any],
        label: Mapping[str, str] | None = None,
    ) -> None:
        """A trigger action `type: name` whose `params` follow `params_schema`."""

    def register_channel_provider(self, channel: str, provider: ChannelProvider) -> None:
        """The provider of channel type `channel` (one per instance)."""

    def subscribe(self, event_types: Sequence[str], handler: EventHandler, *,
                  entities: Sequence[str] = (), name: str = "events") -> None:
        """Call `handler` after commit for each event of `event_types` (on `entities`,
        default all); `name` tells a pack's subscriptions apart."""

    def intercept(self, entity: str, interceptor: Interceptor, *, order: int = 100) -> None:
        """Run `interceptor` before each save of an `entity` record (lower order first)."""

    def route(self, path: str, methods: Sequence[str], handler: RouteHandler, *,
              public: bool = False, summary: str | None = None,
              request_schema: Mapping[str, Any] | None = None,
              response_schema: Mapping[str, Any] | None = None) -> None:
        """Serve `handler` at `/api/v1/ext/<pack>/<path>` (`<name>` segments bind
        `path_params`). The route appears in the OpenAPI document with `summary`; a JSON
        body that breaks `request_schema` is answered 422 (pointers) before the handler
        runs; `response_schema` documents the answer."""

    def panel(self, entity: str, panel: PanelProvider) -> None:
        """Show a panel on the record page of `entity` records."""

    def periodic(self, name: str, every: timedelta, job: PeriodicJob) -> None:
        """Run `job` from the scheduler, at most once per `every` for the instance (the
        scheduler processes share the claim of each period)."""

    def timeline_source(self, name: str, kinds: Sequence[str],
                        provider: TimelineProvider) -> None:
        """Put entries of `kinds` on records' timelines (see `metacrm.extension.timeline`)."""

    def register_file_scanner(self, name: str, scanner: FileScanner) -> None:
        """Show every upload to `scanner` before it is stored (the antivirus hook); a
        finding refuses the upload."""


__all__ = ["ExtensionContext", "PackInfo", "PeriodicJob"]
