"""The compiled metadata model: immutable, validated, cross-checked.

Everything above the metadata layer (storage, repository, API, screens) reads these frozen
dataclasses, never the raw JSON documents. A model is compiled once per metadata version and
shared by every request of a process, so nothing here may be mutated after compilation:
mappings are `MappingProxyType`s and sequences are tuples.

Criteria trees (conditions) stay in their JSON form here; they were checked against the model
when it was compiled, and each interpreter (SQL, Python predicate) parses them on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from types import MappingProxyType
from typing import Any

from metacrm.kernel.business_time import BusinessCalendar
from metacrm.metadata.titles import TitlePart, title_fields

Labels = Mapping[str, str]
"""Translations of one text, keyed by language code (`en`, `ru`, ...)."""

JSON = Any
"""A value as it came from a JSON document."""

EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return EMPTY

SYSTEM_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "owner",
    "version",
)
"""Columns every record table has; no field may take one of these names."""


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a definition was declared, so later errors can point back at the document."""

    file: str
    pointer: str = ""


@dataclass(frozen=True, slots=True)
class Choice:
    """One value of a picklist or multi-picklist."""

    value: str
    label: Labels


COMPUTED_RESULT_TYPES: frozenset[str] = frozenset(
    {"decimal", "money", "integer", "percent", "text", "date", "boolean"})
"""The types a formula or rollup field may declare as its `result`."""

ROLLUP_AGGREGATES: frozenset[str] = frozenset({"count", "sum", "min", "max"})


@dataclass(frozen=True, slots=True)
class FormulaDef:
    """A stored formula: a sandboxed expression over the record's own fields (`names`)
    and one hop through its references (`paths`: reference field, field of the target)."""

    expression: str
    names: tuple[str, ...] = ()
    paths: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RollupDef:
    """A stored aggregate of the `entity` records whose reference field `via` points at
    this record: `aggregate` (count / sum / min / max) of `field`, over those matching
    `filter` (a criteria tree of `entity`). `manual_when_empty`: the field may be written
    while no such record exists (a deal's amount before it has lines)."""

    entity: str
    via: str
    aggregate: str
    field: str | None = None
    filter: JSON = None
    manual_when_empty: bool = False


@dataclass(frozen=True, slots=True)
class LookupValidity:
    """When a lookup default may be taken at all (`default_lookup.valid`): the record at
    `record` (a path of this record, `quote.price_list`) must be `active`, valid on the date
    at `on` (a path of this record; today when absent or empty) between its `valid_from`
    and `valid_to` dates (open ends when empty), and — with `currency` — the value found
    must be money in that record's currency, as must this field on the other records that
    share the parent (`quote`). A price list that fails any of these gives no default: the
    save is refused naming the field, so nobody sells at an expired or foreign price."""

    record: str
    valid_from: str | None = None
    valid_to: str | None = None
    active: str | None = None
    currency: str | None = None
    on: str | None = None


@dataclass(frozen=True, slots=True)
class LookupDefault:
    """A default taken from another record when a new record leaves the field empty: the
    first `entity` record whose fields equal `match` (field of `entity` -> a path of this
    record: `product` or `deal.price_list`), its field `field`."""

    entity: str
    match: tuple[tuple[str, str], ...]
    field: str
    valid: LookupValidity | None = None


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field of an entity: a typed column (or a few, e.g. money) in the entity's table.

    `options` holds the type-specific settings exactly as declared (`max_length`,
    `precision`, `scale`, `min`, `max`, `entity`, `on_delete`, `pipeline`, `prefix`,
    `digits`, `default_region`, `currency`...); `choices` the picklist values;
    `operators` the criteria operators its type supports, resolved at compile time so that
    criteria checks do not need the field type registry.
    """

    name: str
    type: str
    label: Labels
    required: bool = False
    unique: bool = False
    indexed: bool = False
    read_only: bool = False
    default: JSON = None
    help: Labels = dc_field(default_factory=_empty)
    options: Mapping[str, JSON] = dc_field(default_factory=_empty)
    choices: tuple[Choice, ...] = ()
    operators: frozenset[str] = frozenset()
    source: SourceRef = SourceRef("")
    computed: FormulaDef | RollupDef | None = None
    """A formula or rollup field (declared with type `formula` / `rollup`): `type` is then
    the declared result type, and the engine keeps the stored value up to date."""
    default_lookup: LookupDefault | None = None

    def option(self, key: str, default: JSON = None) -> JSON:
        return self.options.get(key, default)

    @property
    def target_entity(self) -> str | None:
        """The referenced entity of a `reference` field, else None."""
        value = self.options.get("entity")
        return value if isinstance(value, str) else None

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(choice.value for choice in self.choices)


@dataclass(frozen=True, slots=True)
class IndexDef:
    """A declared index over one or more fields of an entity."""

    name: str
    fields: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True, slots=True)
class ReminderDef:
    """Remind users before the moment a date/datetime field names (a task's due date):
    `to` are `owner` and/or user fields; no reminder while the record matches `unless`."""

    field: str
    to: tuple[str, ...]
    unless: JSON = None
    """A criteria tree (JSON form), e.g. the status is done or cancelled; None: always."""



@dataclass(frozen=True, slots=True)
class ValidationRuleDef:
    """A rule every save of the entity must keep (Salesforce's validation rules): when the
    record as it will be matches `when` (always, if None) it must match `require`, else the
    save is refused with `message`, pointed at `field` (the record, if None)."""

    name: str
    require: JSON
    """A criteria tree (JSON form) the saved record must match."""
    message: Labels
    when: JSON = None
    field: str | None = None
    on: tuple[str, ...] = ("create", "update")
    """The write commands the rule checks."""

@dataclass(frozen=True, slots=True)
class MatchKeyDef:
    """A stored duplicate-match key: `field`'s value through the `normalisers`, kept in
    `column`; `trigram`: a fuzzy rule compares it, so PostgreSQL gives it a trigram index."""

    column: str
    field: str
    normalisers: tuple[str, ...]
    trigram: bool = False


@dataclass(frozen=True, slots=True)
class EntityDef:
    """An object of the CRM (lead, deal, person...): one table, one API resource."""

    name: str
    label: Labels
    plural_label: Labels
    table: str
    fields: tuple[FieldDef, ...]
    indexes: tuple[IndexDef, ...] = ()
    search_fields: tuple[str, ...] = ()
    title_field: str | None = None
    """The field lists link and lookups search by (the title's main field)."""
    title: tuple[TitlePart, ...] = ()
    """How a record is named on screens and in exports: the parsed `title` template, or
    the title field alone when the document has no template."""
    description: Labels = dc_field(default_factory=_empty)
    pack: str = ""
    group: str = ""
    """The navigation group it is listed under; empty: its pack's."""
    reminders: tuple[ReminderDef, ...] = ()
    """Due-date reminders (`metacrm.notifications.reminders`)."""
    validations: tuple[ValidationRuleDef, ...] = ()
    """Rules every save must keep (`metacrm.services.records.validation_rules`)."""
    match_keys: tuple[MatchKeyDef, ...] = ()
    """Normalised keys the duplicate rules of the entity compare: one stored, indexed
    column each (`storage.tables.match_key_columns`)."""
    source: SourceRef = SourceRef("")
    _by_name: Mapping[str, FieldDef] = dc_field(default_factory=_empty, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_by_name", MappingProxyType({f.name: f for f in self.fields})
        )

    def field(self, name: str) -> FieldDef | None:
        return self._by_name.get(name)

    def has_field(self, name: str) -> bool:
        return name in self._by_name

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def title_field_names(self) -> tuple[str, ...]:
        """The fields the record's title is made of."""
        return title_fields(self.title)

    def sortable(self, name: str) -> bool:
        """A field may be sorted on when an index leads with it (or it is `id`/a timestamp)."""
        if name in ("id", "created_at", "updated_at"):
            return True
        fdef = self._by_name.get(name)
        if fdef is None:
            return False
        if fdef.indexed or fdef.unique:
            return True
        return any(index.fields[0] == name for index in self.indexes)


@dataclass(frozen=True, slots=True)
class StateDef:
    """A pipeline state; `category` is open / won / lost."""

    name: str
    label: Labels
    category: str = "open"
    probability: int | None = None
    forecast_category: str | None = None
    """Explicit forecast category (reports derive one when None: `metacrm.reports`)."""
    color: str | None = None
    locked: bool = False
    unlocked_for: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TransitionDef:
    """A move between states; guarded by required fields and a criteria condition."""

    name: str
    label: Labels
    from_states: tuple[str, ...]
    to_state: str
    required_fields: tuple[str, ...] = ()
    condition: JSON = None
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PipelineDef:
    name: str
    label: Labels
    entity: str
    states: tuple[StateDef, ...]
    transitions: tuple[TransitionDef, ...] = ()
    initial_state: str = ""
    pack: str = ""
    source: SourceRef = SourceRef("")

    def state(self, name: str) -> StateDef | None:
        return next((s for s in self.states if s.name == name), None)

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)


@dataclass(frozen=True, slots=True)
class EntityPermission:
    """What one role may do with one entity. Scopes: none / own / team / all."""

    read: str = "none"
    create: str = "none"
    update: str = "none"
    delete: str = "none"
    export: str = "none"
    rules: tuple[JSON, ...] = ()
    fields: Mapping[str, str] = dc_field(default_factory=_empty)
    """Field security: field name -> `hidden` or `read_only`."""
    import_: str = "none"
    """The `import` right (a Python keyword, hence the underscore): not `none` lets the role
    import files into the entity; the rows still need the create or update scope."""

    def scope_of(self, operation: str) -> str:
        """The scope this permission grants `operation` (`import` included)."""
        return str(getattr(self, "import_" if operation == "import" else operation))

    def __getitem__(self, operation: str) -> str:
        """`permission["import"]` in templates, where `.import` cannot be written."""
        if operation not in ("read", "create", "update", "delete", "export", "import"):
            raise KeyError(operation)
        return self.scope_of(operation)


@dataclass(frozen=True, slots=True)
class RoleDef:
    name: str
    label: Labels
    entities: Mapping[str, EntityPermission] = dc_field(default_factory=_empty)
    transitions: Mapping[str, tuple[str, ...]] = dc_field(default_factory=_empty)
    """Pipeline name -> transition names this role may perform (`*` = all)."""
    admin: bool = False
    pack: str = ""
    source: SourceRef = SourceRef("")


@dataclass(frozen=True, slots=True)
class ActionDef:
    """One action of a trigger; `type` names an entry of the actions registry."""

    type: str
    params: Mapping[str, JSON] = dc_field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class TriggerDef:
    name: str
    label: Labels
    entity: str
    event: str
    actions: tuple[ActionDef, ...]
    condition: JSON = None
    mode: str = "async"
    enabled: bool = True
    options: Mapping[str, JSON] = dc_field(default_factory=_empty)
    """Event-specific settings: watched fields, from/to states, offsets, cron."""
    pack: str = ""
    source: SourceRef = SourceRef("")
    condition_before: JSON = None
    """A criteria tree on the record before the change (updated, field_changed,
    transitioned); `condition` is checked on the record after it."""


@dataclass(frozen=True, slots=True)
class ViewDef:
    """A list layout (`columns`, default filter and sort) or a form layout (`sections`)."""

    name: str
    label: Labels
    entity: str
    type: str
    columns: tuple[str, ...] = ()
    sections: tuple[Mapping[str, JSON], ...] = ()
    filter: JSON = None
    sort: tuple[str, ...] = ()
    pack: str = ""
    source: SourceRef = SourceRef("")


@dataclass(frozen=True, slots=True)
class DimensionDef:
    """One grouping of a report: a field path (`field` or `reference.field`) and, for
    date and datetime fields, a bucket (day / week / month / quarter / year)."""

    path: str
    bucket: str | None = None
    label: Labels = dc_field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class SnapshotDef:
    """A report's `snapshot`: when the scheduler takes its result (`schedule`, a cron
    expression in UTC) and how many of the newest snapshots are kept."""

    schedule: str
    keep: int = 100


@dataclass(frozen=True, slots=True)
class SubscriptionDef:
    """One of a report's `subscriptions`: mailed at each slot of `schedule` (cron, UTC)
    to the users with one of `roles` and the users named in `users` (login names), each
    run with `parameters` as that user."""

    name: str
    schedule: str
    roles: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    parameters: Mapping[str, JSON] = dc_field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class ReportDef:
    """A report document compiled (see docs/reports.md): `dimensions` are the groups
    (`group_by`, paths such as `company.industry`, with an optional date bucket);
    `columns` the matrix's column dimension or the list's fields; `metrics` mappings of
    op, field, name, label, filter, where, currency, numerator, denominator."""

    name: str
    label: Labels
    entity: str
    group_by: tuple[str, ...] = ()
    metrics: tuple[Mapping[str, JSON], ...] = ()
    filter: JSON = None
    chart: str | None = None
    pack: str = ""
    source: SourceRef = SourceRef("")
    type: str = "summary"
    dimensions: tuple[DimensionDef, ...] = ()
    columns: tuple[DimensionDef, ...] = ()
    where: Mapping[str, tuple[str, ...]] = dc_field(default_factory=_empty)
    pipeline: str | None = None
    date_field: str | None = None
    amount_field: str | None = None
    period: str | None = None
    totals: bool = True
    description: Labels = dc_field(default_factory=_empty)
    defaults: Mapping[str, JSON] = dc_field(default_factory=_empty)
    """Run parameters a run that does not give them uses (`period`, `owner`)."""
    snapshot: SnapshotDef | None = None
    """When the scheduler snapshots the result (None: never)."""
    subscriptions: tuple[SubscriptionDef, ...] = ()
    """Who gets the report by mail, and when (docs/reports.md "Scheduled reports")."""


@dataclass(frozen=True, slots=True)
class WidgetDef:
    """One tile of a dashboard: a report drawn as `chart` (`number`: a KPI with the change
    from the previous period), `metric` the result column drawn (None: the first metric),
    spanning `width` grid columns."""

    report: str
    chart: str
    metric: str | None = None
    label: Labels = dc_field(default_factory=_empty)
    width: int = 1


@dataclass(frozen=True, slots=True)
class DashboardDef:
    """A dashboard document compiled (see docs/reports.md): widgets on a grid of `columns`,
    seen by everyone or by the roles, teams and users of `shared_with` (a mapping of those
    keys to names; empty: everyone); `filters` the dashboard-wide filters offered."""

    name: str
    label: Labels
    widgets: tuple[WidgetDef, ...]
    description: Labels = dc_field(default_factory=_empty)
    shared_with: Mapping[str, tuple[str, ...]] = dc_field(default_factory=_empty)
    start_page: bool = False
    filters: tuple[str, ...] = ("period", "owner", "team")
    defaults: Mapping[str, JSON] = dc_field(default_factory=_empty)
    columns: int = 2
    pack: str = ""
    source: SourceRef = SourceRef("")


@dataclass(frozen=True, slots=True)
class ConversionTargetDef:
    """One record a conversion makes (or finds) from the source record.

    `fields`: target field <- source field; `constants`: target field <- literal JSON value;
    `links`: target reference field <- an earlier target of the same conversion; `match`:
    lists of target fields — an existing record equal on every field of one list (text
    compared ignoring case, empty values never equal) is reused instead of a new one.
    """

    name: str
    entity: str
    optional: bool = False
    fields: Mapping[str, str] = dc_field(default_factory=_empty)
    constants: Mapping[str, JSON] = dc_field(default_factory=_empty)
    links: Mapping[str, str] = dc_field(default_factory=_empty)
    match: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class ConversionDef:
    """Turns one record of `entity` (the document's `source`, e.g. a lead) into records of
    other entities in one step, then performs `transition` on it. `source_links`: source
    reference field <- target, set by the engine so the source remembers what it became."""

    name: str
    label: Labels
    entity: str
    transition: str
    targets: tuple[ConversionTargetDef, ...]
    source_links: Mapping[str, str] = dc_field(default_factory=_empty)
    description: Labels = dc_field(default_factory=_empty)
    pack: str = ""
    source: SourceRef = SourceRef("")

    def target(self, name: str) -> ConversionTargetDef | None:
        return next((t for t in self.targets if t.name == name), None)


@dataclass(frozen=True, slots=True)
class BusinessCalendarDef:
    """Working hours, holidays and time zone of some teams (`business_calendar` document).

    `calendar` answers business-time questions with the explicit holiday dates; a `country`
    (and `subdivision`) adds that country's public holidays at run time
    (`automation.business_calendars`), which needs the `holidays` package.
    """

    name: str
    label: Labels
    calendar: BusinessCalendar
    country: str | None = None
    subdivision: str | None = None
    teams: tuple[str, ...] = ()
    description: Labels = dc_field(default_factory=_empty)
    pack: str = ""
    source: SourceRef = SourceRef("")


SLA_METRICS = ("first_response", "resolution")
"""What an SLA policy times: until the first response, until the resolution."""


@dataclass(frozen=True, slots=True)
class SlaTargetDef:
    """Business minutes allowed for a metric, for a priority and/or a customer tier (None:
    any)."""

    metric: str
    minutes: int
    priority: str | None = None
    tier: str | None = None

    def specificity(self) -> int:
        return (2 if self.priority is not None else 0) + (1 if self.tier is not None else 0)


@dataclass(frozen=True, slots=True)
class SlaActionDef:
    """What happens at a warning, a breach or an escalation level: `notify` (`to`: owner,
    queue or user names), `reassign` (to `queue`), `raise_priority`."""

    type: str
    to: tuple[str, ...] = ()
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class SlaEscalationDef:
    after_minutes: int
    actions: tuple[SlaActionDef, ...]


@dataclass(frozen=True, slots=True)
class SlaMilestoneDef:
    """A metric's warning (`warn_before_minutes` before the due time), breach actions and
    escalation levels (each `after_minutes` of business time after the breach)."""

    warn_before_minutes: int | None = None
    on_warning: tuple[SlaActionDef, ...] = ()
    on_breach: tuple[SlaActionDef, ...] = ()
    escalation: tuple[SlaEscalationDef, ...] = ()


@dataclass(frozen=True, slots=True)
class SlaPolicyDef:
    """Service targets of tickets in a calendar's business time (`sla_policy` document)."""

    name: str
    label: Labels
    calendar: str
    targets: tuple[SlaTargetDef, ...]
    pause_states: tuple[str, ...] = ()
    milestones: Mapping[str, SlaMilestoneDef] = dc_field(default_factory=_empty)
    applies_when: JSON = None
    rank: int = 100
    description: Labels = dc_field(default_factory=_empty)
    pack: str = ""
    source: SourceRef = SourceRef("")

    def target(self, metric: str, priority: str | None, tier: str | None) -> SlaTargetDef | None:
        """The most specific target of `metric` matching a priority and tier."""
        fitting = [t for t in self.targets if t.metric == metric
                   and t.priority in (None, priority) and t.tier in (None, tier)]
        return max(fitting, key=SlaTargetDef.specificity, default=None)

    def milestone(self, metric: str) -> SlaMilestoneDef:
        return self.milestones.get(metric) or SlaMilestoneDef()


@dataclass(frozen=True, slots=True)
class WebFormFieldDef:
    """One lead field a web form shows."""

    field: str
    label: Labels = dc_field(default_factory=_empty)
    required: bool = False


@dataclass(frozen=True, slots=True)
class WebFormConsentDef:
    """A web form's consent checkbox."""

    purpose: str
    text: Labels
    required: bool = False
    double_opt_in: bool = False


@dataclass(frozen=True, slots=True)
class WebFormDef:
    """A web-to-lead form (`web_form` document, docs/marketing.md)."""

    name: str
    label: Labels
    fields: tuple[WebFormFieldDef, ...]
    entity: str = "lead"
    consent: WebFormConsentDef | None = None
    source: str = "website"
    redirect_url: str | None = None
    allowed_origins: tuple[str, ...] = ()
    submissions_per_hour: int = 20
    thank_you: Labels = dc_field(default_factory=_empty)
    description: Labels = dc_field(default_factory=_empty)
    pack: str = ""
    source_ref: SourceRef = SourceRef("")


@dataclass(frozen=True, slots=True)
class RelatedListDef:
    """Records of `entity` whose reference `field` points at the rendered record."""

    name: str
    entity: str
    field: str
    sort: tuple[str, ...] = ()
    limit: int = 500


@dataclass(frozen=True, slots=True)
class DocumentTemplateDef:
    """An HTML template rendered to PDF for a record of `entity` (`metacrm.documents`)."""

    name: str
    label: Labels
    entity: str
    language: str
    body: str
    header: str = ""
    footer: str = ""
    styles: str = ""
    file_name: str | None = None
    page_size: str = "A4"
    orientation: str = "portrait"
    margin_mm: float = 20.0
    related: tuple[RelatedListDef, ...] = ()
    description: Labels = dc_field(default_factory=_empty)
    pack: str = ""
    source: SourceRef = SourceRef("")


@dataclass(frozen=True, slots=True)
class DuplicateConditionDef:
    """One condition of a duplicate rule: the stored key `key` (a column of the entity's
    table) equal to the checked value's key, or similar to it (`fuzzy`, at `threshold`)."""

    field: str
    key: MatchKeyDef
    fuzzy: bool = False
    threshold: float = 0.6


@dataclass(frozen=True, slots=True)
class DuplicateRuleDef:
    """Records of `entity` whose keys match on all (`and`) or any (`or`) condition are
    duplicates; `action` warn or block, on the saves named in `on` (create, update)."""

    name: str
    label: Labels
    entity: str
    conditions: tuple[DuplicateConditionDef, ...]
    action: str = "warn"
    on: frozenset[str] = frozenset({"create", "update"})
    operator: str = "or"
    description: Labels = dc_field(default_factory=_empty)
    pack: str = ""
    source: SourceRef = SourceRef("")


@dataclass(frozen=True, slots=True)
class CompiledModel:
    """The whole CRM as one immutable value; compiled once per metadata version."""

    entities: Mapping[str, EntityDef] = dc_field(default_factory=_empty)
    pipelines: Mapping[str, PipelineDef] = dc_field(default_factory=_empty)
    roles: Mapping[str, RoleDef] = dc_field(default_factory=_empty)
    triggers: Mapping[str, TriggerDef] = dc_field(default_factory=_empty)
    views: Mapping[str, ViewDef] = dc_field(default_factory=_empty)
    reports: Mapping[str, ReportDef] = dc_field(default_factory=_empty)
    conversions: Mapping[str, ConversionDef] = dc_field(default_factory=_empty)
    calendars: Mapping[str, BusinessCalendarDef] = dc_field(default_factory=_empty)
    document_templates: Mapping[str, DocumentTemplateDef] = dc_field(default_factory=_empty)
    duplicate_rules: Mapping[str, DuplicateRuleDef] = dc_field(default_factory=_empty)
    dashboards: Mapping[str, DashboardDef] = dc_field(default_factory=_empty)
    sla_policies: Mapping[str, SlaPolicyDef] = dc_field(default_factory=_empty)
    web_forms: Mapping[str, WebFormDef] = dc_field(default_factory=_empty)
    checksum: str = ""
    """Hash of the source documents: equal checksums mean an equal model."""

    def entity(self, name: str) -> EntityDef | None:
        return self.entities.get(name)

    def duplicate_rules_of(self, entity: str) -> tuple[DuplicateRuleDef, ...]:
        """The duplicate rules of `entity`, by name."""
        return tuple(rule for _, rule in sorted(self.duplicate_rules.items())
                     if rule.entity == entity)
