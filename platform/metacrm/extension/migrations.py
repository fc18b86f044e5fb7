"""`MigrationContext`: what a pack's Python data-migration step, `migrations/<version>/step.py`
with `run(ctx)`, gets.

The step runs inside the upgrade's transaction, after the tables were migrated and after the
folder's JSON steps, as the pack's service account: `ctx.records` reads and writes through
the access layer on that transaction, so a failure (any exception) rolls the whole upgrade
back. Records written here get no audit entries or events: they are the pack's own data
fix-ups, not business changes.
"""

from __future__ import annotations

from typing import Protocol

from metacrm.extension.records import Records


class MigrationContext(Protocol):
    """What `run(ctx)` of a `step.py` gets."""

    @property
    def pack(self) -> str:
        """The name of the pack being upgraded."""
        ...

    @property
    def from_version(self) -> str:
        """The version installed before this upgrade."""
        ...

    @property
    def to_version(self) -> str:
        """The version of this migration folder (`migrations/<version>/`)."""
        ...

    @property
    def records(self) -> Records:
        """Records as the pack's service account, on the upgrade's transaction."""
        ...


__all__ = ["MigrationContext"]
