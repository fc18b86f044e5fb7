"""Load the demo data set into a database that has the shipped packs applied.

`seed_database(settings)` builds the web app (users, roles and password hashing belong to
Flask-AppBuilder; the records, transitions and conversion services are the app's own, built
by `metacrm.composition.build_services`) and — only when none of the data set's entities has a
record yet — creates the missing demo teams and users and writes the records
(`RecordSeeder`, one transaction). A second run finds the records and writes nothing:
loading is idempotent, and a database in use never gets users with the demo password.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.composition import Services
from metacrm.identity.roles import admin_roles
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.seeding.accounts import ensure_accounts
from metacrm.seeding.dataset import DemoData, read_demo_data
from metacrm.seeding.records import RecordSeeder
from metacrm.seeding.values import SeedContext
from metacrm.settings import Settings


@dataclass(frozen=True, slots=True)
class DemoLoad:
    """What a load did."""

    loaded: bool
    """True when the records were written now; False when the database had some already."""
    created_users: tuple[str, ...]
    counts: Mapping[str, int]
    """Records per entity of the data set after the load (triggers' records included)."""
    seconds: float


def seed_database(settings: Settings, *, data: DemoData | None = None,
                  today: date | None = None, **app_config: Any) -> DemoLoad:
    """Load `data` (default: the shipped `seed/`) into the database of `settings`; dates
    are offsets from `today` (default: today, UTC). `app_config` goes to `create_app`."""
    from metacrm.api import RUNTIME_KEY
    from metacrm.app import create_app, dispose_app
    from metacrm.identity.bridge import identity_state

    started = time.perf_counter()
    data = data or read_demo_data()
    app = create_app(settings, **app_config)
    try:
        services: Services = app.extensions[RUNTIME_KEY].services
        model = services.metadata.live().model
        _check_entities(data, model.entities)
        overseer = AccessSubject(None, "metacrm demo", tuple(admin_roles(model)))
        counts = count_records(services, overseer, data.entities)
        if any(counts.values()):  # a database in use: no demo users with a known password
            return DemoLoad(False, (), counts, time.perf_counter() - started)
        with app.app_context():
            state = identity_state()
            accounts = ensure_accounts(state.appbuilder, model, services.teams, data)
        subjects = {}
        for username, user_id in accounts.user_ids.items():
            subject = services.subjects.subject_of(user_id)
            if subject is None:
                raise ValidationFailed(f"demo user {username!r} is deactivated", [
                    ErrorDetail("activate the user or reset the demo database", "/users")])
            subjects[username] = subject
        context = SeedContext(today or services.clock().date(), dict(accounts.user_ids))
        RecordSeeder(services, subjects, context).seed_all(data.records)
        counts = count_records(services, overseer, data.entities)
        return DemoLoad(True, accounts.created, counts, time.perf_counter() - started)
    finally:
        dispose_app(app)


def count_records(services: Services, subject: AccessSubject,
                  entities: Sequence[str]) -> dict[str, int]:
    """How many records each entity has (as `subject` may see them)."""
    return {entity: services.records.list(subject, entity, limit=1).count
            for entity in entities}


def _check_entities(data: DemoData, known: Mapping[str, Any]) -> None:
    missing = [entity for entity in data.entities if entity not in known]
    if missing:
        raise ValidationFailed(
            "the demo data needs entities the metadata does not declare: "
            f"{', '.join(missing)} (apply the shipped packs first: metacrm init)",
            [ErrorDetail(f"unknown entity {entity!r}", "/entities") for entity in missing])
