"""`pack.json`: a pack's manifest, validated by `schemas/pack.schema.json`.

Every problem of a manifest is reported at once, each naming the file and a JSON Pointer
(like the metadata loader's errors), so `metacrm pack install` prints `pack.json /version:
...` lines. Versions and ranges are parsed with `packaging` here, so nothing later has to
handle a malformed one.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from metacrm.kernel.errors import ErrorDetail, MetadataInvalid
from metacrm.metadata.loader import MANIFEST_FILE, read_json
from metacrm.metadata.schema_errors import json_pointer
from metacrm.metadata.schemas import SCHEMA_DIR

OPERATIONS = ("read", "create", "update", "delete")


@dataclass(frozen=True)
class PackManifest:
    """A validated `pack.json` (and where it was read from)."""

    name: str
    version: Version
    engine: SpecifierSet
    depends: Mapping[str, SpecifierSet]
    label: Mapping[str, str]
    description: Mapping[str, str]
    settings_schema: Mapping[str, Any]
    permissions: Mapping[str, frozenset[str]]
    module: str | None
    raw: Mapping[str, Any] = field(compare=False, repr=False)
    """The manifest as written (what the installed-pack store keeps)."""
    source: str = ""
    """The manifest file, for error messages."""

    @property
    def secret_keys(self) -> frozenset[str]:
        """Settings marked `writeOnly` in the settings schema: stored encrypted, never shown."""
        properties = self.settings_schema.get("properties", {})
        return frozenset(key for key, spec in properties.items()
                         if isinstance(spec, Mapping) and spec.get("writeOnly") is True)

    @property
    def setting_defaults(self) -> dict[str, Any]:
        """The `default` of every declared setting that has one."""
        properties = self.settings_schema.get("properties", {})
        return {key: spec["default"] for key, spec in properties.items()
                if isinstance(spec, Mapping) and "default" in spec}

    def title(self) -> str:
        return f"{self.name} {self.version}"


def read_manifest(path: Path) -> PackManifest:
    """The manifest in `path` (a pack folder or its pack.json); MetadataInvalid lists every
    problem, each with the file and a JSON Pointer."""
    file = path / MANIFEST_FILE if path.is_dir() else path
    if not file.exists():
        raise MetadataInvalid(f"no {MANIFEST_FILE} in {file.parent}",
                              [ErrorDetail(f"a pack folder holds {MANIFEST_FILE}", "",
                                           str(file))])
    body, errors = read_json(file)
    if errors:
        raise MetadataInvalid(f"invalid pack manifest {file}", errors)
    return parse_manifest(body, str(file))


def parse_manifest(body: Any, source: str) -> PackManifest:
    """A manifest from a parsed `pack.json` body; MetadataInvalid lists every problem."""
    errors = manifest_errors(body, source)
    if errors:
        raise MetadataInvalid(
            f"invalid pack manifest {source}: {len(errors)} error"
            f"{'s' if len(errors) != 1 else ''}", errors)
    depends = {name: SpecifierSet(spec) for name, spec in body.get("depends", {}).items()}
    permissions = {entity: frozenset(ops) for entity, ops in body.get("permissions", {}).items()}
    return PackManifest(
        name=body["name"],
        version=Version(body["version"]),
        engine=SpecifierSet(body.get("engine", "")),
        depends=MappingProxyType(depends),
        label=MappingProxyType(dict(body["label"])),
        description=MappingProxyType(dict(body.get("description", {}))),
        settings_schema=MappingProxyType(dict(body.get("settings", {"type": "object"}))),
        permissions=MappingProxyType(permissions),
        module=body.get("module"),
        raw=MappingProxyType(dict(body)),
        source=source,
    )


def manifest_errors(body: Any, source: str) -> list[ErrorDetail]:
    """Every problem of a manifest body: schema violations, then what the schema cannot
    say (versions and ranges `packaging` rejects, an invalid settings schema)."""
    if not isinstance(body, dict):
        return [ErrorDetail("a pack manifest must be a JSON object", "", source)]
    errors = [
        ErrorDetail(_message(error), json_pointer(error.absolute_path), source)
        for error in sorted(_validator().iter_errors(body), key=lambda e: list(e.absolute_path))
    ]
    if errors:
        return errors
    try:
        Version(body["version"])
    except InvalidVersion:
        errors.append(ErrorDetail(f"{body['version']!r} is not a version", "/version", source))
    ranges = [("/engine", body.get("engine", ""))]
    ranges += [(json_pointer(["depends", name]), spec)
               for name, spec in body.get("depends", {}).items()]
    for pointer, spec in ranges:
        try:
            SpecifierSet(spec)
        except InvalidSpecifier:
            errors.append(ErrorDetail(
                f"{spec!r} is not a version range such as '>=1.0,<2'", pointer, source))
    if body["name"] in body.get("depends", {}):
        errors.append(ErrorDetail("a pack cannot depend on itself",
                                  json_pointer(["depends", body["name"]]), source))
    errors += _settings_schema_errors(body.get("settings"), source)
    return errors


def _settings_schema_errors(schema: Any, source: str) -> list[ErrorDetail]:
    if schema is None:
        return []
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [ErrorDetail(f"not a valid JSON Schema: {exc.message}",
                            "/settings" + json_pointer(exc.absolute_path), source)]
    errors = []
    for key, spec in schema.get("properties", {}).items():
        if "default" in spec:
            for error in Draft202012Validator(spec).iter_errors(spec["default"]):
                errors.append(ErrorDetail(
                    f"the default does not fit its own schema: {error.message}",
                    json_pointer(["settings", "properties", key, "default"]), source))
        if spec.get("writeOnly") is True and "default" in spec:
            errors.append(ErrorDetail(
                "a secret (writeOnly) cannot have a default: it would ship in the pack",
                json_pointer(["settings", "properties", key, "default"]), source))
    return errors


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        if not error.path:
            known = ", ".join(sorted(error.schema.get("properties", {})))
            return f"unknown key {', '.join(repr(k) for k in extra)} (known: {known})"
    if error.validator == "pattern" and error.absolute_path and \
            error.absolute_path[-1] == "version":
        return f"{error.instance!r} is not a semantic version such as 1.2.0"
    if error.validator == "pattern" and list(error.absolute_path) == ["name"]:
        return (f"{error.instance!r} is not a pack name: 2-31 lower-case letters, digits and _, "
                "starting with a letter")
    return str(error.message)


@functools.cache
def _validator() -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / "pack.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)
