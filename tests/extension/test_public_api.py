"""The public extension API is exactly these names, and leads nowhere near the engine."""

from __future__ import annotations

import subprocess
import sys

import pytest

import metacrm.extension

PUBLIC = {
    "RECORD_EVENTS", "ActionCall", "ActionHandler", "AddressedChannel", "Caller",
    "ChannelProvider", "Conflict",
    "DeliveryReceipt", "DeliveryStatus", "Event", "EventHandler", "ExtRequest", "ExtResponse",
    "ExtensionContext", "ExtensionError", "FieldTypeSpec", "FileScanner", "Forbidden",
    "HttpError", "InboundMessage", "Interceptor", "MigrationContext", "NotFound",
    "OutboundMessage", "PackInfo", "Panel", "PanelLink", "PanelProvider", "PanelRequest",
    "PanelRow", "PendingSave", "PeriodicJob", "RecordList", "Records", "Refused",
    "ReportsDelivery", "RegistrationClosed", "RouteHandler", "SaveReader", "ScannedFile",
    "SettingNotDeclared", "StorageKind", "TimelineItem", "TimelineProvider", "TimelineQuery",
    "ValidationFailed",
    "Widget",
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(metacrm.extension.__all__) == PUBLIC
    assert len(metacrm.extension.__all__) == len(PUBLIC)
    for name in PUBLIC:
        assert hasattr(metacrm.extension, name), name


@pytest.mark.parametrize("name", ["engine", "Services", "connection", "RecordsService",
                                  "build_services", "create_app", "sa", "Flask"])
def test_core_objects_cannot_be_imported_from_it(name: str) -> None:
    with pytest.raises(ImportError):
        exec(f"from metacrm.extension import {name}", {})  # noqa: S102 - a literal import


def test_importing_it_loads_neither_flask_nor_sqlalchemy() -> None:
    probe = ("import sys, metacrm.extension, metacrm.extension.testing; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('flask', 'sqlalchemy', 'flask_appbuilder')))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
