"""The demo data set as files: `seed/demo.json` (password, teams, users, entity order) and one
`seed/<entity>.json` per entity, read and checked into frozen dataclasses.

Everything is fixed text so that two loads give the same data; dates are offsets in days from
the day of the load (`{"$date": -10}`), so the demo always looks current. Values may hold
markers the loader resolves (`metacrm.seeding.values`): `{"$ref": "company:contoso"}` (the id
of a record seeded earlier), `{"$user": "ivan"}` (a user's id), `{"$date": 30}` and
`{"$datetime": {"days": -2, "at": "10:30"}}`.

A record is `{"key", "owner", "as"?, "values", "steps"?}`: created by `as` (default: its
owner) for `owner`, then changed step by step — `{"update": {...}}`,
`{"transition": "propose", "values"?: {...}}` or `{"convert": <request>, "keys"?: {...}}`,
each optionally `"as": "<user>"` — so the audit trail has a history. A seed file that does
not fit this shape is refused with every problem at once, pointing into the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.resources import folder

SEED_PATH = folder("seed")
"""The shipped demo data set."""
MANIFEST = "demo.json"
STEP_KINDS = ("update", "transition", "convert")


@dataclass(frozen=True, slots=True)
class DemoTeam:
    name: str
    label: str | None = None
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    role: str
    teams: tuple[str, ...] = ()
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One change after the creation: `kind` is update, transition or convert."""

    kind: str
    actor: str
    transition: str | None = None
    values: Mapping[str, Any] | None = None
    keys: Mapping[str, str] | None = None
    """convert: seed keys for the records it creates or matches, by target name."""


@dataclass(frozen=True, slots=True)
class SeedRecord:
    entity: str
    key: str
    owner: str
    author: str
    values: Mapping[str, Any]
    steps: tuple[Step, ...]
    file: str
    pointer: str
    """Where it comes from (`seed/deal.json`, `/records/3`), for error messages."""


@dataclass(frozen=True, slots=True)
class DemoData:
    password: str
    teams: tuple[DemoTeam, ...]
    users: tuple[DemoUser, ...]
    entities: tuple[str, ...]
    records: tuple[SeedRecord, ...]

    def of(self, entity: str) -> list[SeedRecord]:
        return [record for record in self.records if record.entity == entity]


def read_demo_data(root: Path = SEED_PATH) -> DemoData:
    """The data set under `root`; ValidationFailed listing every problem of every file."""
    errors: list[ErrorDetail] = []
    manifest = _read_json(root / MANIFEST, errors)
    if not isinstance(manifest, Mapping):
        raise ValidationFailed("the demo data set cannot be read", errors)
    source = str(root / MANIFEST)
    checker = _Checker(source, errors)
    password = checker.text(manifest.get("password"), "/password")
    teams = tuple(
        DemoTeam(checker.text(t.get("name"), f"/teams/{i}/name"),
                 checker.optional_text(t.get("label"), f"/teams/{i}/label"),
                 checker.optional_text(t.get("parent"), f"/teams/{i}/parent"))
        for i, t in checker.objects(manifest.get("teams"), "/teams"))
    team_names = {team.name for team in teams}
    users = tuple(_user(checker, i, u, team_names)
                  for i, u in checker.objects(manifest.get("users"), "/users"))
    usernames = {user.username for user in users}
    entities = tuple(checker.text(name, f"/entities/{i}")
                     for i, name in enumerate(checker.items(manifest.get("entities"),
                                                            "/entities")))
    records: list[SeedRecord] = []
    for entity in entities:
        records.extend(_entity_records(root, entity, usernames, errors))
    _check_unique_keys(records, errors)
    if errors:
        raise ValidationFailed("the demo data set is invalid", errors)
    return DemoData(password, teams, users, entities, tuple(records))


def _user(checker: _Checker, index: int, raw: Mapping[str, Any],
          team_names: set[str]) -> DemoUser:
    where = f"/users/{index}"
    teams = tuple(checker.text(team, f"{where}/teams/{j}")
                  for j, team in enumerate(checker.items(raw.get("teams", []),
                                                         f"{where}/teams")))
    for j, team in enumerate(teams):
        if team not in team_names:
            checker.error(f"there is no team {team!r} among the teams", f"{where}/teams/{j}")
    return DemoUser(checker.text(raw.get("username"), f"{where}/username"),
                    checker.text(raw.get("role"), f"{where}/role"), teams,
                    checker.optional_text(raw.get("email"), f"{where}/email"))


def _entity_records(root: Path, entity: str, usernames: set[str],
                    errors: list[ErrorDetail]) -> list[SeedRecord]:
    path = root / f"{entity}.json"
    body = _read_json(path, errors)
    if body is None:
        return []
    checker = _Checker(str(path), errors)
    if not isinstance(body, Mapping) or body.get("entity") != entity:
        checker.error(f"must be an object with \"entity\": {entity!r} and \"records\"", "")
        return []
    records = []
    for index, raw in checker.objects(body.get("records"), "/records"):
        where = f"/records/{index}"
        owner = checker.user(raw.get("owner"), f"{where}/owner", usernames)
        author = checker.user(raw["as"], f"{where}/as", usernames) if "as" in raw else owner
        values = raw.get("values")
        if not isinstance(values, Mapping):
            checker.error("must be an object of field values", f"{where}/values")
            values = {}
        steps = tuple(_step(checker, f"{where}/steps/{j}", step, owner, usernames)
                      for j, step in checker.objects(raw.get("steps", []), f"{where}/steps"))
        records.append(SeedRecord(entity, checker.text(raw.get("key"), f"{where}/key"), owner,
                                  author, values, steps, str(path), where))
    return records


def _step(checker: _Checker, where: str, raw: Mapping[str, Any], owner: str,
          usernames: set[str]) -> Step:
    kinds = [kind for kind in STEP_KINDS if kind in raw]
    if len(kinds) != 1:
        checker.error(f"must have exactly one of {', '.join(STEP_KINDS)}", where)
        return Step("update", owner, values={})
    kind = kinds[0]
    actor = checker.user(raw["as"], f"{where}/as", usernames) if "as" in raw else owner
    if kind == "transition":
        values = raw.get("values", {})
        if not isinstance(values, Mapping):
            checker.error("must be an object of field values", f"{where}/values")
        return Step(kind, actor, transition=checker.text(raw["transition"],
                                                         f"{where}/transition"),
                    values=values if isinstance(values, Mapping) else {})
    if kind == "convert":
        keys = raw.get("keys", {})
        if not isinstance(keys, Mapping) or not all(isinstance(v, str) for v in keys.values()):
            checker.error("must map target names to seed keys", f"{where}/keys")
            keys = {}
        request = raw["convert"]
        if not isinstance(request, Mapping):
            checker.error("must be a conversion request object", f"{where}/convert")
            request = {}
        return Step(kind, actor, values=request, keys=keys)
    values = raw["update"]
    if not isinstance(values, Mapping):
        checker.error("must be an object of field values", f"{where}/update")
        values = {}
    return Step(kind, actor, values=values)


def _check_unique_keys(records: list[SeedRecord], errors: list[ErrorDetail]) -> None:
    seen: set[tuple[str, str]] = set()
    for record in records:
        if (record.entity, record.key) in seen:
            errors.append(ErrorDetail(f"the key {record.key!r} is used twice",
                                      f"{record.pointer}/key", record.file))
        seen.add((record.entity, record.key))


def _read_json(path: Path, errors: list[ErrorDetail]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        errors.append(ErrorDetail(f"cannot be read: {exc.strerror}", "", str(path)))
    except json.JSONDecodeError as exc:
        errors.append(ErrorDetail(f"is not JSON: {exc.msg} (line {exc.lineno})", "",
                                  str(path)))
    return None


class _Checker:
    """Collects the problems of one file."""

    def __init__(self, source: str, errors: list[ErrorDetail]) -> None:
        self.source = source
        self.errors = errors

    def error(self, message: str, pointer: str) -> None:
        self.errors.append(ErrorDetail(message, pointer, self.source))

    def text(self, value: Any, pointer: str) -> str:
        if not isinstance(value, str) or not value:
            self.error("must be a non-empty string", pointer)
            return ""
        return value

    def optional_text(self, value: Any, pointer: str) -> str | None:
        return None if value is None else self.text(value, pointer)

    def user(self, value: Any, pointer: str, usernames: set[str]) -> str:
        name = self.text(value, pointer)
        if name and name not in usernames:
            self.error(f"there is no demo user {name!r}", pointer)
        return name

    def items(self, value: Any, pointer: str) -> list[Any]:
        if not isinstance(value, list):
            self.error("must be a list", pointer)
            return []
        return value

    def objects(self, value: Any, pointer: str) -> list[tuple[int, Mapping[str, Any]]]:
        found = []
        for index, item in enumerate(self.items(value, pointer)):
            if isinstance(item, Mapping):
                found.append((index, item))
            else:
                self.error("must be an object", f"{pointer}/{index}")
        return found
