"""Duplicates of existing records, for review: one record's duplicates (the API endpoint and
the form's panel), a pre-check of values about to be saved, and the scan that finds groups
of duplicates in existing data (a background job).

Everything is answered as one subject may know it (`services.duplicates.checks`): a record outside
their read scope is never named; a scan lists only groups with two or more records the
subject may read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.base import FieldValueError
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import EntityDef
from metacrm.services.duplicates.checks import DuplicateCheck
from metacrm.services.records.service import RecordsService

SCAN_PAGE = 1_000
"""Shared keys read per round trip of a scan."""


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    """Records of `entity` sharing the key of `rule`'s first condition."""

    entity: str
    rule: str
    key: str
    ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"entity": self.entity, "rule": self.rule, "key": self.key,
                "ids": list(self.ids)}


class DuplicateReview:
    """Duplicate lookups of the records service's live metadata, as a subject."""

    def __init__(self, records: RecordsService) -> None:
        self.records = records

    def of_record(self, subject: AccessSubject, entity: str, record_id: str
                  ) -> DuplicateCheck:
        """The duplicates of a record the subject may read (404 otherwise), under every
        rule of its entity."""
        runtime = self.records.runtime()
        scoped = runtime.scoped(subject)
        scoped.require(entity, "read")
        with self.records.engine.connect() as conn:
            scoped.get(conn, entity, record_id)  # 404 outside the read scope
            record = runtime.system.get(conn, entity, record_id)
            assert record is not None
            return self.records.duplicates.find(conn, subject, entity, record,
                                                exclude=(record_id,))

    def check(self, subject: AccessSubject, entity: str, values: Any, *,
              exclude: str | None = None) -> DuplicateCheck:
        """The duplicates `values` (field -> value, as a create or update would send
        them) would have, under every rule of the entity; nothing is written."""
        scoped = self.records.runtime().scoped(subject)
        scoped.require(entity, "read")
        if not isinstance(values, Mapping):
            raise ValidationFailed("invalid duplicate check", [
                ErrorDetail("must be an object of field values", "")])
        visible = self.records.visible_entity(subject, entity)
        unknown = [ErrorDetail(f"{name!r} is not a field of {entity!r}", f"/{name}")
                   for name in values if name != "owner" and visible.field(str(name)) is None]
        unknown += self._bad_values(visible, values)
        if unknown:
            raise ValidationFailed("invalid duplicate check", unknown)
        fields = {name: value for name, value in values.items() if name != "owner"}
        with self.records.engine.connect() as conn:  # the owner takes no part in a match
            return self.records.duplicates.find(
                conn, subject, entity, fields, exclude=(exclude,) if exclude else ())

    def _bad_values(self, visible: EntityDef, values: Mapping[str, Any]) -> list[ErrorDetail]:
        """Values a save would refuse for their type (each at its field), so a pre-check
        answers as the save it stands for would."""
        errors: list[ErrorDetail] = []
        for name, value in values.items():
            fdef = visible.field(str(name))
            if fdef is None or value is None or fdef.type == "file":
                continue
            try:
                self.records.registry.get(fdef.type).normalize(fdef, value)
            except FieldValueError as exc:
                errors.append(ErrorDetail(str(exc), f"/{name}"))
        return errors

    def scan(self, subject: AccessSubject, entity: str, *, limit: int = 10_000
             ) -> list[DuplicateGroup]:
        """Groups of records sharing a rule's exact key (each rule's conditions scanned
        in turn), keeping in each group only the records the subject may read, and only
        groups left with two or more. Reads a page of shared keys at a time."""
        runtime = self.records.runtime()
        scoped = runtime.scoped(subject)
        scoped.require(entity, "read")
        groups: list[DuplicateGroup] = []
        seen: set[tuple[str, ...]] = set()
        with self.records.engine.connect() as conn:
            for rule in runtime.model.duplicate_rules_of(entity):
                for condition in rule.conditions:
                    after: str | None = None
                    while len(groups) < limit:
                        page = runtime.system.key_groups(conn, entity, condition.key.column,
                                                         limit=SCAN_PAGE, after=after)
                        if not page:
                            break
                        readable = scoped.fetch(conn, entity,
                                                {i for _, ids in page for i in ids},
                                                fields=())
                        for key, ids in page:
                            kept = tuple(i for i in ids if i in readable)
                            if len(kept) > 1 and kept not in seen:
                                seen.add(kept)
                                groups.append(DuplicateGroup(entity, rule.name, key, kept))
                        after = page[-1][0]
        return groups[:limit]
