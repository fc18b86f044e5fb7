"""A pack's settings checked against the JSON Schema in its manifest.

Settings are set one key at a time (`metacrm pack settings vat --set rates=...`), so values
are checked against the schema without its `required` list: a pack can be installed before
it is configured, and the keys still missing are reported as such (`missing_required`)
rather than refusing every partial step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.schema_errors import did_you_mean, json_pointer
from metacrm.packs.manifest import PackManifest


def check_settings(manifest: PackManifest, values: Mapping[str, Any]) -> None:
    """ValidationFailed listing every value that breaks the pack's settings schema (pointer
    `/<key>/...`), and every key the pack does not declare."""
    declared = manifest.settings_schema.get("properties", {})
    errors = [
        ErrorDetail(f"pack {manifest.name} has no setting {key!r}"
                    + did_you_mean(key, declared), json_pointer([key]), manifest.name)
        for key in values if key not in declared
    ]
    schema = {key: value for key, value in manifest.settings_schema.items()
              if key != "required"}
    known = {key: value for key, value in values.items() if key in declared}
    validator = Draft202012Validator(schema)
    errors += [
        ErrorDetail(error.message, json_pointer(error.absolute_path), manifest.name)
        for error in sorted(validator.iter_errors(known), key=lambda e: list(e.absolute_path))
    ]
    if errors:
        raise ValidationFailed(f"invalid settings for pack {manifest.name}", errors)


def missing_required(manifest: PackManifest, values: Mapping[str, Any]) -> list[str]:
    """Required settings that have no value yet."""
    return [key for key in manifest.settings_schema.get("required", ()) if key not in values]


def carried_settings(manifest: PackManifest, old: Mapping[str, Any]) -> dict[str, Any]:
    """Settings for a new version of a pack: the old values of keys it still declares, and
    the defaults of keys that are new."""
    declared = manifest.settings_schema.get("properties", {})
    values = {key: value for key, value in old.items() if key in declared}
    for key, default in manifest.setting_defaults.items():
        values.setdefault(key, default)
    return values


def parse_assignment(text: str) -> tuple[str, Any]:
    """`key=value` from the command line: the value is JSON when it parses as JSON
    (`rates={"DE": 19}`, `enabled=true`), else the text itself."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ValidationFailed(f"{text!r} is not key=value",
                               [ErrorDetail("expected key=value", "", "--set")])
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw
