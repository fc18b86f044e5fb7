"""A metacrm app for webhook tests: a small deal model, users with emails, a movable clock.

Deals move through the pipeline `deal_flow` (open -> won by `win`). Roles: `boss` (admin);
`rep` — deals of their own, `margin` hidden; `eu_viewer` — reads every deal whose region is
eu; `stage_blind` — reads every deal, `stage` hidden. The app is built with `create_app`
(so users live in the identity tables the subject directory reads); its `Services` run work
items inline, in the test process, right after each commit. `WebhookWorld.tick()` is the
scheduler's sweep: retries run when the (movable) clock says they are due.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.api import web_runtime
from metacrm.composition import Services
from metacrm.identity.bridge import identity_state
from metacrm.identity.users import create_user
from metacrm.storage import work_item_store
from metacrm.storage.system_tables import work_items
from metacrm.webhooks.attempts import Attempt, for_event
from metacrm.webhooks.service import WebhookService
from web_harness import PASSWORD, Web, open_web, role

LABEL = {"en": "Deal", "ru": "Сделка"}
REGIONS = [{"value": "eu", "label": LABEL}, {"value": "us", "label": LABEL}]


def field(name: str, type_name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_name, "label": LABEL, **options}


DEAL = {
    "kind": "entity", "name": "deal", "version": 1, "label": LABEL,
    "fields": [field("title", "text", required=True, indexed=True),
               field("amount", "decimal", indexed=True),
               field("margin", "decimal"),
               field("region", "picklist", choices=REGIONS),
               field("stage", "state", pipeline="deal_flow")],
}
DEAL_FLOW = {
    "kind": "pipeline", "name": "deal_flow", "version": 1, "label": LABEL, "entity": "deal",
    "states": [{"name": "open", "label": LABEL}, {"name": "won", "label": LABEL}],
    "transitions": [{"name": "win", "label": LABEL, "from": ["open"], "to": "won"}],
}
OWN = {"read": "own", "create": "all", "update": "own", "delete": "own"}
DOCUMENTS = (
    DEAL,
    DEAL_FLOW,
    role("boss", admin=True),
    role("rep", entities={"deal": {**OWN, "fields": {"margin": "hidden"}}}),
    role("eu_viewer", entities={"deal": {
        "read": "all", "rules": [{"field": "region", "op": "eq", "value": "eu"}]}}),
    role("stage_blind", entities={"deal": {"read": "all", "fields": {"stage": "hidden"}}}),
)


class MovableClock:
    """The Services clock of a test: real time plus an offset the test moves."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.offset += delta


class WebhookWorld:
    def __init__(self, web: Web) -> None:
        self.web = web
        with web.app.app_context():
            self.services: Services = web_runtime().services
        self.clock = MovableClock()
        self.services.clock = self.clock
        self.boss = self.user("root", "boss")

    @property
    def engine(self) -> sa.Engine:
        return self.services.engine

    @property
    def webhooks(self) -> WebhookService:
        return self.services.webhooks

    def user(self, name: str, role_name: str, email: str | None = None) -> AccessSubject:
        with self.web.app.app_context():
            state = identity_state()
            created = create_user(state.appbuilder, state.metadata.live().model,
                                  username=name, role=role_name, password=PASSWORD,
                                  email=email)
        subject = self.services.subjects.subject_of(str(created.id))
        assert subject is not None
        return subject

    def create_deal(self, subject: AccessSubject, **values: Any) -> dict[str, Any]:
        return self.services.records.create(subject, "deal", {"title": "Deal", **values})

    def subscribe(self, subject: AccessSubject, url: str, **body: Any) -> dict[str, Any]:
        """A subscription of `subject`; it pins payload format 1 (the format the delivery
        tests were written against) unless the test passes `payload_version`."""
        return self.webhooks.create(subject, {"url": url, "payload_version": 1, **body})

    def tick(self) -> int:
        """One sweep: runs the items that are due now (inline)."""
        return self.services.dispatcher.sweep_once()

    def attempts(self, webhook_id: str, event_id: str) -> list[Attempt]:
        with self.engine.connect() as conn:
            return for_event(conn, webhook_id, event_id)

    def items(self, webhook_id: str) -> list[work_item_store.WorkItemRow]:
        with self.engine.connect() as conn:
            ids = conn.execute(sa.select(work_items.c.id).where(
                work_items.c.consumer == "webhook", work_items.c.target == webhook_id)
                .order_by(work_items.c.id)).scalars().all()
            return [item for item in (work_item_store.get(conn, i) for i in ids) if item]


@contextmanager
def webhook_world(
    database_url: str, root: Path, *, documents: Sequence[Mapping[str, Any]] = DOCUMENTS,
    **settings: Any,
) -> Iterator[WebhookWorld]:
    """The app on `database_url` with the deal model (or `documents`); private targets
    allowed unless the test says otherwise; the first retry waits one second."""
    settings.setdefault("webhook_allow_private", True)
    settings.setdefault("webhook_retry_first_seconds", 1.0)
    settings.setdefault("rate_limit", "100000 per minute")
    with open_web(database_url, root, roles=documents, settings_changes=settings) as web:
        yield WebhookWorld(web)
