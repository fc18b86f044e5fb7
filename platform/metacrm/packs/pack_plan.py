"""What a pack change does, as shown before it is applied and reported after.

`PackPlan.describe()` is what `metacrm pack plan` prints and the designer's Packs page
shows; applying the same change does exactly that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from metacrm.metadata.documents import Document
from metacrm.packs.data_migrations import DataMigration
from metacrm.services.metadata.service import AppliedVersion, PlanReport
from metacrm.storage.migration import ArchiveColumn, ArchiveTable

Action = Literal["install", "upgrade", "uninstall"]


@dataclass(frozen=True)
class PackStep:
    """What happens to one pack."""

    name: str
    action: Action
    old_version: str | None
    new_version: str | None

    def describe(self) -> str:
        if self.action == "install":
            return f"install {self.name} {self.new_version}"
        if self.action == "uninstall":
            return f"uninstall {self.name} {self.old_version}"
        if self.old_version == self.new_version:
            return f"refresh {self.name} {self.new_version} (same version, documents re-read)"
        return f"upgrade {self.name} {self.old_version} -> {self.new_version}"


@dataclass(frozen=True)
class DocumentChange:
    kind: str
    name: str
    pack: str
    change: Literal["added", "changed", "removed"]

    def describe(self) -> str:
        return f"{self.change} {self.kind} {self.name} ({self.pack})"


@dataclass(frozen=True)
class PackPlan:
    """A preview of a pack change: the packs, documents, schema migration (with what gets
    archived), data migrations and settings. Applying the same change does exactly this."""

    action: Action
    steps: tuple[PackStep, ...]
    documents: tuple[DocumentChange, ...]
    report: PlanReport
    data_migrations: tuple[DataMigration, ...]
    settings: Mapping[str, Mapping[str, Any]]
    """Pack -> the settings it will have, as shown (secrets: "set"/"not set")."""
    missing_settings: Mapping[str, tuple[str, ...]]
    conflicts: tuple[Any, ...] = ()
    customisations: tuple[Any, ...] = ()

    @property
    def archived(self) -> tuple[str, ...]:
        """What the change archives (tables and columns renamed, data kept)."""
        version = self.report.live_version + 1
        return tuple(op.describe(version) for op in self.report.plan.operations
                     if isinstance(op, ArchiveTable | ArchiveColumn))

    @property
    def destructive(self) -> bool:
        return self.report.plan.destructive

    def _migration(self) -> str:
        live = self.report.live_version
        if self.report.unchanged:
            return f"Metadata: no change (stays at version {live})."
        text = f"Metadata version {live + 1} will be recorded; schema: "
        text += self.report.plan.describe(live + 1)
        if self.destructive and self.action != "uninstall":
            text += "\nThis archives data: apply with --confirm-destructive."
        return text

    def describe(self) -> str:
        lines = ["Packs:"] + [f"  {step.describe()}" for step in self.steps]
        if self.documents:
            lines.append(f"Metadata documents ({len(self.documents)}):")
            lines += [f"  {change.describe()}" for change in self.documents]
        else:
            lines.append("Metadata documents: no change.")
        lines.append(self._migration())
        if self.archived:
            lines.append("Archived (renamed, data kept; nothing is dropped):")
            lines += [f"  {item}" for item in self.archived]
        if self.data_migrations:
            lines.append("Data migrations, in order:")
            lines += [f"  {migration.describe()}" for migration in self.data_migrations]
        for pack, values in self.settings.items():
            if values:
                shown = ", ".join(f"{key}={value!r}" for key, value in values.items())
                lines.append(f"Settings of {pack}: {shown}")
        for pack, keys in self.missing_settings.items():
            if keys:
                lines.append(f"Settings of {pack} still to set: {', '.join(keys)} "
                             f"(metacrm pack settings {pack} --set KEY=VALUE)")
        if self.customisations:
            lines.append("Customisations kept:")
            lines += [f"  {item.describe()}" for item in self.customisations]
        if self.conflicts:
            lines.append("Conflicts (an admin and the pack changed the same thing):")
            lines += [f"  {item.to_error()}" for item in self.conflicts]
        return "\n".join(lines)


@dataclass(frozen=True)
class PackResult:
    """An applied pack change."""

    plan: PackPlan
    version: AppliedVersion | None
    """The metadata version it recorded; None when the metadata did not change."""

    def describe(self) -> str:
        done = "; ".join(step.describe() for step in self.plan.steps)
        if self.version is None:
            return f"Done: {done}. The metadata did not change."
        return f"Done: {done}. Metadata version {self.version.number}."


def document_changes(old: Sequence[Document], new: Sequence[Document]) -> list[DocumentChange]:
    """Documents added, changed (body or pack) and removed between two baselines."""
    before = {(d.kind, d.name): d for d in old}
    after = {(d.kind, d.name): d for d in new}
    changes: list[DocumentChange] = []
    for key in sorted(before.keys() | after.keys()):
        was, now = before.get(key), after.get(key)
        if was is None and now is not None:
            changes.append(DocumentChange(now.kind, now.name, now.pack, "added"))
        elif now is None and was is not None:
            changes.append(DocumentChange(was.kind, was.name, was.pack, "removed"))
        elif was is not None and now is not None and \
                (_plain(was.body) != _plain(now.body) or was.pack != now.pack):
            changes.append(DocumentChange(now.kind, now.name, now.pack, "changed"))
    return changes


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
