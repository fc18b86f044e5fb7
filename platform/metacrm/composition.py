"""The composition root shared by every process: settings -> adapters -> services.

The web app (`metacrm.app.create_app`), the RQ worker and the scheduler (`metacrm worker`,
`metacrm scheduler`) all build the same `Services` here, so a work item runs with the same
metadata, access rules, consumers and actions wherever it runs. Features install themselves
(`FEATURES`: each module's `install(services)` registers its consumers, actions, periodic
tasks and service objects; `METACRM_EXTENSIONS` adds in-tree modules of the same kind).
Extension packs do not get `Services`: the pack host (`services.packs`,
`metacrm.extension_host`) loads each installed pack's `install(ctx)` with the narrow
`metacrm.extension` context and adds its contributions to the same registries.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

import sqlalchemy as sa

from metacrm.access.teams import TeamDirectory
from metacrm.automation.actions import ActionRegistry
from metacrm.automation.service import AutomationService
from metacrm.documents.mass_print import MassPrintService
from metacrm.documents.service import DocumentService
from metacrm.email.install import EmailFeature
from metacrm.extension_host import HostCore, PackHost, PackSource
from metacrm.extension_host.migration_steps import run_migration_step
from metacrm.extension_host.timeline import PackTimelineSource
from metacrm.fieldtypes import FieldTypeRegistry, default_registry
from metacrm.files.service import FileService
from metacrm.identity.subjects import SubjectDirectory
from metacrm.imports.service import ImportService
from metacrm.jobs.dispatcher import Dispatcher, RelayListener
from metacrm.jobs.duplicate_scans import DuplicateScans
from metacrm.kernel.clock import Clock, utc_now
from metacrm.kernel.jobs import ConsumerRegistry, JobQueue, MailChannel
from metacrm.kernel.users import UserDirectory
from metacrm.mail import mail_channel
from metacrm.marketing.install import Marketing
from metacrm.marketing.mailings.service import MailingService
from metacrm.notifications.service import NotificationService
from metacrm.packs.lifecycle import PackLifecycle
from metacrm.packs.stored_packs import StoredPacks
from metacrm.reports.dashboards import DashboardService
from metacrm.reports.service import ReportService
from metacrm.reports.snapshots import ReportSnapshots
from metacrm.service_desk.clocks import SlaClocks
from metacrm.service_desk.replies import CustomerReplies
from metacrm.service_desk.surveys import Surveys
from metacrm.services.channels.registry import ChannelRegistry
from metacrm.services.conversion.service import ConversionService
from metacrm.services.metadata.service import MetadataService
from metacrm.services.records.service import RecordsService
from metacrm.services.timeline.service import TimelineService
from metacrm.services.transitions.service import TransitionService
from metacrm.settings import Settings
from metacrm.storage.engine import create_database_engine
from metacrm.storage.periodic_slots import claim_period
from metacrm.telephony.install import TelephonyFeature
from metacrm.webhooks.service import WebhookService

T = TypeVar("T")

FEATURES: tuple[str, ...] = (
    "metacrm.services.transitions.service",
    "metacrm.services.conversion.service",
    "metacrm.services.timeline.service",
    "metacrm.computed.install",
    "metacrm.services.calendar.due_moments",
    "metacrm.automation.install",
    "metacrm.webhooks.install",
    "metacrm.notifications.install",
    "metacrm.reports.service",
    "metacrm.reports.snapshots",
    "metacrm.reports.dashboards",
    "metacrm.reports.subscriptions",
    "metacrm.imports.install",
    "metacrm.files.install",
    "metacrm.documents.install",
    "metacrm.email.install",
    "metacrm.telephony.install",
    "metacrm.jobs.duplicate_scans",
    "metacrm.service_desk.install",
    "metacrm.marketing.install",
    "metacrm.marketing.mailings.install",
)
"""Modules whose `install(services)` wires a core feature, in order (later ones may use
what earlier ones registered)."""

PeriodicTask = Callable[[datetime], None]
"""Run by the scheduler on every tick with the current time (time-based triggers, cron
triggers, the sweeper); must be safe with several schedulers running."""


@dataclass
class Services:
    """Everything a process works with, built once per process."""

    settings: Settings
    registry: FieldTypeRegistry
    engine: sa.Engine
    metadata: MetadataService
    teams: TeamDirectory
    records: RecordsService
    clock: Clock = utc_now
    """The process's one clock (`metacrm.kernel.clock`); components take `now`."""
    consumers: ConsumerRegistry = field(default_factory=ConsumerRegistry)
    periodic: dict[str, PeriodicTask] = field(default_factory=dict)
    channels: ChannelRegistry = field(default_factory=ChannelRegistry)
    """Channel providers and record senders by channel type (`metacrm.services.channels.registry`);
    the packs' providers are asked after the core's."""

    dispatcher: Dispatcher = field(init=False, repr=False, compare=False)
    """Relays outbox events to work items and runs them (`metacrm.jobs.dispatcher`); set
    by `install_jobs` (`build_services`), with `dispatcher.queue` the process's job queue."""
    subjects: SubjectDirectory = field(init=False, repr=False, compare=False)
    """Access subjects of users by id, for work done on their behalf (webhook owners)."""
    packs: PackHost = field(init=False, repr=False, compare=False)
    """The installed extension packs' contributions in this process (`install_packs`)."""
    transitions: TransitionService = field(init=False, repr=False, compare=False)
    """Pipeline transitions (`metacrm.services.transitions.service`)."""
    conversion: ConversionService = field(init=False, repr=False, compare=False)
    """Lead conversion (`metacrm.services.conversion.service`)."""
    automation: AutomationService = field(init=False, repr=False, compare=False)
    """Triggers, their actions registry, runs log and dry runs (`metacrm.automation`)."""
    webhooks: WebhookService = field(init=False, repr=False, compare=False)
    """Webhook subscriptions and deliveries (`metacrm.webhooks`)."""
    notifications: NotificationService = field(init=False, repr=False, compare=False)
    """In-app notifications, reminders and digests (`metacrm.notifications`)."""
    files: FileService = field(init=False, repr=False, compare=False)
    """Attachments and file fields over the instance's file store (`metacrm.files`)."""
    documents: DocumentService = field(init=False, repr=False, compare=False)
    """PDF documents rendered from templates in the job queue (`metacrm.documents`)."""
    email: EmailFeature = field(init=False, repr=False, compare=False)
    telephony: TelephonyFeature | None = field(default=None, repr=False, compare=False)
    """SMS and calls (`metacrm.telephony`); None without a Twilio-compatible account."""
    """Mailboxes, email sent from records and mail received (`metacrm.email`)."""
    mass_print: MassPrintService = field(init=False, repr=False, compare=False)
    """One template's PDFs of many records in one ZIP (`metacrm.documents.mass_print`)."""
    duplicate_scans: DuplicateScans = field(init=False, repr=False, compare=False)
    """Scans for duplicate groups in existing records, run as jobs (`metacrm.jobs`)."""
    imports: ImportService = field(init=False, repr=False, compare=False)
    """File imports: mappings, dry runs, resumable runs, revert (`metacrm.imports`)."""
    reports: ReportService = field(init=False, repr=False, compare=False)
    """Reports compiled from metadata, run within a user's rights (`metacrm.reports`)."""
    report_snapshots: ReportSnapshots = field(init=False, repr=False, compare=False)
    """Reports' scheduled snapshots (task `reports.snapshots`) and their reading."""
    dashboards: DashboardService = field(init=False, repr=False, compare=False)
    """Dashboards of the metadata: report widgets run with dashboard-wide filters."""
    service_desk: SlaClocks = field(init=False, repr=False, compare=False)
    """Tickets' SLA clocks as a user may read them (`metacrm.service_desk`)."""
    surveys: Surveys = field(init=False, repr=False, compare=False)
    """Satisfaction surveys of resolved tickets (`metacrm.service_desk.surveys`)."""
    ticket_replies: CustomerReplies = field(init=False, repr=False, compare=False)
    """What a customer's reply does to a ticket: the inbound mail handler's seam
    (`metacrm.service_desk.replies`)."""
    marketing: Marketing = field(init=False, repr=False, compare=False)
    """Segments, the consent ledger and campaigns (`metacrm.marketing`)."""
    mailings: MailingService = field(init=False, repr=False, compare=False)
    """Mass mailings: actions, tracking routes, bounce reports (`metacrm.marketing.mailings`)."""
    timeline: TimelineService = field(init=False, repr=False, compare=False)
    """Records' activity feeds and their sources (`metacrm.services.timeline.service`)."""
    mail: MailChannel | None = field(default=None, repr=False, compare=False)
    """Outgoing mail (`metacrm.mail`): SMTP from `settings.smtp_url`, or the outbox in the
    instance folder when `settings.mail_outbox` (the demo); None otherwise, and senders
    then fail with "METACRM_SMTP_URL is not set" (`metacrm.mail.require_mail`)."""

    def now(self) -> datetime:
        """The time by `clock` — also after `clock` is replaced (a test moving time)."""
        return self.clock()

    def close(self) -> None:
        """Release the database connections (the process or the test is done)."""
        self.metadata.close()
        self.engine.dispose()


def build_services(settings: Settings | None = None, *,
                   pack_source: Callable[[Services], PackSource] | None = None) -> Services:
    """Build and install everything for `settings` (default: the environment); the packs
    `pack_source(services)` names are loaded last (default: `installed_pack_source`)."""
    settings = settings or Settings.from_env()
    settings.ensure_instance()
    registry = default_registry()
    engine = create_database_engine(settings.database_url)
    metadata: MetadataService | None = None
    try:
        metadata = MetadataService(engine, registry)
        metadata.initialize()
        metadata.watch_versions()
        teams = TeamDirectory(engine)
        teams.initialize()
        services: Services  # the records service reads the one clock, late-bound
        records = RecordsService(engine, metadata, registry, teams,
                                 clock=lambda: services.clock())
        services = Services(
            settings=settings, registry=registry, engine=engine, metadata=metadata,
            teams=teams, records=records,
        )
        install_jobs(services)
        services.mail = mail_channel(settings, services.now)
        for module in (*FEATURES, *settings.extensions):
            install_module(module, services)
        registry.close()
        install_packs(services, (pack_source or installed_pack_source)(services))
        services.channels.pack_provider = services.packs.channel_provider
        services.channels.pack_channels = services.packs.channels
        return services
    except BaseException:
        if metadata is not None:
            metadata.close()
        engine.dispose()
        raise


def install_module(module: str, services: Services) -> None:
    """Import `module` and call its `install(services)`; errors name the module."""
    try:
        loaded = importlib.import_module(module)
    except ImportError as exc:
        raise ValueError(f"cannot import extension module {module!r}: {exc}") from exc
    install = getattr(loaded, "install", None)
    if not callable(install):
        raise ValueError(f"module {module!r} has no install(services) function")
    install(services)


def installed_pack_source(services: Services) -> PackSource:
    """Where this process learns which packs are installed: the packs store (its
    `installed_packs` and `pack_generation`, read on `services.engine`)."""
    return StoredPacks(services.engine, services.settings.effective_secret_key())


def pack_lifecycle(services: Services) -> PackLifecycle:
    """The pack lifecycle of this process (the CLI's `metacrm pack` commands, `init`, the
    designer's Packs page): the pack host checks a pack's code and conflicts before it is
    installed, and this process reloads its packs at once after a change."""
    return PackLifecycle(services.metadata, services.registry,
                         secret_key=services.settings.effective_secret_key(),
                         metadata_roots=services.settings.metadata_paths,
                         host_check=services.packs.check_installable,
                         on_change=services.packs.reload,
                         python_steps=run_migration_step)


def install_packs(services: Services, source: PackSource | None) -> PackHost:
    """The pack host over `source`, with the packs installed now loaded. Each process
    then calls `services.packs.refresh()` before a request, a job or a scheduler tick."""

    def actions() -> ActionRegistry | None:
        automation: AutomationService | None = getattr(services, "automation", None)
        return None if automation is None else automation.actions

    services.packs = PackHost(
        HostCore(records=services.records, field_types=services.registry,
                 consumers=services.consumers, periodic=services.periodic, actions=actions,
                 claim_period=partial(claim_period, services.engine)),
        source)
    services.timeline.sources.unregister(PackTimelineSource.name)
    services.timeline.sources.register(PackTimelineSource(services.packs.timeline_sources))
    services.packs.refresh()
    return services.packs


def job_queue(settings: Settings, dispatcher: Dispatcher) -> JobQueue:
    """RQ on `settings.redis_url`, else the inline queue (items run in this process)."""
    if settings.redis_url:
        from metacrm.jobs.rq_queue import RqJobQueue

        return RqJobQueue(settings.redis_url, job_timeout=settings.job_lease_seconds)
    return dispatcher.queue


def install_jobs(services: Services) -> None:
    """The dispatcher with the queue `settings` pick; every write command's events are
    relayed to work items inside its transaction and the items handed to the queue after
    its commit (inline: run right then, in the committing thread; RQ: enqueued at once —
    the scheduler's relay and sweeper catch anything missed); and the subject directory."""
    settings = services.settings
    dispatcher = Dispatcher(
        services.engine, services.consumers, clock=lambda: services.clock(),
        lease=timedelta(seconds=settings.job_lease_seconds),
    )
    dispatcher.queue = job_queue(settings, dispatcher)
    services.dispatcher = dispatcher
    services.records.listeners.append(RelayListener(dispatcher))
    services.periodic["jobs.retention"] = dispatcher.forget_finished
    services.subjects = SubjectDirectory(services.engine, services.metadata, services.teams,
                                         fab_user_directory())


def fab_user_directory() -> UserDirectory:
    """The user directory of Flask-AppBuilder's tables, imported only when a process builds
    its services: importing the CLI, automation or webhooks never loads Flask-AppBuilder."""
    from metacrm.identity.fab_directory import FabUserDirectory

    return FabUserDirectory()
