"""metacrm.extension — the ONE module a pack's Python code may import from metacrm.

A pack's `install(ctx: ExtensionContext)` registers its contributions through `ctx`; the
types here describe them. Nothing here leads to the database engine, a connection, Flask
or SQLAlchemy: a pack reaches records only through `ctx.records` (its service account,
through the access layer) and the core through the registrations. The names are pinned by
tests/extension/test_public_api.py; docs/extensions.md ("The extension API") describes
each. `metacrm.extension.testing` holds fakes for a pack's own unit tests.
"""

from __future__ import annotations

from metacrm.extension.actions import ActionCall, ActionHandler
from metacrm.extension.channels import (
    AddressedChannel,
    ChannelProvider,
    DeliveryReceipt,
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
    ReportsDelivery,
)
from metacrm.extension.context import ExtensionContext, PackInfo, PeriodicJob
from metacrm.extension.errors import (
    Conflict,
    ExtensionError,
    Forbidden,
    HttpError,
    NotFound,
    Refused,
    RegistrationClosed,
    SettingNotDeclared,
    ValidationFailed,
)
from metacrm.extension.events import RECORD_EVENTS, Event, EventHandler
from metacrm.extension.fields import FieldTypeSpec, StorageKind, Widget
from metacrm.extension.files import FileScanner, ScannedFile
from metacrm.extension.http import ExtRequest, ExtResponse, RouteHandler
from metacrm.extension.migrations import MigrationContext
from metacrm.extension.panels import Panel, PanelLink, PanelProvider, PanelRequest, PanelRow
from metacrm.extension.records import Caller, RecordList, Records
from metacrm.extension.saves import Interceptor, PendingSave, SaveReader
from metacrm.extension.timeline import TimelineItem, TimelineProvider, TimelineQuery

__all__ = [
    "RECORD_EVENTS",
    "ActionCall",
    "ActionHandler",
    "AddressedChannel",
    "Caller",
    "ChannelProvider",
    "Conflict",
    "DeliveryReceipt",
    "DeliveryStatus",
    "Event",
    "EventHandler",
    "ExtRequest",
    "ExtResponse",
    "ExtensionContext",
    "ExtensionError",
    "FieldTypeSpec",
    "FileScanner",
    "Forbidden",
    "HttpError",
    "InboundMessage",
    "Interceptor",
    "MigrationContext",
    "NotFound",
    "OutboundMessage",
    "PackInfo",
    "Panel",
    "PanelLink",
    "PanelProvider",
    "PanelRequest",
    "PanelRow",
    "PendingSave",
    "PeriodicJob",
    "RecordList",
    "Records",
    "Refused",
    "RegistrationClosed",
    "ReportsDelivery",
    "RouteHandler",
    "SaveReader",
    "ScannedFile",
    "SettingNotDeclared",
    "StorageKind",
    "TimelineItem",
    "TimelineProvider",
    "TimelineQuery",
    "ValidationFailed",
    "Widget",
]
