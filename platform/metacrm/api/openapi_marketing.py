"""OpenAPI path items and schemas of the marketing API (`api.marketing`), listed when the
model has segments and campaigns (the marketing pack)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import (
    BODY_ERRORS,
    READ_ERRORS,
    RECORDS,
    json_answer,
    on_record,
    operation,
)
from metacrm.api.openapi_schemas import english, ref
from metacrm.marketing.segments import AUDIENCE_ENTITIES
from metacrm.metadata.model import CompiledModel

Schema = dict[str, Any]
SEGMENT, CAMPAIGN = "segment", "campaign"
COUNT: Schema = {"type": "object", "additionalProperties": False, "required": ["count"],
                 "properties": {"count": {"type": "integer", "minimum": 0}}}
AMOUNT: Schema = {"type": ["string", "null"], "description": "A decimal number as text."}


def marketing_schemas(model: CompiledModel) -> dict[str, Schema]:
    """`SegmentCount`, `SegmentPreview` and `CampaignResults` (none without the pack)."""
    if model.entity(SEGMENT) is None or model.entity(CAMPAIGN) is None:
        return {}
    counted = {"type": ["integer", "null"], "minimum": 0,
               "description": "Null when the caller may not read that entity."}
    return {
        "SegmentCount": COUNT,
        "SegmentPreview": {
            "type": "object", "additionalProperties": False, "required": ["entity"],
            "properties": {
                "entity": {"type": "string", "enum": list(AUDIENCE_ENTITIES)},
                "criteria": {"type": ["object", "null"],
                             "description": "A criteria tree over the entity's fields the "
                                            "caller may see (docs/metadata.md)."},
            },
        },
        "CampaignResults": {
            "type": "object", "additionalProperties": False,
            "required": ["campaign", "leads", "persons", "deals", "won_deals", "currency",
                         "actual_cost", "won_revenue", "cost_per_lead", "roi"],
            "properties": {
                "campaign": {"type": "string"}, "leads": counted, "persons": counted,
                "deals": counted, "won_deals": counted,
                "currency": {"type": ["string", "null"]},
                "actual_cost": AMOUNT, "won_revenue": AMOUNT, "cost_per_lead": AMOUNT,
                "roi": {"type": ["string", "null"],
                        "description": "(won revenue - actual cost) / actual cost."},
            },
        },
    }


def marketing_paths(model: CompiledModel) -> dict[str, Any]:
    segment, campaign = model.entity(SEGMENT), model.entity(CAMPAIGN)
    if segment is None or campaign is None:
        return {}
    segments = english(segment.plural_label) or SEGMENT
    campaigns = english(campaign.plural_label) or CAMPAIGN
    return {
        f"{RECORDS}/{SEGMENT}/{{id}}/count": on_record("get", operation(
            "segment_count", [segments], "How many members the segment resolves to now",
            json_answer("The count.", ref("SegmentCount")), READ_ERRORS,
            description="Counted exactly, within the caller's read scope and field "
                        "security. See docs/marketing.md.")),
        f"{RECORDS}/{SEGMENT}/{{id}}/freeze": on_record("post", operation(
            "segment_freeze", [segments], "Freeze a dynamic segment into a static list",
            json_answer("The segment.", ref(f"{SEGMENT}.single")), (*READ_ERRORS, "409"),
            description="The members the caller resolves now become the segment's "
                        "members; 409 when the segment is already static.")),
        "/api/v1/marketing/segment-preview": {"post": operation(
            "segment_preview", [segments],
            "Count the records criteria not yet saved would select",
            json_answer("The count.", ref("SegmentCount")), (*READ_ERRORS, *BODY_ERRORS),
            body=ref("SegmentPreview"))},
        f"{RECORDS}/{CAMPAIGN}/{{id}}/results": on_record("get", operation(
            "campaign_results", [campaigns], "What a campaign brought against what it cost",
            json_answer("The results.", ref("CampaignResults")), READ_ERRORS,
            description="Leads, persons, deals and won revenue naming the campaign, cost "
                        "per lead and ROI, counted within the caller's read scope.")),
    }
