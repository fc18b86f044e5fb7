"""What planning and applying metadata report: plans, applied versions, rebase previews."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from metacrm.kernel.errors import MetadataConflict
from metacrm.metadata.documents import Document
from metacrm.metadata.layers import Customisation, MergeConflict
from metacrm.metadata.model import CompiledModel
from metacrm.storage.metadata_store import document_to_json
from metacrm.storage.migration import MigrationPlan


@dataclass(frozen=True)
class PlanReport:
    """What applying some documents would do to the live database."""

    live_version: int
    """The live version number (0: none yet); applying would create `live_version + 1`."""
    model: CompiledModel
    plan: MigrationPlan
    unchanged: bool
    """The documents equal the live version's: applying is a no-op."""

    def describe(self) -> str:
        if self.unchanged:
            return (
                f"Nothing to apply: the database is at metadata version {self.live_version} "
                "with the same documents."
            )
        live = str(self.live_version) if self.live_version else "none (empty database)"
        text = f"Live metadata version: {live}. Applying creates version {self.live_version + 1}.\n"
        if self.plan.is_empty:
            return text + "No schema changes (labels, layouts or rules only)."
        text += self.plan.describe(self.live_version + 1)
        if self.plan.destructive:
            text += (
                "\nDestructive operations need confirmation; their data is archived, "
                "not deleted."
            )
        return text


@dataclass(frozen=True)
class AppliedVersion:
    """A metadata version that was just applied."""

    number: int
    checksum: str
    plan: MigrationPlan
    author: str | None
    comment: str | None
    created_at: datetime
    model: CompiledModel

    def describe(self) -> str:
        text = f"Applied metadata version {self.number}."
        if self.plan.is_empty:
            return text + " No schema changes."
        return text + "\n" + self.plan.describe(self.number)


@dataclass(frozen=True)
class PendingChange:
    """What a commit would make live: the documents, their model, a new baseline or None."""

    documents: tuple[Document, ...]
    model: CompiledModel
    baseline: tuple[Document, ...] | None


@dataclass(frozen=True)
class RebasePlan:
    """A preview of moving the live metadata onto a new baseline."""

    report: PlanReport
    conflicts: tuple[MergeConflict, ...]
    carried: tuple[Customisation, ...]
    documents: tuple[Document, ...]

    def describe(self) -> str:
        text = self.report.describe()
        if self.carried:
            text += "\nCustomisations kept:\n" + "\n".join(
                f"  {item.describe()}" for item in self.carried)
        if self.conflicts:
            text += "\nConflicts (an admin and the packs changed the same thing):\n" + \
                "\n".join(f"  {conflict.to_error()}" for conflict in self.conflicts)
        return text


def conflict_error(conflicts: Sequence[MergeConflict]) -> MetadataConflict:
    count = len(conflicts)
    return MetadataConflict(
        f"{count} conflict{'s' if count != 1 else ''} between admins' changes and the packs: "
        "choose a side (--take pack or --take admin) or change the metadata first",
        [conflict.to_error() for conflict in conflicts])


def same_bodies(left: Sequence[Document], right: Sequence[Document]) -> bool:
    """Whether two document sets hold the same documents with equal bodies."""

    def bodies(documents: Sequence[Document]) -> dict[tuple[str, str], object]:
        return {(d.kind, d.name): document_to_json(d)["body"] for d in documents}

    return bodies(left) == bodies(right)
