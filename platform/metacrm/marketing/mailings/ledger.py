"""The recipient rows of a mailing as its send ledger.

A row goes `queued` → `sending` (claimed: committed BEFORE the SMTP send) → `sent`, or to
`skipped` (its `skip_reason`: no email, a duplicate address, cancelled, or why the
consent ledger refused it at send time — no consent, unsubscribed, bounced...), `failed` (the server
refused it), later `bounced` / `complained`. The claim is an update at the version the
row was read at, so of two workers only one wins a row.

The crash window: a worker killed after the claim and before recording `sent` leaves a
row `sending`; whether the server accepted the message is unknown. Such rows are NOT
sent again: on resume, rows `sending` for longer than the lease become `failed` with
"interrupted — may have been sent" (at most once). A second copy of a marketing message
is the worse failure — it is what recipients report as spam — while one missed message
in a crash is visible on the row and in the counters.

Rows are claimed, and their outcomes recorded, a group at a time (`GROUP`, one
transaction each way) rather than one by one: with two commits per message, the
done-when test's 2,400 sends on SQLite spent most of their time waiting on commits (about
0.1 s a recipient, a fifth of it CPU). So a crash leaves at most one group per worker in
doubt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from metacrm.kernel.errors import StaleRecord
from metacrm.services.records.service import RecordsService

MAILING = "mailing"
RECIPIENT = "mailing_recipient"
ACTOR = "mailing:sender"
INTERRUPTED = "interrupted after it was claimed: it may have been sent, so it is not sent again"
GROUP = 20
"""Rows claimed (and recorded) per transaction: the most a crash leaves in doubt."""
EXACT = 10_000_000
"""Counters are exact: a mailing's rows are counted by its indexed `mailing` column."""
COUNTED = ("sent", "skipped", "failed", "bounced", "complained")


def _and(*leaves: Mapping[str, Any]) -> dict[str, Any]:
    return {"and": list(leaves)}


def _eq(field: str, value: Any) -> dict[str, Any]:
    return {"field": field, "op": "eq", "value": value}


class RecipientLedger:
    def __init__(self, records: RecordsService, clock: Callable[[], datetime]) -> None:
        self.records = records
        self.clock = clock

    def _system(self) -> Any:
        return self.records.runtime().system

    def add(self, conn: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        """Write recipient rows inside the caller's transaction (the mailing's start)."""
        for start in range(0, len(rows), 500):
            self._system().insert_many(conn, RECIPIENT, rows[start:start + 500],
                                       actor=ACTOR, trusted=True)

    def queued(self, mailing_id: str, variants: Sequence[str], limit: int
               ) -> list[dict[str, Any]]:
        criteria = _and(_eq("mailing", mailing_id), _eq("status", "queued"),
                        {"field": "variant", "op": "in", "value": list(variants)})
        with self.records.engine.connect() as conn:
            return [dict(row) for row in self._system().query(
                conn, RECIPIENT, criteria=criteria, limit=limit).records]

    def claim(self, row: Mapping[str, Any]) -> bool:
        """Take a queued row for sending; False when another worker took it first."""
        return bool(self.claim_many([row]))

    def claim_many(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Take queued rows for sending in one transaction; the ones another worker took
        first are left out of the answer."""
        claimed: list[dict[str, Any]] = []
        now = self.clock()
        with self.records.transaction() as conn:
            for row in rows:
                try:
                    claimed.append(dict(self._system().update(
                        conn, RECIPIENT, str(row["id"]), {"status": "sending",
                                                          "claimed_at": now},
                        actor=ACTOR, trusted=True, expected_version=int(row["version"]))))
                except StaleRecord:
                    continue
        return claimed

    def mark(self, recipient_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        with self.records.transaction() as conn:
            return dict(self._system().update(conn, RECIPIENT, recipient_id, dict(changes),
                                              actor=ACTOR, trusted=True))

    def mark_many(self, outcomes: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Record several rows' outcomes in one transaction."""
        if not outcomes:
            return
        with self.records.transaction() as conn:
            for recipient_id, changes in outcomes:
                self._system().update(conn, RECIPIENT, recipient_id, dict(changes),
                                      actor=ACTOR, trusted=True)

    def get(self, recipient_id: str) -> dict[str, Any] | None:
        with self.records.engine.connect() as conn:
            row = self._system().get(conn, RECIPIENT, recipient_id)
        return dict(row) if row is not None else None

    def by_message_id(self, message_id: str) -> dict[str, Any] | None:
        with self.records.engine.connect() as conn:
            page = self._system().query(conn, RECIPIENT,
                                        criteria=_eq("message_id", message_id), limit=1)
        return dict(page.records[0]) if page.records else None

    def fail_interrupted(self, mailing_id: str, lease: timedelta) -> int:
        """Rows left `sending` by a worker that died become `failed` (see the docstring)."""
        before = self.clock() - lease
        criteria = _and(_eq("mailing", mailing_id), _eq("status", "sending"),
                        {"field": "claimed_at", "op": "lt", "value": before.isoformat()})
        with self.records.engine.connect() as conn:
            rows = self._system().query(conn, RECIPIENT, criteria=criteria, limit=500).records
        for row in rows:
            self.mark(str(row["id"]), {"status": "failed", "error": INTERRUPTED})
        return len(rows)

    def count(self, mailing_id: str, *extra: Mapping[str, Any]) -> int:
        with self.records.engine.connect() as conn:
            found = self._system().count(conn, RECIPIENT, exact_up_to=EXACT,
                                         criteria=_and(_eq("mailing", mailing_id), *extra))
        return int(found.value)

    def counters(self, mailing_id: str) -> dict[str, int]:
        """The mailing's counters, counted from its rows (so they are never out of step)."""
        counts = {f"{status}_count": self.count(mailing_id, _eq("status", status))
                  for status in COUNTED}
        # bounced and complained messages were sent too
        counts["sent_count"] += counts["bounced_count"] + counts["complained_count"]
        counts["recipients_count"] = self.count(mailing_id)
        counts["opened_count"] = self.count(
            mailing_id, {"field": "opened_at", "op": "is_null", "value": False})
        counts["clicked_count"] = self.count(
            mailing_id, {"field": "clicked_at", "op": "is_null", "value": False})
        return counts

    def skipped_by_reason(self, mailing_id: str) -> dict[str, int]:
        """How many rows were skipped for each reason (only reasons that occur), in the
        order of the `skip_reason` picklist; one count per reason, and none at all while
        nothing was skipped."""
        if not self.count(mailing_id, _eq("status", "skipped")):
            return {}
        definition = self.records.runtime().model.entity(RECIPIENT)
        field = definition.field("skip_reason") if definition is not None else None
        reasons = field.choice_values if field is not None else ()
        counts = {reason: self.count(mailing_id, _eq("status", "skipped"),
                                     _eq("skip_reason", reason)) for reason in reasons}
        return {reason: count for reason, count in counts.items() if count}

    def variant_counts(self, mailing_id: str, variant: str) -> tuple[int, int, int]:
        """(sent, opened, clicked) of one A/B variant."""
        is_variant = _eq("variant", variant)
        sent = self.count(mailing_id, is_variant, {"field": "status", "op": "in", "value": [
            "sent", "bounced", "complained"]})
        opened = self.count(mailing_id, is_variant,
                            {"field": "opened_at", "op": "is_null", "value": False})
        clicked = self.count(mailing_id, is_variant,
                             {"field": "clicked_at", "op": "is_null", "value": False})
        return sent, opened, clicked
