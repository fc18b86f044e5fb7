"""The JSON Schemas of metadata documents (`schemas/*.json`): finding, loading, resolving.

The schema files reference each other (`common.schema.json#/$defs/name`, the criteria
language...) through a `referencing` registry keyed by their `$id`s. For speed, validators
are built from *inlined* copies: every `$ref` is replaced by its target once, when the
validator is built, because resolving a `$ref` per validated value dominates the cost of
validating large models. Recursive references (the criteria tree) are inlined a few levels
deep; below that they stay `$ref`s, made absolute so the registry resolves them wherever the
inlined copy lands.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from referencing import Registry
from referencing.jsonschema import DRAFT202012

from metacrm.kernel.errors import ErrorDetail, MetadataInvalid
from metacrm.resources import folder

SCHEMA_DIR = folder("schemas")
"""`schemas/` at the repository root, or the installed package's copy (`metacrm.resources`)."""

RECURSION_INLINED = 2
"""How many levels of a recursive schema (the criteria tree) are inlined; deeper levels are
resolved through the registry. Real conditions rarely nest deeper."""

_ANNOTATIONS = frozenset({"description", "title", "$comment", "examples"})
_RESOURCE_KEYS = frozenset({"$id", "$schema", "$defs"})


@dataclass(frozen=True, slots=True)
class SchemaSet:
    """Every schema file of one directory, by file name, and the registry resolving them."""

    directory: Path
    schemas: Mapping[str, dict[str, Any]]
    registry: Registry[Any]
    _resolved: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def by_file(self, file_name: str) -> dict[str, Any]:
        return self.schemas[file_name]

    def inlined(self, schema: Mapping[str, Any], base: str | None = None) -> dict[str, Any]:
        """A copy of `schema` with its non-recursive `$ref`s replaced by their targets.

        `base` is the URI relative references resolve against: the `$id` of the file the
        schema (or sub-schema) comes from; a top-level schema carries its own.
        """
        result = self.inline(dict(schema), base or str(schema.get("$id", "")))
        assert isinstance(result, dict)
        result.pop("$defs", None)
        return result

    def inline(self, node: Any, base: str) -> Any:
        """Any schema node with its non-recursive `$ref`s (relative to `base`) inlined."""
        return _inline(node, base, self.resolve, ())

    def resolve(self, uri: str) -> Any:
        """The schema an absolute `$ref` URI points at (looked up once per URI)."""
        if uri not in self._resolved:
            self._resolved[uri] = self.registry.resolver().lookup(uri).contents
        return self._resolved[uri]


@functools.cache
def load_schema_set(directory: Path = SCHEMA_DIR) -> SchemaSet:
    """Read every `*.schema.json` of `directory`; raise MetadataInvalid if one is broken."""
    schemas: dict[str, dict[str, Any]] = {}
    errors: list[ErrorDetail] = []
    files = sorted(directory.glob("*.schema.json"))
    if not files:
        raise MetadataInvalid(
            "no metadata schemas found",
            [ErrorDetail(f"no *.schema.json files in {directory}", source=str(directory))],
        )
    for path in files:
        try:
            contents = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            errors.append(ErrorDetail(f"cannot read schema: {exc}", source=str(path)))
            continue
        if not isinstance(contents, dict) or not isinstance(contents.get("$id"), str):
            errors.append(ErrorDetail("a schema must be an object with an $id", source=str(path)))
            continue
        schemas[path.name] = contents
    if errors:
        raise MetadataInvalid("the metadata schemas are broken", errors)
    registry: Registry[Any] = Registry().with_resources(
        (contents["$id"], DRAFT202012.create_resource(contents)) for contents in schemas.values()
    )
    return SchemaSet(directory=directory, schemas=schemas, registry=registry.crawl())




def _inline(
    node: Any, base: str, resolve: Callable[[str], Any], stack: tuple[str, ...]
) -> Any:
    if isinstance(node, list):
        return [_inline(item, base, resolve, stack) for item in node]
    if not isinstance(node, dict):
        return node
    rest = {
        key: _inline(value, base, resolve, stack)
        for key, value in node.items()
        if key != "$ref"
    }
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return rest
    uri = urljoin(base, ref)
    if stack.count(uri) >= RECURSION_INLINED:
        return {"$ref": uri, **rest}
    target_base = uri.split("#", 1)[0]
    target = _inline(resolve(uri), target_base, resolve, (*stack, uri))
    if isinstance(target, bool):
        return {"allOf": [target], **rest} if rest else target
    target = {key: value for key, value in target.items() if key not in _RESOURCE_KEYS}
    clashes = (target.keys() & rest.keys()) - _ANNOTATIONS
    if clashes:
        return {"allOf": [target], **rest}
    return {**target, **rest}

