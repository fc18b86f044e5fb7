"""Benchmark: compile a model of 200 entities x 50 fields (time and peak memory).

    python bench/compile_model.py [--entities 200] [--fields 50] [--runs 5]

Builds the documents in memory (mixed field types, references between entities, a pipeline
for every fourth entity, a list view with a filter per entity), then times what
`compile_model` does with them: JSON Schema validation of every document and compilation
with every cross-document check. Prints the median of several runs, split into validation and
compilation, and the peak memory of one run measured with tracemalloc.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from typing import Any

from metacrm.fieldtypes import default_registry
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.metadata.loader import validate_documents
from metacrm.metadata.validation import document_validator

LABEL = {"en": "Label", "ru": "Метка"}
CHOICES = [{"value": v, "label": LABEL} for v in ("low", "medium", "high")]


def field_for(entity: int, index: int, entities: int, with_pipeline: bool) -> dict[str, Any]:
    """The index-th field of an entity: types cycle, references point at other entities."""
    name = f"f{index:02d}"
    base: dict[str, Any] = {"name": name, "label": LABEL}
    kinds: list[dict[str, Any]] = [
        {"type": "text", "max_length": 120},
        {"type": "integer", "min": 0},
        {"type": "decimal", "precision": 12, "scale": 2},
        {"type": "money", "currency": "USD"},
        {"type": "date"},
        {"type": "datetime"},
        {"type": "boolean", "default": False},
        {"type": "picklist", "choices": CHOICES},
        {"type": "reference", "entity": f"e{(entity + index) % entities:03d}",
         "on_delete": ("set_null", "restrict", "cascade")[index % 3]},
        {"type": "email"},
        {"type": "phone", "default_region": "US"},
        {"type": "url"},
        {"type": "percent"},
        {"type": "textarea"},
        {"type": "multi_picklist", "choices": CHOICES},
        {"type": "user"},
        {"type": "json"},
    ]
    if index == 0:
        return {**base, "type": "text", "required": True, "indexed": True}
    if index == 1 and with_pipeline:
        return {**base, "type": "state", "pipeline": f"p{entity:03d}"}
    return {**base, **kinds[index % len(kinds)]}


def build_documents(entities: int, fields: int) -> list[Document]:
    documents: list[Document] = []
    for number in range(entities):
        name = f"e{number:03d}"
        with_pipeline = number % 4 == 0
        body = {
            "kind": "entity", "name": name, "version": 1, "label": LABEL,
            "fields": [field_for(number, i, entities, with_pipeline) for i in range(fields)],
            "indexes": [{"name": f"{name}_f01_f02", "fields": ["f01", "f02"]}],
            "search_fields": ["f00"], "title_field": "f00",
        }
        documents.append(Document.from_body(body, source=f"bench/{name}.json", pack="bench"))
        view = {
            "kind": "view", "name": f"{name}_list", "version": 1, "label": LABEL,
            "entity": name, "type": "list", "columns": ["f00", "f03", "created_at"],
            "sort": ["f00"],
            "filter": {"and": [{"field": "f00", "op": "starts_with", "value": "a"},
                               {"field": "created_at", "op": "gte",
                                "value": {"$today": {"days": -30}}}]},
        }
        documents.append(Document.from_body(view, source=f"bench/{name}_list.json", pack="bench"))
        if with_pipeline:
            pipeline = {
                "kind": "pipeline", "name": f"p{number:03d}", "version": 1, "label": LABEL,
                "entity": name,
                "states": [{"name": s, "label": LABEL} for s in ("new", "done", "lost")],
                "transitions": [{"name": "finish", "label": LABEL, "from": ["new"],
                                 "to": "done", "required_fields": ["f00"]}],
            }
            documents.append(Document.from_body(pipeline, source=f"bench/p{number:03d}.json",
                                                pack="bench"))
    return documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=200)
    parser.add_argument("--fields", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    registry = default_registry()
    documents = build_documents(args.entities, args.fields)
    started = time.perf_counter()
    document_validator()  # built once per process, like in a server
    setup = time.perf_counter() - started

    validate_times: list[float] = []
    compile_times: list[float] = []
    for _ in range(args.runs):
        started = time.perf_counter()
        validate_documents(documents)
        validated = time.perf_counter()
        model = compile_model(documents, registry, validate=False)
        compile_times.append(time.perf_counter() - validated)
        validate_times.append(validated - started)

    tracemalloc.start()
    compile_model(documents, registry)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    total = [v + c for v, c in zip(validate_times, compile_times, strict=True)]
    fields = sum(len(e.fields) for e in model.entities.values())
    print(f"model: {len(model.entities)} entities, {fields} fields, "
          f"{len(model.pipelines)} pipelines, {len(model.views)} views "
          f"({len(documents)} documents)")
    print(f"schema loading (once per process): {setup * 1000:.0f} ms")
    print(f"first run (builds the per-type validators): {total[0]:.3f} s")
    print(f"validate + compile, median of {args.runs}: {statistics.median(total):.3f} s "
          f"(schema validation {statistics.median(validate_times):.3f} s, "
          f"compilation and cross-checks {statistics.median(compile_times):.3f} s)")
    print(f"peak memory of one validate + compile (tracemalloc): {peak / 1024 / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
