"""What each SLA target of a ticket came to, stored for reports and dashboards.

The clocks are measured, not stored (`clocks`); a report cannot measure them. So every save
and every milestone tick also writes, from the same reading:

* `first_response_hours`, `resolution_hours`: the business time (the policy's calendar,
  pauses left out) from creation to the first response and to the resolution — empty until
  the target stops;
* `sla_response_result`, `sla_resolution_result`: `met` (stopped in time), `breached`
  (past its due time, stopped or not), empty while still running in time.

SLA compliance is then `met / (met + breached)` per target, an ordinary report ratio.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from metacrm.kernel.sla_clock import ClockReading
from metacrm.service_desk.clocks import TicketClocks

OUTCOME_FIELDS = {"first_response": ("first_response_hours", "sla_response_result"),
                  "resolution": ("resolution_hours", "sla_resolution_result")}
HOURS_PLACES = Decimal("0.01")


def _hours(reading: ClockReading) -> str:
    minutes = Decimal(str(round(reading.elapsed.total_seconds() / 60, 2)))
    return str((minutes / 60).quantize(HOURS_PLACES))


def outcome_fields(clocks: TicketClocks | None, has_field: Any) -> dict[str, Any]:
    """The outcome values of a ticket's clocks (None: no policy — all empty); only the
    fields `has_field(name)` says the ticket entity has (a pack without them is older)."""
    values: dict[str, Any] = {}
    readings = clocks.readings if clocks is not None else {}
    for metric, (hours_field, result_field) in OUTCOME_FIELDS.items():
        reading = readings.get(metric)
        stopped = reading is not None and reading.stopped_at is not None
        if has_field(hours_field):
            values[hours_field] = _hours(reading) if reading is not None and stopped else None
        if has_field(result_field):
            values[result_field] = (None if reading is None else "breached" if reading.breached
                                    else "met" if stopped else None)
    return values
