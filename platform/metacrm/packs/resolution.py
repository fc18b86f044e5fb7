"""Which packs an install, upgrade or uninstall touches, and whether it is allowed.

Ranges are `packaging` specifiers: a pack's `engine` against metacrm's own version, its
`depends` against the versions installed or being installed. Every refusal names both packs
and the range, and points at the manifest entry that asked for it (`/depends/sales`).
Pre-releases satisfy a range (a pack at 2.0.0-rc.1 is what its author is testing).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping, Sequence

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from metacrm.kernel.errors import Conflict, ErrorDetail, NotFound
from metacrm.metadata.schema_errors import json_pointer
from metacrm.packs.manifest import PackManifest


def engine_version() -> Version:
    """The running metacrm's version (the distribution's)."""
    return Version(importlib.metadata.version("metacrm"))


def _range(spec: SpecifierSet) -> str:
    return str(spec) or "any version"


def _satisfies(version: Version, spec: SpecifierSet) -> bool:
    return spec.contains(version, prereleases=True)


def engine_errors(manifest: PackManifest, engine: Version) -> list[ErrorDetail]:
    if _satisfies(engine, manifest.engine):
        return []
    return [ErrorDetail(f"{manifest.title()} needs metacrm {_range(manifest.engine)}, "
                        f"this is metacrm {engine}", "/engine", manifest.source)]


def resolve_changes(
    targets: Sequence[PackManifest],
    *,
    available: Mapping[str, PackManifest],
    installed: Mapping[str, PackManifest],
    engine: Version,
) -> list[PackManifest]:
    """The packs to install or upgrade so that `targets` end up installed: the targets and
    every dependency that is available but not installed, dependencies first.

    Conflict lists every problem: an engine range that excludes this metacrm, a dependency
    neither installed nor available, a version outside a range (also for installed packs
    that depend on an upgraded one), a dependency cycle.
    """
    after: dict[str, PackManifest] = dict(installed)
    changing: dict[str, PackManifest] = {}
    errors: list[ErrorDetail] = []
    queue = list(targets)
    while queue:
        manifest = queue.pop(0)
        if manifest.name in changing:
            continue
        changing[manifest.name] = after[manifest.name] = manifest
        for dependency in sorted(manifest.depends):
            if dependency not in after and dependency in available:
                queue.append(available[dependency])
    for manifest in changing.values():
        errors += engine_errors(manifest, engine)
    for manifest in after.values():
        errors += _dependency_errors(manifest, after, available)
    errors += cycle_errors(after)
    if errors:
        raise Conflict(_headline(targets, errors), errors)
    return [after[name] for name in dependency_order(after) if name in changing]


def _headline(targets: Sequence[PackManifest], errors: Sequence[ErrorDetail]) -> str:
    names = ", ".join(target.title() for target in targets)
    return (f"cannot install {names}: {len(errors)} problem{'s' if len(errors) != 1 else ''} "
            "with versions or dependencies")


def _dependency_errors(
    manifest: PackManifest, after: Mapping[str, PackManifest],
    available: Mapping[str, PackManifest],
) -> list[ErrorDetail]:
    errors = []
    for dependency, spec in sorted(manifest.depends.items()):
        pointer = json_pointer(["depends", dependency])
        present = after.get(dependency)
        if present is None:
            offer = available.get(dependency)
            reason = (f"only {offer.title()} is available" if offer is not None
                      else "it is neither installed nor available")
            errors.append(ErrorDetail(
                f"{manifest.title()} needs pack {dependency} {_range(spec)}, but {reason}",
                pointer, manifest.source))
        elif not _satisfies(present.version, spec):
            errors.append(ErrorDetail(
                f"{manifest.title()} needs pack {dependency} {_range(spec)}, but "
                f"{present.title()} would be installed", pointer, manifest.source))
    return errors


def cycle_errors(packs: Mapping[str, PackManifest]) -> list[ErrorDetail]:
    """One error per dependency cycle among `packs` (A -> B -> A)."""
    errors: list[ErrorDetail] = []
    reported: set[frozenset[str]] = set()
    for start in sorted(packs):
        path = _cycle_from(start, packs)
        if path is not None and frozenset(path) not in reported:
            reported.add(frozenset(path))
            chain = " -> ".join([*path, path[0]])
            manifest = packs[path[0]]
            errors.append(ErrorDetail(f"dependency cycle: {chain}",
                                      json_pointer(["depends", path[1 % len(path)]]),
                                      manifest.source))
    return errors


def _cycle_from(start: str, packs: Mapping[str, PackManifest]) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    while stack:
        name, path = stack.pop()
        for dependency in sorted(packs[name].depends):
            if dependency == start:
                return path
            if dependency in packs and dependency not in path:
                stack.append((dependency, [*path, dependency]))
    return None


def dependency_order(packs: Mapping[str, PackManifest]) -> list[str]:
    """Pack names, each after the packs it depends on (by name among equals; packs in a
    cycle — refused elsewhere — keep name order)."""
    ordered: list[str] = []
    remaining = set(packs)
    while remaining:
        ready = sorted(name for name in remaining
                       if not set(packs[name].depends) & remaining) or sorted(remaining)[:1]
        ordered.extend(ready)
        remaining.difference_update(ready)
    return ordered


def check_uninstall(name: str, installed: Mapping[str, PackManifest]) -> PackManifest:
    """The installed manifest of `name`; NotFound when it is not installed, Conflict when
    another installed pack depends on it (naming that pack and its range)."""
    manifest = installed.get(name)
    if manifest is None:
        known = ", ".join(sorted(installed)) or "none"
        raise NotFound(f"pack {name!r} is not installed (installed: {known})",
                       [ErrorDetail("not installed", "", name)])
    errors = [
        ErrorDetail(f"{other.title()} depends on {name} {_range(other.depends[name])}",
                    json_pointer(["depends", name]), other.source)
        for other in sorted(installed.values(), key=lambda m: m.name)
        if name in other.depends
    ]
    if errors:
        raise Conflict(f"cannot uninstall {manifest.title()}: installed packs depend on it "
                       "(uninstall them first)", errors)
    return manifest
