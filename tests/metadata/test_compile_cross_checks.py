"""Checks across documents: references, pipelines, roles, triggers, views, reports, criteria."""

from __future__ import annotations

from typing import Any

from metadata_builders import (
    as_documents,
    compile_errors,
    compiled,
    document,
    entity,
    field,
    find,
    labels,
    pipeline,
    transition,
)

from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.kernel.errors import MetadataInvalid
from metacrm.metadata.compiler import compile_model


def deal(*extra_fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return entity("deal", field("title"), field("amount", "money", currency="USD"),
                  field("stage", "state", pipeline="deal_flow"), *extra_fields, **extra)


def flow(**extra: Any) -> dict[str, Any]:
    body = pipeline("deal_flow", "deal", ["new", "won", "lost"], [
        transition("win", ["new"], "won"), transition("lose", "*", "lost")])
    return {**body, **extra}


def test_a_consistent_model_compiles(registry: FieldTypeRegistry) -> None:
    model = compiled(
        registry, deal(), flow(initial_state="new"),
        document("role", "rep", entities={"deal": {"read": "own", "update": "own",
                                                   "fields": {"amount": "read_only"}}},
                 transitions={"deal_flow": ["win"]}),
    )

    assert model.pipelines["deal_flow"].initial_state == "new"
    assert model.pipelines["deal_flow"].transitions[1].from_states == ("*",)
    assert model.roles["rep"].entities["deal"].read == "own"
    assert model.roles["rep"].entities["deal"].delete == "none"
    assert model.roles["rep"].transitions == {"deal_flow": ("win",)}


def test_reference_to_unknown_entity(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, entity("deal", field("company", "reference",
                                                           entity="compnay")),
                            entity("company"))

    assert find(errors, "test/deal.json", "/fields/0/entity").message == (
        "field 'company' refers to unknown entity 'compnay' (did you mean 'company'?)")


def test_state_field_must_name_a_pipeline_of_its_own_entity(
    registry: FieldTypeRegistry
) -> None:
    errors = compile_errors(
        registry,
        deal(field("phase", "state", pipeline="nowhere")),
        flow(),
        entity("lead", field("status", "state", pipeline="deal_flow")),
    )

    assert find(errors, "test/deal.json", "/fields/3/pipeline").message == (
        "field 'phase' names unknown pipeline 'nowhere'")
    assert find(errors, "test/lead.json", "/fields/0/pipeline").message == (
        "pipeline 'deal_flow' belongs to entity 'deal', not 'lead'")


def test_state_default_must_be_a_state(registry: FieldTypeRegistry) -> None:
    body = deal()
    body["fields"][2]["default"] = "wonn"

    errors = compile_errors(registry, body, flow())

    assert find(errors, "test/deal.json", "/fields/2/default").message == (
        "the default 'wonn' is not a state of pipeline 'deal_flow' (did you mean 'won'?)")


def test_pipeline_checks(registry: FieldTypeRegistry) -> None:
    broken = pipeline("deal_flow", "deal", ["new", "won", "new"], [
        transition("win", ["new", "open"], "wonn", required_fields=["amout"],
                   roles=["nobody"]),
        transition("win", "*", "won"),
    ], initial_state="start")

    errors = compile_errors(registry, deal(), broken)

    assert [(e.pointer, e.message) for e in errors if e.source == "test/deal_flow.json"] == [
        ("/states/2/name", "duplicate state name 'new'"),
        ("/transitions/1/name", "duplicate transition name 'win'"),
        ("/initial_state", "unknown state 'start'"),
        ("/transitions/0/from/1", "unknown state 'open'"),
        ("/transitions/0/to", "unknown state 'wonn' (did you mean 'won'?)"),
        ("/transitions/0/roles/0", "unknown role 'nobody'"),
        ("/transitions/0/required_fields/0",
         "unknown field 'amout' of entity 'deal' (did you mean 'amount'?)"),
    ]


def test_pipeline_needs_an_existing_entity_with_one_state_field(
    registry: FieldTypeRegistry
) -> None:
    errors = compile_errors(
        registry,
        entity("lead", field("title")),
        pipeline("lead_flow", "lead"),
        pipeline("ticket_flow", "ticket"),
    )

    assert find(errors, "test/lead_flow.json", "/entity").message.startswith(
        "entity 'lead' has no state field for this pipeline")
    assert find(errors, "test/ticket_flow.json", "/entity").message == (
        "unknown entity 'ticket'")


def test_criteria_naming_unknown_fields_or_unsupported_operators(
    registry: FieldTypeRegistry
) -> None:
    errors = compile_errors(
        registry, deal(), flow(),
        document("view", "deals", entity="deal", type="list", columns=["title"],
                 filter={"and": [{"field": "titel", "op": "eq", "value": "x"},
                                 {"field": "title", "op": "gt", "value": "x"}]}),
    )

    assert find(errors, "test/deals.json", "/filter/and/0/field").message.startswith(
        "unknown field 'titel'")
    assert "does not support 'gt'" in find(errors, "test/deals.json", "/filter/and/1/op").message


def test_every_criteria_tree_is_checked(registry: FieldTypeRegistry) -> None:
    bad = {"field": "nope", "op": "eq", "value": 1}

    errors = compile_errors(
        registry, deal(),
        flow(transitions=[transition("win", ["new"], "won", condition=bad)]),
        document("role", "rep", entities={"deal": {"read": "all", "rules": [bad]}}),
        document("trigger", "t", entity="deal", event="created", condition=bad,
                 actions=[{"type": "notify"}]),
        document("report", "r", entity="deal", metrics=[{"op": "count"}], filter=bad),
    )

    assert {(e.source, e.pointer) for e in errors} == {
        ("test/deal_flow.json", "/transitions/0/condition/field"),
        ("test/rep.json", "/entities/deal/rules/0/field"),
        ("test/t.json", "/condition/field"),
        ("test/r.json", "/filter/field"),
    }


def test_role_checks(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(
        registry, deal(), flow(),
        document("role", "rep", entities={
            "dael": {"read": "all"},
            "deal": {"read": "all", "fields": {"amout": "hidden", "owner": "hidden"}},
        }, transitions={"deal_flow": ["win", "reopen"], "lead_flow": "*"}),
    )

    assert [(e.pointer, e.message) for e in errors] == [
        ("/entities/dael", "unknown entity 'dael' (did you mean 'deal'?)"),
        ("/entities/deal/fields/amout",
         "unknown field 'amout' of entity 'deal' (did you mean 'amount'?)"),
        ("/entities/deal/fields/owner",
         "'owner' is a system column; field security applies to the entity's own fields"),
        ("/transitions/deal_flow/1", "unknown transition 'reopen' of pipeline 'deal_flow'"),
        ("/transitions/lead_flow", "unknown pipeline 'lead_flow' (did you mean 'deal_flow'?)"),
    ]


def test_trigger_checks(registry: FieldTypeRegistry) -> None:
    action = [{"type": "notify"}]
    errors = compile_errors(
        registry, deal(), flow(),
        document("trigger", "changed", entity="deal", event="field_changed",
                 fields=["title", "titel"], actions=action),
        document("trigger", "moved", entity="deal", event="transitioned", pipeline="deal_flow",
                 transitions=["wiin"], from_states=["new"], to_states=["done"], actions=action),
        document("trigger", "late", entity="deal", event="time", date_field="title",
                 actions=action),
        document("trigger", "orphan", entity="ticket", event="created", actions=action),
    )

    assert [(e.source, e.pointer, e.message) for e in errors] == [
        ("test/changed.json", "/fields/1",
         "unknown field 'titel' of entity 'deal' (did you mean 'title'?)"),
        ("test/late.json", "/date_field",
         "field 'title' is a text; a time trigger needs a date or datetime field"),
        ("test/moved.json", "/transitions/0",
         "unknown transition 'wiin' of pipeline 'deal_flow' (did you mean 'win'?)"),
        ("test/moved.json", "/to_states/0", "unknown state 'done' of pipeline 'deal_flow'"),
        ("test/orphan.json", "/entity", "unknown entity 'ticket'"),
    ]


def test_view_checks(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(
        registry, deal(field("due", "date", indexed=True)), flow(),
        document("view", "deals", entity="deal", type="list",
                 columns=["title", "created_at", "nope"], sort=["-due", "title", "-created_at"]),
        document("view", "deal_form", entity="deal", type="form", sections=[
            {"label": labels(), "fields": ["title", "amount"]},
            {"label": labels(), "fields": ["title", "stag"]}]),
    )

    assert [(e.source, e.pointer, e.message) for e in errors] == [
        ("test/deal_form.json", "/sections/1/fields/0",
         "field 'title' is already placed at /sections/0/fields/0"),
        ("test/deal_form.json", "/sections/1/fields/1",
         "unknown field 'stag' of entity 'deal' (did you mean 'stage'?)"),
        ("test/deals.json", "/columns/2", "unknown field 'nope' of entity 'deal'"),
        ("test/deals.json", "/sort/1",
         "cannot sort on 'title': only indexed fields sort fast; mark it \"indexed\" or "
         "declare an index that starts with it"),
    ]


def test_report_checks(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(
        registry, deal(field("tags", "multi_picklist", choices=[{"value": "a",
                                                                  "label": labels()}])),
        flow(),
        document("report", "r", entity="deal", group_by=["stage", "stgae"], metrics=[
            {"op": "count"}, {"op": "count", "field": "title"}, {"op": "sum", "field": "title"},
            {"op": "max", "field": "tags"}, {"op": "avg", "field": "created_at"},
            {"op": "sum", "field": "amount", "name": "count"}]),
    )

    assert [(e.pointer, e.message) for e in errors] == [
        ("/group_by/1", "unknown field 'stgae' of entity 'deal' (did you mean 'stage'?)"),
        ("/metrics/2/field", "'sum' needs a numeric field; 'title' is a text"),
        ("/metrics/3/field", "'max' needs a field with an order; 'tags' is a multi_picklist"),
        ("/metrics/4/field", "'avg' needs a numeric field; 'created_at' is a system column"),
        ("/metrics/5", "two metrics are named 'count'; give one a \"name\""),
    ]


def test_report_metric_names_default_to_op_and_field(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, deal(), flow(), document(
        "report", "r", entity="deal", group_by=["stage"],
        metrics=[{"op": "count"}, {"op": "sum", "field": "amount"}], chart="funnel"))

    assert [m["name"] for m in model.reports["r"].metrics] == ["count", "sum_amount"]


def test_dashboard_checks(registry: FieldTypeRegistry) -> None:
    by_stage = document("report", "by_stage", entity="deal", group_by=["stage"],
                        metrics=[{"op": "count"}, {"op": "sum", "field": "amount"}])
    listing = document("report", "listing", entity="deal", type="list", columns=["title"])
    errors = compile_errors(
        registry, deal(), flow(), by_stage, listing,
        document("dashboard", "d", shared_with={"roles": ["rpe"]}, widgets=[
            {"report": "by_stge"}, {"report": "by_stage", "metric": "sum_amout"},
            {"report": "listing", "chart": "bar"}, {"report": "by_stage", "metric": "count"}]),
    )

    assert [(e.pointer, e.message) for e in errors] == [
        ("/shared_with/roles/0", "unknown role 'rpe'"),
        ("/widgets/0/report", "unknown report 'by_stge' (did you mean 'by_stage'?)"),
        ("/widgets/1/metric", "'sum_amout' is not a metric of report 'by_stage' "
                              "(did you mean 'sum_amount'?)"),
        ("/widgets/2/chart", "a list report shows as a table"),
    ]


def test_a_dashboard_compiles_with_its_defaults(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, deal(), flow(), document(
        "report", "r", entity="deal", metrics=[{"op": "count"}]), document(
        "dashboard", "d", widgets=[{"report": "r", "chart": "number", "width": 2}]))

    dashboard = model.dashboards["d"]
    assert dashboard.filters == ("period", "owner", "team") and dashboard.columns == 2
    assert not dashboard.start_page and not dashboard.shared_with
    assert (dashboard.widgets[0].chart, dashboard.widgets[0].width) == ("number", 2)


def test_duplicate_documents_across_files_are_refused(registry: FieldTypeRegistry) -> None:
    documents = [*as_documents(entity("deal"), pack="sales"),
                 *as_documents(entity("deal"), pack="custom")]

    try:
        compile_model(documents, registry)
    except MetadataInvalid as exc:
        assert [str(e) for e in exc.errors] == [
            "sales/deal.json /name: duplicate entity name 'deal': also defined in "
            "custom/deal.json"]
    else:
        raise AssertionError("duplicate documents compiled")


def test_all_errors_of_all_documents_are_reported_at_once(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(
        registry,
        entity("deal", field("select"), field("company", "reference", entity="nowhere")),
        entity("lead", field("owner"), field("x", "mystery")),
        document("view", "v", entity="deal", type="list", columns=["missing"]),
    )

    assert [(e.source, e.pointer) for e in errors] == [
        ("test/deal.json", "/fields/0/name"),
        ("test/deal.json", "/fields/1/entity"),
        ("test/lead.json", "/fields/0/name"),
        ("test/lead.json", "/fields/1/type"),
        ("test/v.json", "/columns/0"),
    ]


def test_compile_validates_documents_against_the_schemas_first(
    registry: FieldTypeRegistry
) -> None:
    errors = compile_errors(registry, entity("deal", field("title", lenght=3)))

    assert [(e.source, e.pointer, e.message) for e in errors] == [
        ("test/deal.json", "/fields/0/lenght", "unknown property 'lenght'")]
