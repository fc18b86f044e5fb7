"""Time and cron triggers: periodic tasks the scheduler calls with `now` on every tick.

Time triggers (`event: time`): a record is due when `date_field + offset <= now` (a `date`
counts from midnight UTC). Each tick looks back at most ONE DAY — `now - 1 day < due <=
now` — so a new trigger does not fire for years-old records, and a scheduler stopped for
longer than a day skips what fell due meanwhile. Each (trigger, record, due moment) is
claimed once (`metacrm_automation_claims`, `INSERT ... ON CONFLICT DO NOTHING`), so two
schedulers ticking at once fire a due record once; a changed date makes a new due moment.
One tick submits at most 10,000 items per trigger (the rest fire on the next ticks; the cap
is logged as skipped).

Cron triggers (`event: scheduled`): the slots of the cron expression, in the trigger's time
zone, after the last claimed slot (first tick of a new trigger: the last two minutes; never
more than a day back), at most 60 per tick. Each slot is claimed once; the tick that claims
it submits one work item per record matching the condition (at most 10,000 per slot; more
is logged as skipped).

Records are found with the records repository and criteria (no SQL on record tables); the
claims and the work items commit in one transaction, then the dispatcher is nudged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from croniter import croniter

from metacrm.automation.consumer import CONSUMER_NAME
from metacrm.automation.matching import SCHEDULED_EVENT, TIME_EVENT
from metacrm.automation.service import AutomationService
from metacrm.criteria.context import CriteriaContext, Variable, resolve
from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.kernel.ids import new_id
from metacrm.kernel.jobs import EventRecord
from metacrm.metadata.model import TriggerDef
from metacrm.services.records.unit_of_work import write_transaction
from metacrm.storage import automation_runs
from metacrm.storage.automation_runs import SKIPPED, SLOT_SUBJECT, RunEntry

_log = logging.getLogger(__name__)

LOOK_BACK = timedelta(days=1)
FIRST_CRON_LOOK_BACK = timedelta(minutes=2)
MAX_SLOTS_PER_TICK = 60
MAX_RECORDS_PER_SLOT = 10_000
MAX_DUE_PER_TICK = 10_000
MAX_SCAN = 100_000
"""Records in a time trigger's window one tick reads at most."""
PAGE = 500


class WorkSubmitter(Protocol):
    """The dispatcher as the schedulers use it (`metacrm.jobs.dispatcher.Dispatcher`)."""

    def submit(
        self, conn: sa.Connection, consumer: str, target: str, event: EventRecord
    ) -> str | None: ...

    def kick(self) -> None: ...


def moment_key(moment: datetime) -> str:
    """A moment as a fixed-width UTC text: claims compare and sort these."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_moment(key: str) -> datetime:
    return datetime.strptime(key, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def shifted(moment: datetime, offset: Mapping[str, Any], sign: int = 1) -> datetime:
    """`moment` plus (sign 1) or minus (sign -1) a trigger offset ({"days": -3}...)."""
    pairs = tuple((str(unit), sign * int(amount)) for unit, amount in offset.items())
    value = resolve(Variable("$now", pairs), "datetime", CriteriaContext(None, (), moment))
    assert isinstance(value, datetime)
    return value


def as_moment(value: Any) -> datetime | None:
    """A date (midnight UTC) or datetime field value as a moment."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    return None


def _literal(moment: datetime, is_date: bool) -> str:
    return moment.date().isoformat() if is_date else datetime_to_json(moment)


class _Scheduler:
    """What the time and cron tasks share: the records they look at, submitting work."""

    def __init__(
        self, automation: AutomationService, submitter: WorkSubmitter, *, limit: int
    ) -> None:
        self.automation = automation
        self.submitter = submitter
        self.limit = limit
        """Work items one trigger submits at most per tick (time) or per slot (cron)."""

    def _records(
        self, conn: sa.Connection, trigger: TriggerDef, criteria: Any, now: datetime,
        limit: int,
    ) -> Iterator[dict[str, Any]]:
        """Records of the trigger's entity matching `criteria`, in id order, up to `limit`."""
        repository = self.automation.services.records.runtime().system
        cursor = None
        seen = 0
        while seen < limit:
            page = repository.query(conn, trigger.entity, criteria=criteria,
                                    context=CriteriaContext(None, (), now),
                                    limit=min(PAGE, limit - seen), cursor=cursor)
            for record in page.records:
                seen += 1
                yield record
            cursor = page.next_cursor
            if cursor is None:
                return

    def _submit(
        self, conn: sa.Connection, trigger: TriggerDef, event_type: str, record_id: str,
        now: datetime, extra: Mapping[str, Any],
    ) -> None:
        payload = {"version": 1, "entity": trigger.entity, "id": record_id,
                   "trigger": trigger.name, **extra}
        event = EventRecord(id=new_id(), type=event_type, entity=trigger.entity,
                            record_id=record_id, payload=payload, created_at=now)
        self.submitter.submit(conn, CONSUMER_NAME, trigger.name, event)

    def _report(self, conn: sa.Connection, trigger: TriggerDef, now: datetime,
                reason: str) -> None:
        _log.warning("trigger %r: %s", trigger.name, reason)
        automation_runs.log_run(conn, RunEntry(
            trigger=trigger.name, entity=trigger.entity, record_id=None, event_id=None,
            mode="async", status=SKIPPED, started_at=now, reason=reason))


class TimeTriggers(_Scheduler):
    """The periodic task of time triggers."""

    def __init__(
        self, automation: AutomationService, submitter: WorkSubmitter, *,
        limit: int = MAX_DUE_PER_TICK,
    ) -> None:
        super().__init__(automation, submitter, limit=limit)

    def __call__(self, now: datetime) -> None:
        fired = False
        for trigger in self.automation.matcher().triggers_of("time"):
            try:
                fired = self.fire(trigger, now) > 0 or fired
            except Exception:  # one broken trigger must not stop the others
                _log.exception("time trigger %r failed to fire", trigger.name)
        if fired:
            self.submitter.kick()

    def fire(self, trigger: TriggerDef, now: datetime) -> int:
        """Submit a work item for each record of `trigger` that fell due; how many."""
        entity = self.automation.model().entity(trigger.entity)
        if entity is None:
            return 0
        name = str(trigger.options["date_field"])
        offset: Mapping[str, Any] = trigger.options.get("offset") or {}
        fdef = entity.field(name)
        is_date = fdef is not None and fdef.type == "date"
        earliest = now - LOOK_BACK
        # the window in the field's terms, a day wider on each side (months are uneven);
        # the exact due moment is checked per record below
        window: list[Any] = [
            {"field": name, "op": "gte",
             "value": _literal(shifted(earliest, offset, -1) - timedelta(days=1), is_date)},
            {"field": name, "op": "lte",
             "value": _literal(shifted(now, offset, -1) + timedelta(days=1), is_date)},
        ]
        if trigger.condition is not None:
            window.append(trigger.condition)
        submitted = 0
        with write_transaction(self.automation.services.engine) as conn:
            due: dict[str, str] = {}
            for record in self._records(conn, trigger, {"and": window}, now, MAX_SCAN):
                base = as_moment(record.get(name))
                moment = None if base is None else shifted(base, offset)
                if moment is not None and earliest < moment <= now:
                    due[str(record["id"])] = moment_key(moment)
                if len(due) >= PAGE:
                    submitted += self._claim(conn, trigger, due, now, self.limit - submitted)
                    due = {}
                if submitted >= self.limit:
                    self._report(conn, trigger, now, (
                        f"more than {self.limit} records fell due at once; the others "
                        "fire on the next ticks"))
                    return submitted
            submitted += self._claim(conn, trigger, due, now, self.limit - submitted)
        return submitted

    def _claim(self, conn: sa.Connection, trigger: TriggerDef, due: Mapping[str, str],
               now: datetime, room: int) -> int:
        """Claim the due (record, moment) pairs not claimed yet (at most `room`) and submit
        a work item for each; how many."""
        claimed = automation_runs.claim_moments(conn, trigger.name,
                                                list(due.items())[:max(room, 0)], now)
        for record_id, due_key in sorted(claimed):
            self._submit(conn, trigger, TIME_EVENT, record_id, now, {"due": due_key})
        return len(claimed)


class CronTriggers(_Scheduler):
    """The periodic task of scheduled (cron) triggers."""

    def __init__(
        self, automation: AutomationService, submitter: WorkSubmitter, *,
        limit: int = MAX_RECORDS_PER_SLOT,
    ) -> None:
        super().__init__(automation, submitter, limit=limit)

    def __call__(self, now: datetime) -> None:
        fired = False
        for trigger in self.automation.matcher().triggers_of("scheduled"):
            try:
                fired = self.fire(trigger, now) > 0 or fired
            except Exception:
                _log.exception("scheduled trigger %r failed to fire", trigger.name)
        if fired:
            self.submitter.kick()

    def slots(self, trigger: TriggerDef, now: datetime) -> list[datetime]:
        """The cron slots to fire at `now`: after the last claimed one (or the first
        look-back), at most a day back, oldest first, at most MAX_SLOTS_PER_TICK."""
        with self.automation.services.engine.connect() as conn:
            last = automation_runs.last_claimed(conn, trigger.name, SLOT_SUBJECT)
        since = parse_moment(last) if last else now - FIRST_CRON_LOOK_BACK
        since = max(since, now - LOOK_BACK)
        zone = ZoneInfo(str(trigger.options.get("timezone") or "UTC"))
        found: list[datetime] = []
        try:
            slots = croniter(str(trigger.options["cron"]), since.astimezone(zone))
            while len(found) < MAX_SLOTS_PER_TICK:
                slot = slots.get_next(datetime).astimezone(UTC)
                if slot > now:
                    break
                found.append(slot)
        except ValueError:  # an expression no date fits (the compiler refuses those)
            return []
        return found

    def fire(self, trigger: TriggerDef, now: datetime) -> int:
        """Claim each due slot once and submit a work item per matching record."""
        submitted = 0
        for slot in self.slots(trigger, now):
            with write_transaction(self.automation.services.engine) as conn:
                key = moment_key(slot)
                if not automation_runs.claim_moments(conn, trigger.name,
                                                     [(SLOT_SUBJECT, key)], now):
                    continue  # another scheduler fired this slot
                count = 0
                for record in self._records(conn, trigger, trigger.condition, slot,
                                            self.limit + 1):
                    if count == self.limit:
                        self._report(conn, trigger, now, (
                            f"cron slot {key}: more than {self.limit} records match; only "
                            f"the first {self.limit} (by id) run"))
                        break
                    self._submit(conn, trigger, SCHEDULED_EVENT, str(record["id"]), now,
                                 {"slot": key})
                    count += 1
                submitted += count
        return submitted
