"""The installed-pack store: `metacrm_packs`, `metacrm_pack_settings`, `metacrm_pack_state`.

Every write here happens inside the transaction of a pack install, upgrade, uninstall or
settings change, and bumps the pack generation, so other processes see one number change
(`pack_generation`) and reload what `installed_packs` returns. Secret settings are stored
as Fernet tokens (`metacrm.packs.secrets`) and only ever decrypted for `installed_packs`,
which hands them to the pack's own code; nothing that displays settings decrypts them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa

from metacrm.metadata.documents import Document
from metacrm.packs.discovery import import_root_of
from metacrm.packs.manifest import PackManifest, parse_manifest
from metacrm.packs.resolution import dependency_order
from metacrm.packs.secrets import SecretBox
from metacrm.storage.metadata_store import document_from_json, document_to_json
from metacrm.storage.system_tables import pack_settings, pack_state, packs

DISTRIBUTION_PREFIX = "distribution:"


@dataclass(frozen=True)
class InstalledPack:
    """What a process needs to load an installed pack's code (the extension host's
    `PackSpec`)."""

    name: str
    version: str
    module: str | None
    root: Path | None
    """The folder to put on sys.path; None for pip distributions (already importable)."""
    settings: Mapping[str, Any]
    """Decrypted values of the keys the pack declares, and only those."""
    settings_schema: Mapping[str, Any]
    permissions: Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class PackRow:
    """An installed pack as stored: manifest, documents, where from, when."""

    manifest: PackManifest
    source: str
    documents: tuple[Document, ...]
    installed_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def import_root(self) -> Path | None:
        if self.source.startswith(DISTRIBUTION_PREFIX):
            return None
        return import_root_of(Path(self.source))


def _now() -> datetime:
    return datetime.now(UTC)


def pack_rows(connection: sa.Connection) -> dict[str, PackRow]:
    """Every installed pack, by name."""
    rows = connection.execute(sa.select(packs)).mappings()
    return {
        row["name"]: PackRow(
            manifest=parse_manifest(row["manifest"], f"{row['source']} (installed)"),
            source=row["source"],
            documents=tuple(document_from_json(item) for item in row["documents"]),
            installed_at=_aware(row["installed_at"]),
            updated_at=_aware(row["updated_at"]),
        )
        for row in rows
    }


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def installed_packs(connection: sa.Connection, secret_key: str) -> list[InstalledPack]:
    """The installed packs, dependencies first, with their decrypted settings."""
    rows = pack_rows(connection)
    order = dependency_order({name: row.manifest for name, row in rows.items()})
    result = []
    for name in order:
        manifest = rows[name].manifest
        result.append(InstalledPack(
            name=name,
            version=str(manifest.version),
            module=manifest.module,
            root=rows[name].import_root,
            settings=MappingProxyType(read_settings(connection, manifest, secret_key)),
            settings_schema=manifest.settings_schema,
            permissions=manifest.permissions,
        ))
    return result


def pack_generation(connection: sa.Connection) -> int:
    """A number that changes whenever a pack is installed, upgraded or uninstalled or its
    settings change (0 before the first)."""
    value = connection.execute(
        sa.select(pack_state.c.generation).where(pack_state.c.id == 1)).scalar()
    return int(value or 0)


def bump_generation(connection: sa.Connection) -> int:
    updated = connection.execute(
        sa.update(pack_state).where(pack_state.c.id == 1)
        .values(generation=pack_state.c.generation + 1))
    if updated.rowcount == 0:
        connection.execute(sa.insert(pack_state).values(id=1, generation=1))
    return pack_generation(connection)


def save_pack(
    connection: sa.Connection, manifest: PackManifest, *, source: str,
    documents: Sequence[Document],
) -> None:
    """Insert or update an installed pack's row (keeping when it was first installed)."""
    now = _now()
    values = {
        "version": str(manifest.version),
        "source": source,
        "manifest": dict(manifest.raw),
        "documents": [document_to_json(document) for document in documents],
        "updated_at": now,
    }
    changed = connection.execute(
        sa.update(packs).where(packs.c.name == manifest.name).values(**values))
    if changed.rowcount == 0:
        connection.execute(sa.insert(packs).values(name=manifest.name, installed_at=now,
                                                   **values))
    bump_generation(connection)


def delete_pack(connection: sa.Connection, name: str) -> None:
    """Remove an installed pack's row and every setting of it."""
    connection.execute(sa.delete(pack_settings).where(pack_settings.c.pack == name))
    connection.execute(sa.delete(packs).where(packs.c.name == name))
    bump_generation(connection)


# --- settings ------------------------------------------------------------------------------


def stored_settings(connection: sa.Connection, pack: str) -> dict[str, tuple[Any, str | None]]:
    """key -> (plain value, secret token) as stored, nothing decrypted."""
    rows = connection.execute(
        sa.select(pack_settings.c.key, pack_settings.c.value, pack_settings.c.secret)
        .where(pack_settings.c.pack == pack))
    return {row.key: (row.value, row.secret) for row in rows}


def read_settings(connection: sa.Connection, manifest: PackManifest,
                  secret_key: str) -> dict[str, Any]:
    """The pack's settings with secrets decrypted — declared keys only."""
    declared = manifest.settings_schema.get("properties", {})
    secrets = manifest.secret_keys
    box: SecretBox | None = None
    values: dict[str, Any] = {}
    for key, (value, token) in stored_settings(connection, manifest.name).items():
        if key not in declared:
            continue
        if key in secrets:
            if token is None:
                continue
            box = box or SecretBox(secret_key, manifest.name)
            values[key] = box.open(token, key)
        else:
            values[key] = value
    return values


def write_settings(
    connection: sa.Connection, manifest: PackManifest, values: Mapping[str, Any],
    secret_key: str, *, replace: bool = False,
) -> None:
    """Store `values` (already checked against the schema); secrets encrypted. `replace`
    first removes every stored key (a new version's settings)."""
    if replace:
        connection.execute(sa.delete(pack_settings).where(pack_settings.c.pack == manifest.name))
    secrets = manifest.secret_keys
    box = SecretBox(secret_key, manifest.name) if secrets & set(values) else None
    now = _now()
    for key, value in values.items():
        row = ({"value": None, "secret": box.seal(value)} if box is not None and key in secrets
               else {"value": value, "secret": None})
        changed = connection.execute(
            sa.update(pack_settings)
            .where(pack_settings.c.pack == manifest.name, pack_settings.c.key == key)
            .values(updated_at=now, **row))
        if changed.rowcount == 0:
            connection.execute(sa.insert(pack_settings).values(
                pack=manifest.name, key=key, updated_at=now, **row))
    bump_generation(connection)


def settings_overview(connection: sa.Connection, manifest: PackManifest) -> dict[str, Any]:
    """The settings as shown to people: plain values as stored, secrets as "set" or
    "not set" (never decrypted)."""
    stored = stored_settings(connection, manifest.name)
    shown: dict[str, Any] = {}
    for key in manifest.settings_schema.get("properties", {}):
        if key in manifest.secret_keys:
            shown[key] = "set" if stored.get(key, (None, None))[1] else "not set"
        elif key in stored:
            shown[key] = stored[key][0]
    return shown
