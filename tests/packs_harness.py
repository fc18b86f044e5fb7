"""Small packs written to a temporary folder from JSON literals, and a lifecycle over them."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from metacrm.fieldtypes import default_registry
from metacrm.packs.discovery import ENTRY_POINT_GROUP
from metacrm.packs.lifecycle import PackLifecycle
from metacrm.services.metadata.service import MetadataService

SECRET_KEY = "a-test-instance-secret-key"


def label(text: str) -> dict[str, str]:
    return {"en": text, "ru": text}


def manifest(name: str, version: str = "1.0.0", **extra: Any) -> dict[str, Any]:
    return {"name": name, "version": version, "label": label(name.title()), **extra}


def entity(name: str, *fields: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "entity", "name": name, "version": 1, "label": label(name),
            "plural_label": label(name + "s"),
            "fields": [{"name": "title", "type": "text", "label": label("Title")}, *fields]}


def field(name: str, type_: str = "text", **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": label(name), **options}


def write_pack(root: Path, body: dict[str, Any], *documents: dict[str, Any],
               migrations: dict[str, list[dict[str, Any]]] | None = None) -> Path:
    """A pack folder `root/<name>` with pack.json, `metadata/<document name>.json` and
    `migrations/<version>/steps.json`."""
    folder = root / body["name"]
    (folder / "metadata").mkdir(parents=True, exist_ok=True)
    for old in (folder / "metadata").glob("*.json"):
        old.unlink()
    (folder / "pack.json").write_text(json.dumps(body), encoding="utf-8")
    for document in documents:
        (folder / "metadata" / f"{document['name']}.json").write_text(
            json.dumps(document), encoding="utf-8")
    for version, steps in (migrations or {}).items():
        target = folder / "migrations" / version
        target.mkdir(parents=True, exist_ok=True)
        (target / "steps.json").write_text(json.dumps({"steps": steps}), encoding="utf-8")
    return folder


def make_lifecycle(engine: sa.Engine, roots: list[Path], **options: Any) -> PackLifecycle:
    """A lifecycle over packs under `roots` only (no extensions/, no installed
    distributions), on `engine`; `options` go to PackLifecycle (python_steps...)."""
    registry = default_registry()
    metadata = MetadataService(engine, registry)
    metadata.initialize()
    return PackLifecycle(metadata, registry, secret_key=SECRET_KEY, metadata_roots=roots,
                         extensions_root=None, distributions=False, **options)


def columns(engine: sa.Engine, table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns(table)}


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


@contextmanager
def installed_distribution(site: Path, name: str, version: str,
                           *documents: dict[str, Any]) -> Iterator[Path]:
    """A pip distribution as `pip install` leaves it in a folder put on sys.path: the module
    `name` (its folder holds pack.json) and a dist-info declaring the `metacrm.packs` entry
    point. Yields the module's folder."""
    module = write_pack(site, manifest(name, version), *documents)
    (module / "__init__.py").write_text("", encoding="utf-8")
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n{name} = {name}\n", encoding="utf-8")
    sys.path.insert(0, str(site))
    try:
        yield module
    finally:
        sys.path.remove(str(site))
        sys.modules.pop(name, None)
