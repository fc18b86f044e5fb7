"""Small builders of metadata documents for the metadata tests: JSON literals, no magic."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from metacrm.kernel.errors import ErrorDetail, MetadataInvalid
from metacrm.metadata.catalog import FieldTypeCatalog
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.metadata.model import CompiledModel


def labels(en: str = "Thing", ru: str = "Штука") -> dict[str, str]:
    return {"en": en, "ru": ru}


def field(name: str, type_: str = "text", **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": labels(name), **options}


def entity(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": "entity", "name": name, "version": 1, "label": labels(name),
            "fields": list(fields) or [field("title")], **extra}


def state(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "label": labels(name), **extra}


def transition(name: str, from_: Any, to: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "label": labels(name), "from": from_, "to": to, **extra}


def pipeline(name: str, entity_name: str, states: Sequence[str] = ("open", "done"),
             transitions: Iterable[dict[str, Any]] = (), **extra: Any) -> dict[str, Any]:
    return {"kind": "pipeline", "name": name, "version": 1, "label": labels(name),
            "entity": entity_name, "states": [state(s) for s in states],
            "transitions": list(transitions), **extra}


def document(kind: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "name": name, "version": 1, "label": labels(name), **extra}


def as_documents(*bodies: dict[str, Any], pack: str = "test") -> list[Document]:
    """In-memory documents; each one's source is `<pack>/<name>.json`."""
    return [Document.from_body(body, source=f"{pack}/{body['name']}.json", pack=pack)
            for body in bodies]


def compiled(catalog: FieldTypeCatalog, *bodies: dict[str, Any]) -> CompiledModel:
    return compile_model(as_documents(*bodies), catalog)


def compile_errors(catalog: FieldTypeCatalog, *bodies: dict[str, Any]) -> list[ErrorDetail]:
    """The errors compiling `bodies` raises (the test fails if it compiles)."""
    with pytest.raises(MetadataInvalid) as caught:
        compile_model(as_documents(*bodies), catalog)
    return list(caught.value.errors)


def find(errors: Iterable[ErrorDetail], source: str, pointer: str) -> ErrorDetail:
    """The one error at `source` + `pointer`; fails listing all errors when absent."""
    errors = list(errors)
    matching = [e for e in errors if e.source.endswith(source) and e.pointer == pointer]
    assert matching, f"no error at {source} {pointer}; got:\n" + "\n".join(map(str, errors))
    return matching[0]


def write_pack(root: Path, pack: str, files: dict[str, Any]) -> Path:
    """Write `files` (name -> JSON value, or raw text) into `root/pack/`; returns the folder."""
    folder = root / pack
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        (folder / name).write_text(text, encoding="utf-8")
    return folder
