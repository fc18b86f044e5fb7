"""What the host is told about installed packs, and where it asks.

`PackSpec` has exactly the attributes of the packs store's `InstalledPack`, written as a
Protocol so the store's class fits without either side importing the other. A `PackSource`
answers the installed packs and a cheap generation number that changes whenever any pack is
installed, upgraded, uninstalled or its settings change (the lead wires the packs store in
`composition`); `NoPacks` is the null source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol


class PackSpec(Protocol):
    """An installed pack as the host loads it."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def module(self) -> str | None:
        """Importable module with `install(ctx)`, or None (a metadata-only pack)."""
        ...

    @property
    def root(self) -> Path | None:
        """Folder put on `sys.path` to import `module` (None: an installed distribution)."""
        ...

    @property
    def settings(self) -> Mapping[str, Any]:
        """Decrypted values of the declared settings."""
        ...

    @property
    def settings_schema(self) -> Mapping[str, Any]:
        """The JSON Schema of the settings object (`properties` names the declared keys)."""
        ...

    @property
    def permissions(self) -> Mapping[str, frozenset[str]]: ...


class PackSource(Protocol):
    """Where a process learns which packs are installed."""

    def generation(self) -> int:
        """A number that changes whenever the installed packs or their settings change."""
        ...

    def packs(self) -> Sequence[PackSpec]:
        """The installed packs, dependencies before their dependents."""
        ...


class NoPacks:
    """A source with no packs (until the packs store is wired, and in tests)."""

    def generation(self) -> int:
        return 0

    def packs(self) -> Sequence[PackSpec]:
        return ()


def declared_settings(spec: PackSpec) -> tuple[str, ...]:
    """The setting keys the pack's manifest declares."""
    properties = spec.settings_schema.get("properties") or {}
    return tuple(properties) if isinstance(properties, Mapping) else ()


def pack_role(name: str) -> str:
    """The generated role holding a pack's permissions (`permissions` in pack.json)."""
    return f"pack_{name}"


def pack_username(name: str) -> str:
    """The actor name of a pack's service account (audit rows, `created_by` stays None)."""
    return f"pack:{name}"
