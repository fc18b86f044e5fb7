"""The HTTP API (`/api/v1`): thin Flask blueprints over the services.

Handlers parse the request, authenticate (`metacrm.identity.current`), call one service and
render the result. Every error answer is an RFC 9457 problem document
(`metacrm.api.problems`). The app factory (`metacrm.app.create_app`) registers the
blueprints; `web_runtime()` hands a handler the services the factory built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app

from metacrm.access.teams import TeamDirectory
from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.services.metadata.service import MetadataService
from metacrm.services.records.service import RecordsService
from metacrm.settings import Settings

if TYPE_CHECKING:
    from metacrm.composition import Services

API_PREFIX = "/api/v1"

RUNTIME_KEY = "metacrm"


@dataclass(frozen=True)
class WebRuntime:
    """What the app factory built for one app: settings, field types, engine, services."""

    settings: Settings
    registry: FieldTypeRegistry
    engine: sa.Engine
    metadata: MetadataService
    records: RecordsService
    teams: TeamDirectory
    services: Services


def web_runtime() -> WebRuntime:
    """The runtime of the current Flask app (set up by `create_app`)."""
    runtime: WebRuntime = current_app.extensions[RUNTIME_KEY]
    return runtime
