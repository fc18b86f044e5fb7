"""OpenAPI path items and schemas of the marketing API (`api.marketing`), listed when the
model has segments and campaigns (the marketing pack)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import (
    BODY_ERRORS,
    READ_ERRORS,
    RECORD_ID,
    RECORDS,
    errors,
    json_answer,
    json_body,
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
        f"{RECORDS}/{SEGMENT}/{{id}}/count": {"parameters": [RECORD_ID], "get": {
            "operationId": "segment_count", "tags": [segments],
            "summary": "How many members the segment resolves to now",
            "description": "Counted exactly, within the caller's read scope and field "
                           "security. See docs/marketing.md.",
            "responses": {"200": json_answer("The count.", ref("SegmentCount")),
                          **errors(*READ_ERRORS)},
        }},
        f"{RECORDS}/{SEGMENT}/{{id}}/freeze": {"parameters": [RECORD_ID], "post": {
            "operationId": "segment_freeze", "tags": [segments],
            "summary": "Freeze a dynamic segment into a static list",
            "description": "The members the caller resolves now become the segment's "
                           "members; 409 when the segment is already static.",
            "responses": {"200": json_answer("The segment.", ref(f"{SEGMENT}.single")),
                          **errors(*READ_ERRORS, "409")},
        }},
        "/api/v1/marketing/segment-preview": {"post": {
            "operationId": "segment_preview", "tags": [segments],
            "summary": "Count the records criteria not yet saved would select",
            "requestBody": json_body(ref("SegmentPreview")),
            "responses": {"200": json_answer("The count.", ref("SegmentCount")),
                          **errors(*READ_ERRORS, *BODY_ERRORS)},
        }},
        f"{RECORDS}/{CAMPAIGN}/{{id}}/results": {"parameters": [RECORD_ID], "get": {
            "operationId": "campaign_results", "tags": [campaigns],
            "summary": "What a campaign brought against what it cost",
            "description": "Leads, persons, deals and won revenue naming the campaign, cost "
                           "per lead and ROI, counted within the caller's read scope.",
            "responses": {"200": json_answer("The results.", ref("CampaignResults")),
                          **errors(*READ_ERRORS)},
        }},
    }
