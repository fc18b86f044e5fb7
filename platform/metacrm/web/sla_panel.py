"""The "Service level" panel of a ticket's record page: each SLA clock as the viewer may
know it (the ticket as shown to them; no panel when its SLA fields are hidden)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from metacrm.kernel.sla_clock import ClockReading
from metacrm.service_desk.clocks import TICKET
from metacrm.web.context import services
from metacrm.web.i18n import format_datetime, t
from metacrm.web.pack_panels import PanelView


def _duration(delta: timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    return t("{hours} h {minutes} min", hours=minutes // 60, minutes=minutes % 60)


def _state(reading: ClockReading) -> str:
    if reading.stopped_at is not None and not reading.breached:
        return t("met at {time}", time=format_datetime(reading.stopped_at))
    if reading.breached:
        return t("breached: was due {time}, {overdue} over",
                 time=format_datetime(reading.due), overdue=_duration(reading.remaining))
    if reading.paused:
        return t("paused, {remaining} left", remaining=_duration(reading.remaining))
    return t("due {time}, {remaining} left", time=format_datetime(reading.due),
             remaining=_duration(reading.remaining))


def sla_panels(entity: str, record: Mapping[str, Any]) -> list[PanelView]:
    """The panel of a ticket's page (none for other records or tickets without clocks)."""
    if entity != TICKET:
        return []
    clocks = services().services.service_desk.of_record(record)
    if clocks is None:
        return []
    names = {"first_response": t("First response"), "resolution": t("Resolution")}
    rows = [(names.get(metric, metric), _state(reading))
            for metric, reading in clocks.readings.items()]
    rows.append((t("Paused so far"), _duration(max(
        (r.paused_for for r in clocks.readings.values()), default=timedelta(0)))))
    return [PanelView(pack="service", title=t("Service level"), rows=tuple(rows), links=())]
