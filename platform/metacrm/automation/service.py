"""The automation service: the actions registry, the trigger matcher of the live metadata,
running a trigger inside a chain, the runs log and the dry run.

`services.automation` is this object; the sync listener, the `trigger` consumer
and the time and cron tasks all run triggers through `run_in`, so every run is done the same
way: as the automation subject, with the chain stamped on the events its actions produce.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.automation.actions import ActionRegistry
from metacrm.automation.chain import DEFAULT_DEPTH_LIMIT, EventChain
from metacrm.automation.matching import TriggerMatcher
from metacrm.automation.runner import ActionRunner, RunTarget
from metacrm.kernel.errors import ErrorDetail, Forbidden, ValidationFailed
from metacrm.metadata.model import CompiledModel, TriggerDef
from metacrm.services.records.event_chain import chain_scope
from metacrm.storage import automation_runs
from metacrm.storage.automation_runs import STATUSES, RunEntry
from metacrm.storage.system_tables import ID_LENGTH

if TYPE_CHECKING:
    from metacrm.composition import Services

MAX_RUNS_LIMIT = 200
DEFAULT_RUNS_LIMIT = 50


class AutomationService:
    """What the automation feature offers the rest of the process."""

    def __init__(
        self, services: Services, actions: ActionRegistry, *,
        depth_limit: int = DEFAULT_DEPTH_LIMIT,
    ) -> None:
        self.services = services
        self.actions = actions
        self.depth_limit = depth_limit
        self.runner = ActionRunner(services, actions)
        self._lock = threading.Lock()
        self._matcher: tuple[int, TriggerMatcher] | None = None

    # --- the live triggers ----------------------------------------------------------------

    def now(self) -> datetime:
        return self.services.clock()

    def model(self) -> CompiledModel:
        return self.services.records.runtime().model

    def matcher(self) -> TriggerMatcher:
        """The matcher of the live metadata version (rebuilt when it changes)."""
        runtime = self.services.records.runtime()
        cached = self._matcher
        if cached is not None and cached[0] == runtime.number:
            return cached[1]
        with self._lock:
            if self._matcher is None or self._matcher[0] != runtime.number:
                self._matcher = (runtime.number,
                                 TriggerMatcher(runtime.model, self.services.registry))
            return self._matcher[1]

    # --- running --------------------------------------------------------------------------

    def run_in(
        self, conn: sa.Connection, trigger: TriggerDef, target: RunTarget,
        chain: EventChain, *, now: datetime,
    ) -> list[dict[str, Any]]:
        """Run the trigger's actions on `conn`, the events they produce carrying the chain
        one run deeper. Raises `ActionFailed` when an action fails."""
        child = chain.child(trigger.name, target.record_id)
        with chain_scope(child.to_json()):
            return self.runner.run(conn, trigger, target, now=now)

    # --- the runs log ---------------------------------------------------------------------

    def require_admin(self, subject: AccessSubject) -> None:
        if not self.services.records.runtime().policy.is_admin(subject):
            raise Forbidden("only administrators may see and test automation",
                            [ErrorDetail("needs an admin role", "")])

    def runs(
        self, subject: AccessSubject, *, trigger: str | None = None,
        record_id: str | None = None, status: str | None = None,
        limit: int = DEFAULT_RUNS_LIMIT, cursor: str | None = None,
    ) -> tuple[list[RunEntry], str | None]:
        """A page of the runs log, newest first, and the cursor of the next page."""
        self.require_admin(subject)
        errors: list[ErrorDetail] = []
        if status is not None and status not in STATUSES:
            errors.append(ErrorDetail(f"must be one of: {', '.join(STATUSES)}", "/status"))
        if isinstance(limit, bool) or not 1 <= limit <= MAX_RUNS_LIMIT:
            errors.append(ErrorDetail(f"must be a whole number from 1 to {MAX_RUNS_LIMIT}",
                                      "/limit"))
        before = None
        if cursor is not None:
            before = decode_cursor(cursor)
            if before is None:
                errors.append(ErrorDetail("is not a cursor of this listing", "/cursor"))
        if errors:
            raise ValidationFailed("invalid runs listing", errors)
        with self.services.engine.connect() as conn:
            found = automation_runs.list_runs(conn, trigger=trigger, record_id=record_id,
                                              status=status, limit=limit + 1,
                                              before_id=before)
        if len(found) > limit:
            found = found[:limit]
            return found, encode_cursor(found[-1].id)
        return found, None

    def test(
        self, subject: AccessSubject, name: str, record_id: Any,
        previous: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Try trigger `name` on a record without changing anything (see `dry_run`)."""
        from metacrm.automation.dry_run import dry_run

        self.require_admin(subject)
        return dry_run(self, name, record_id, previous)


def encode_cursor(run_id: str) -> str:
    return base64.urlsafe_b64encode(run_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str | None:
    """The run id a cursor continues after; None for anything this listing did not make."""
    if not cursor or len(cursor) > 2 * ID_LENGTH:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return text if len(text) == ID_LENGTH and text.isascii() else None
