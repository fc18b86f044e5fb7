"""Install, upgrade and uninstall packs — previewed as a `PackPlan`, applied all or nothing.

A change is worked out once (`_Change`): which packs are installed, upgraded or removed
(dependencies resolved with `packaging`), the new *baseline* — the documents of every pack
installed afterwards plus each pack's generated service-account role `pack_<name>` — the
data migrations to run and the settings each pack ends up with. Previewing shows that with
the metadata service's migration plan; applying hands the baseline to
`MetadataService.rebase_onto`, whose `within` callback writes the pack rows, the settings and
runs the data migrations in the SAME transaction as the schema migration and the new metadata
version: a failing data-migration step leaves no pack row, no version, no column behind.

Upgrading is not uninstall + install: the pack's tables stay and change in place, its
settings carry over (new keys get their defaults), `migrations/<v>/` run for every v with
old < v <= new. Uninstalling takes the pack's documents out of the baseline, so its tables
and columns are archived (`arch_v<n>_...`, never dropped — the plan lists them), its role,
triggers, views, settings and row go, and so do webhook subscriptions and saved views on the
entities it removed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from packaging.version import Version

from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import Conflict, ErrorDetail, NotFound, StaleRecord
from metacrm.metadata.documents import Document
from metacrm.metadata.layers import Side
from metacrm.packs.data_migrations import (
    DataMigration,
    MigrationRunner,
    PythonStepRunner,
    pending_migrations,
)
from metacrm.packs.discovery import EXTENSIONS_ROOT, AvailablePack, discover, read_pack_folder
from metacrm.packs.manifest import PackManifest
from metacrm.packs.pack_plan import (
    Action,
    PackPlan,
    PackResult,
    PackStep,
    document_changes,
)
from metacrm.packs.pack_settings import carried_settings, check_settings, missing_required
from metacrm.packs.resolution import check_uninstall, engine_version, resolve_changes
from metacrm.packs.service_account import service_role
from metacrm.packs.store import (
    InstalledPack,
    PackRow,
    delete_pack,
    pack_rows,
    read_settings,
    save_pack,
    settings_overview,
    stored_settings,
    write_settings,
)
from metacrm.services.metadata.service import MetadataService
from metacrm.storage.migration import ArchiveTable
from metacrm.storage.system_tables import saved_views, webhooks

HostCheck = Callable[[InstalledPack], list[str]]
"""The extension host's `check_installable`: import-rule and conflict problems of a pack."""

AUTHOR = "packs"


@dataclass
class _Change:
    """A pack change worked out, before it is previewed or applied."""

    action: Action
    steps: list[PackStep]
    incoming: list[AvailablePack]
    incoming_documents: dict[str, list[Document]]
    removed: list[str]
    after: dict[str, PackManifest]
    baseline: list[Document]
    old_baseline: list[Document]
    migrations: list[DataMigration]
    seen: dict[str, str] = field(default_factory=dict)
    """The installed packs (name -> version) the change was worked out from."""
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)


class PackLifecycle:
    """Installs, upgrades and uninstalls packs on one database."""

    def __init__(
        self,
        metadata: MetadataService,
        registry: FieldTypeRegistry,
        *,
        secret_key: str,
        metadata_roots: Sequence[Path],
        extensions_root: Path | None = EXTENSIONS_ROOT,
        distributions: bool = True,
        host_check: HostCheck | None = None,
        python_steps: PythonStepRunner | None = None,
        engine: Version | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.metadata = metadata
        self.registry = registry
        self.secret_key = secret_key
        self.metadata_roots = tuple(metadata_roots)
        self.extensions_root = extensions_root
        self.distributions = distributions
        self.host_check = host_check
        self.on_change = on_change
        """Called after a change committed (the process reloads its packs at once)."""
        self.engine_version = engine or engine_version()
        self._migrations = MigrationRunner(registry, python_steps)

    # --- what there is ---------------------------------------------------------------

    def available(self, paths: Sequence[Path] = ()) -> dict[str, AvailablePack]:
        """Every pack that could be installed or upgraded, by name (see
        `metacrm.packs.discovery`), including the folders installed packs came from."""
        sources = [Path(row.source) for row in self.installed().values()
                   if row.import_root is not None]
        return discover(self.metadata_roots, paths=paths, extensions_root=self.extensions_root,
                        distributions=self.distributions, installed_from=sources)

    def installed(self) -> dict[str, PackRow]:
        self.metadata.initialize()
        with self.metadata.engine.connect() as connection:
            return pack_rows(connection)

    def shipped(self) -> list[str]:
        """The packs on METACRM_METADATA_PATH (what `metacrm init` installs or upgrades)."""
        return [name for name, pack in self.available().items() if pack.origin == "metadata"]

    # --- previews --------------------------------------------------------------------

    def plan_install(self, target: str | Path, settings: Mapping[str, Any] | None = None, *,
                     take: Side | None = None) -> PackPlan:
        return self._preview(self._install_change(target, settings), take)

    def plan_upgrade(self, name: str, *, take: Side | None = None) -> PackPlan:
        return self._preview(self._upgrade_change([name]), take)

    def plan_uninstall(self, name: str, *, take: Side | None = None) -> PackPlan:
        return self._preview(self._uninstall_change(name), take)

    def plan_sync(self, names: Sequence[str], *, take: Side | None = None) -> PackPlan:
        return self._preview(self._sync_change(names), take)

    # --- changes ---------------------------------------------------------------------

    def install(self, target: str | Path, *, settings: Mapping[str, Any] | None = None,
                take: Side | None = None, confirm_destructive: bool = False) -> PackResult:
        """Install a pack (a name of an available pack, or a folder) with the dependencies
        it needs that are available; all or nothing. Fields an earlier uninstall archived
        come back with their data."""
        return self._apply(self._install_change(target, settings), take=take,
                           confirm_destructive=confirm_destructive)

    def upgrade(self, name: str, *, take: Side | None = None,
                confirm_destructive: bool = False) -> PackResult:
        return self._apply(self._upgrade_change([name]), take=take,
                           confirm_destructive=confirm_destructive)

    def uninstall(self, name: str, *, take: Side | None = None) -> PackResult:
        """Uninstall; what it removes is archived (so asking is the confirmation), and
        fields it archives are restored if the pack is installed again."""
        return self._apply(self._uninstall_change(name), take=take, confirm_destructive=True,
                           archive_origin=f"pack {name}")

    def sync(self, names: Sequence[str], *, comment: str | None = None,
             take: Side | None = None, confirm_destructive: bool = False) -> PackResult:
        """Install or upgrade each of `names` (`metacrm init`: the packs on
        METACRM_METADATA_PATH), keeping every other installed pack, in one change."""
        return self._apply(self._sync_change(names), take=take,
                           confirm_destructive=confirm_destructive, comment=comment)

    def files_baseline(self) -> list[Document]:
        """The installed packs' documents with those on METACRM_METADATA_PATH as their files
        are now (installed or not), plus the service-account roles: what `metacrm metadata
        plan/apply` rebase onto — so applying edited pack files keeps installed extension
        packs instead of archiving them."""
        shipped = [pack for pack in self.available().values() if pack.origin == "metadata"]
        return self._assemble("upgrade", [], shipped, [], self.installed()).baseline

    def configure(self, name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Set some of an installed pack's settings (checked against its schema; secrets
        encrypted); the settings as shown afterwards (secrets: "set"/"not set")."""
        self.metadata.initialize()
        with self.metadata.engine.begin() as connection:
            manifest = self._installed_manifest(connection, name)
            check_settings(manifest, values)
            write_settings(connection, manifest, values, self.secret_key)
            shown = settings_overview(connection, manifest)
        if self.on_change is not None:
            self.on_change()
        return shown

    def settings_of(self, name: str) -> tuple[dict[str, Any], list[str]]:
        """An installed pack's settings as shown (secrets never decrypted) and the required
        ones not set yet."""
        self.metadata.initialize()
        with self.metadata.engine.connect() as connection:
            manifest = self._installed_manifest(connection, name)
            shown = settings_overview(connection, manifest)
            stored = set(stored_settings(connection, name))
        return shown, missing_required(manifest, dict.fromkeys(stored))

    @staticmethod
    def _installed_manifest(connection: sa.Connection, name: str) -> PackManifest:
        row = pack_rows(connection).get(name)
        if row is None:
            raise NotFound(f"pack {name!r} is not installed",
                           [ErrorDetail("not installed", "", name)])
        return row.manifest

    # --- working a change out ----------------------------------------------------------

    def _install_change(self, target: str | Path,
                        settings: Mapping[str, Any] | None) -> _Change:
        installed = self.installed()
        if isinstance(target, Path) or "/" in str(target) or Path(str(target)).is_dir():
            pack = read_pack_folder(Path(target), "path")
            available = self.available(paths=[pack.folder])
        else:
            available = self.available()
            if str(target) not in available:
                raise NotFound(f"no pack named {target!r} is available",
                               [ErrorDetail("available: " + (", ".join(sorted(available))
                                                             or "none"), "", str(target))])
            pack = available[str(target)]
        if pack.name in installed:
            row = installed[pack.name]
            raise Conflict(f"pack {pack.name} {row.manifest.version} is already installed",
                           [ErrorDetail(f"use: metacrm pack upgrade {pack.name}", "",
                                        pack.manifest.source)])
        change = self._change("install", [pack], available, installed)
        if settings:
            merged = {**change.settings.get(pack.name, {}), **settings}
            check_settings(pack.manifest, merged)
            change.settings[pack.name] = merged
        return change

    def _upgrade_change(self, names: Sequence[str]) -> _Change:
        installed = self.installed()
        available = self.available()
        packs = []
        for name in names:
            if name not in installed:
                raise NotFound(f"pack {name!r} is not installed",
                               [ErrorDetail(f"install it: metacrm pack install {name}", "",
                                            name)])
            if name not in available:
                raise NotFound(f"pack {name!r} is installed but no longer available",
                               [ErrorDetail(f"installed from {installed[name].source}", "",
                                            name)])
            packs.append(available[name])
        return self._change("upgrade", packs, available, installed)

    def _sync_change(self, names: Sequence[str]) -> _Change:
        installed = self.installed()
        available = self.available()
        missing = [name for name in names if name not in available]
        if missing:
            raise NotFound(f"no pack named {', '.join(missing)} is available")
        return self._change("upgrade", [available[name] for name in names], available,
                            installed)

    def _change(self, action: Action, targets: Sequence[AvailablePack],
                available: Mapping[str, AvailablePack],
                installed: Mapping[str, PackRow]) -> _Change:
        manifests = resolve_changes(
            [pack.manifest for pack in targets],
            available={name: pack.manifest for name, pack in available.items()},
            installed={name: row.manifest for name, row in installed.items()},
            engine=self.engine_version)
        by_name = {pack.name: pack for pack in targets}
        incoming = [by_name.get(manifest.name) or available[manifest.name]
                    for manifest in manifests]
        steps: list[PackStep] = []
        migrations: list[DataMigration] = []
        for pack in incoming:
            old = installed.get(pack.name)
            old_version = old.manifest.version if old is not None else None
            if old_version is not None and pack.manifest.version < old_version:
                raise Conflict(
                    f"{pack.manifest.title()} is older than the installed "
                    f"{old.manifest.title() if old else ''}: packs are not downgraded",
                    [ErrorDetail("downgrade refused", "/version", pack.manifest.source)])
            steps.append(PackStep(pack.name, "install" if old is None else "upgrade",
                                  str(old_version) if old_version else None,
                                  str(pack.manifest.version)))
            migrations += pending_migrations(pack.name, pack.migrations(), old_version,
                                             pack.manifest.version)
        self._migrations.check(migrations)
        change = self._assemble(action, steps, incoming, [], installed)
        change.migrations = migrations
        with self.metadata.engine.connect() as connection:
            for pack in incoming:
                old_values = (read_settings(connection, installed[pack.name].manifest,
                                            self.secret_key)
                              if pack.name in installed else {})
                change.settings[pack.name] = carried_settings(pack.manifest, old_values)
        self._check_host(change)
        return change

    def _uninstall_change(self, name: str) -> _Change:
        installed = self.installed()
        manifest = check_uninstall(name, {key: row.manifest for key, row in installed.items()})
        steps = [PackStep(name, "uninstall", str(manifest.version), None)]
        return self._assemble("uninstall", steps, [], [name], installed)

    def _assemble(self, action: Action, steps: list[PackStep], incoming: list[AvailablePack],
                  removed: list[str], installed: Mapping[str, PackRow]) -> _Change:
        documents = {pack.name: pack.documents() for pack in incoming}
        after: dict[str, PackManifest] = {name: row.manifest for name, row in installed.items()
                                          if name not in removed}
        after.update({pack.name: pack.manifest for pack in incoming})
        baseline: list[Document] = []
        for name in sorted(after):
            baseline += documents[name] if name in documents else installed[name].documents
            role = service_role(after[name])
            if role is not None:
                baseline.append(role)
        old_baseline: list[Document] = []
        for _name, row in sorted(installed.items()):
            old_baseline += row.documents
            role = service_role(row.manifest)
            if role is not None:
                old_baseline.append(role)
        seen = {name: str(row.manifest.version) for name, row in installed.items()}
        return _Change(action, steps, incoming, documents, removed, after, baseline,
                       old_baseline, [], seen)

    def _check_host(self, change: _Change) -> None:
        if self.host_check is None:
            return
        errors = []
        for pack in change.incoming:
            spec = _spec(pack, change.settings.get(pack.name, {}))
            errors += [ErrorDetail(problem, "", pack.manifest.source)
                       for problem in self.host_check(spec)]
        if errors:
            raise Conflict("the pack's code cannot be installed", errors)

    # --- preview and apply -----------------------------------------------------------

    def _preview(self, change: _Change, take: Side | None) -> PackPlan:
        rebase = self.metadata.plan_rebase(change.baseline, take=take)
        return PackPlan(
            action=change.action,
            steps=tuple(change.steps),
            documents=tuple(document_changes(change.old_baseline, change.baseline)),
            report=rebase.report,
            data_migrations=tuple(change.migrations),
            settings={pack.name: _shown(pack.manifest, change.settings.get(pack.name, {}))
                      for pack in change.incoming},
            missing_settings={pack.name: tuple(missing_required(
                pack.manifest, change.settings.get(pack.name, {}))) for pack in change.incoming},
            conflicts=tuple(rebase.conflicts),
            customisations=tuple(rebase.carried),
        )

    def _apply(self, change: _Change, *, take: Side | None, confirm_destructive: bool,
               comment: str | None = None, archive_origin: str | None = None) -> PackResult:
        plan = self._preview(change, take)

        def within(connection: sa.Connection, number: int) -> None:
            self._write(connection, change, plan)
            self._migrations.run(connection, number, change.migrations)

        summary = "; ".join(step.describe() for step in change.steps)
        applied = self.metadata.rebase_onto(
            change.baseline, author=AUTHOR, comment=comment or f"pack {summary}", take=take,
            confirm_destructive=confirm_destructive, within=within,
            archive_origin=archive_origin)
        if self.on_change is not None:
            self.on_change()
        return PackResult(plan, applied)

    def _write(self, connection: sa.Connection, change: _Change, plan: PackPlan) -> None:
        now = {name: str(row.manifest.version) for name, row in pack_rows(connection).items()}
        if now != change.seen:
            # Another change landed since this one was planned: its baseline would drop
            # (archive) what that change installed. Everything rolls back.
            message = "the installed packs changed meanwhile; plan the change again"
            raise StaleRecord(message, [ErrorDetail(message)])
        for name in change.removed:
            delete_pack(connection, name)
        removed_entities = [op.entity for op in plan.report.plan.operations
                            if isinstance(op, ArchiveTable)]
        if removed_entities:
            connection.execute(sa.delete(webhooks).where(webhooks.c.entity.in_(removed_entities)))
            connection.execute(
                sa.delete(saved_views).where(saved_views.c.entity.in_(removed_entities)))
        for pack in change.incoming:
            save_pack(connection, pack.manifest, source=pack.source,
                      documents=change.incoming_documents[pack.name])
            write_settings(connection, pack.manifest, change.settings.get(pack.name, {}),
                           self.secret_key, replace=True)


def _spec(pack: AvailablePack, settings: Mapping[str, Any]) -> InstalledPack:
    manifest = pack.manifest
    return InstalledPack(name=manifest.name, version=str(manifest.version),
                         module=manifest.module, root=pack.import_root, settings=settings,
                         settings_schema=manifest.settings_schema,
                         permissions=manifest.permissions)


def _shown(manifest: PackManifest, values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: ("set" if key in values else "not set") if key in manifest.secret_keys
            else values[key]
            for key in manifest.settings_schema.get("properties", {})
            if key in values or key in manifest.secret_keys}
