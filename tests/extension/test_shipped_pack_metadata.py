"""The vat and telegram packs' metadata documents are valid and compile on top of the
shipped contacts and sales packs (their entity extensions name real entities)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metacrm.fieldtypes import default_registry
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.metadata.loader import load_documents, validate_documents
from metacrm.settings import DEFAULT_METADATA_PATH

EXTENSIONS = Path(__file__).resolve().parents[2] / "extensions"
PACKS = {"vat": EXTENSIONS / "vat" / "metacrm_vat",
         "telegram": EXTENSIONS / "telegram" / "metacrm_telegram"}


def pack_documents(name: str) -> list[Document]:
    return [Document.from_body(json.loads(path.read_text()), source=str(path), pack=name)
            for path in sorted((PACKS[name] / "metadata").glob("*.json"))]


@pytest.mark.parametrize("name", sorted(PACKS))
def test_manifest_names_the_module_folder_it_lives_in(name: str) -> None:
    manifest = json.loads((PACKS[name] / "pack.json").read_text())
    assert manifest["name"] == name
    assert manifest["module"] == PACKS[name].name


def test_pack_metadata_compiles_on_the_shipped_packs() -> None:
    shipped = load_documents([DEFAULT_METADATA_PATH])
    ours = pack_documents("vat") + pack_documents("telegram")
    validate_documents(ours)
    model = compile_model([*shipped, *ours], default_registry())
    line = model.entities["deal_line"]
    assert {"tax_rate", "tax_amount", "gross_amount"} <= set(line.field_names)
    assert all(line.field(name).read_only for name in ("tax_rate", "tax_amount",
                                                        "gross_amount"))
    assert "country" in model.entities["company"].field_names
    assert "telegram_chat_id" in model.entities["person"].field_names
