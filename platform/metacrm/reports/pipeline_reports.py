"""Reports over a pipeline: funnel and time in stage (from the audit trail's state
entries), forecast (amounts by close-date period and forecast category, weighted by the
states' probabilities).

* funnel: per state in pipeline order (lost states left out), the records that entered it
  in the period; `conversion` = entered here / entered in the previous state, `drop_off`
  = 1 - conversion, `from_first` = entered here / entered in the first state;
* time in stage: per state, the completed stays (entered, then left for another state) of
  records entering it in the period: their number, average and median in hours
  (calendar time);
* forecast: open and won records (lost ones left out) by the close-date period, forecast
  category and the report's `group_by` (e.g. owner): count, amount and amount weighted by
  the state's probability. Categories: a state's `forecast_category` (`omitted`: not
  forecast), else `closed` for won states, none for lost ones, `commit` from 70 %,
  `best_case` from 40 %, `pipeline` below.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

import sqlalchemy as sa

from metacrm.access.aggregate_query import AggregateQuery, Dimension, Measure, StateEntry
from metacrm.access.scoped_repository import ScopedRepository
from metacrm.metadata.model import EntityDef, PipelineDef, ReportDef, StateDef
from metacrm.reports.result import ReportResult, ResultColumn, json_value
from metacrm.reports.run_options import RunOptions
from metacrm.reports.summary import RATIO_PLACES, dimension_name
from metacrm.storage.date_buckets import bucket_name, bucket_start, bucket_value

HOURS = Decimal("0.01")
FORECAST_CATEGORIES = ("pipeline", "best_case", "commit", "closed")


def _label(en: str, ru: str) -> dict[str, str]:
    return {"en": en, "ru": ru}


def forecast_category(state: StateDef) -> str | None:
    """The forecast category of a state (None: not forecast — lost)."""
    if state.forecast_category is not None:
        return None if state.forecast_category == "omitted" else state.forecast_category
    if state.category == "lost":
        return None
    if state.category == "won":
        return "closed"
    probability = state.probability or 0
    return "commit" if probability >= 70 else "best_case" if probability >= 40 else "pipeline"


def state_field_of(entity: EntityDef, pipeline: PipelineDef) -> str:
    return next(f.name for f in entity.fields
                if f.type == "state" and f.option("pipeline") == pipeline.name)


def _ratio(part: int, whole: int) -> str | None:
    return None if not whole else format((Decimal(part) / whole).quantize(RATIO_PLACES), "f")


def _period(options: RunOptions) -> tuple[datetime | None, datetime | None]:
    if options.period is None:
        return None, None
    start, end = (datetime.fromisoformat(options.bound(d, is_datetime=True))
                  for d in options.period)
    return start, end


def _and(*trees: Any) -> Any:
    kept = [tree for tree in trees if tree is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else {"and": kept}


def funnel(conn: sa.Connection, scoped: ScopedRepository, report: ReportDef,
           entity: EntityDef, pipeline: PipelineDef, options: RunOptions,
           run_criteria: Any = None) -> ReportResult:
    since, until = _period(options)
    entered = scoped.state_entry_counts(conn, report.entity,
                                        state_field_of(entity, pipeline), since=since,
                                        until=until, criteria=_and(report.filter, run_criteria))
    states = [s for s in pipeline.states if s.category != "lost"]
    rows: list[dict[str, Any]] = []
    first = entered.get(states[0].name, 0) if states else 0
    previous: int | None = None
    for state in states:
        count = entered.get(state.name, 0)
        conversion = None if previous is None else _ratio(count, previous)
        rows.append({
            "state": state.name, "entered": count, "conversion": conversion,
            "drop_off": None if conversion is None
            else format(Decimal(1) - Decimal(conversion), "f"),
            "from_first": _ratio(count, first)})
        previous = count
    columns = [
        ResultColumn("state", _label("Stage", "Этап"), "dimension", "state"),
        ResultColumn("entered", _label("Entered", "Вошло"), "metric", "number"),
        ResultColumn("conversion", _label("Conversion", "Конверсия"), "metric", "ratio"),
        ResultColumn("drop_off", _label("Drop-off", "Отсев"), "metric", "ratio"),
        ResultColumn("from_first", _label("From the first stage", "От первого этапа"),
                     "metric", "ratio"),
    ]
    lost = sum(entered.get(s.name, 0) for s in pipeline.states if s.category == "lost")
    return ReportResult(columns, rows, {"entered": first, "lost": lost})


def _stays(entries: Sequence[StateEntry]) -> dict[str, list[float]]:
    """Completed stays per state, in hours: each entry until the record's next entry."""
    stays: dict[str, list[float]] = defaultdict(list)
    for this, following in pairwise(entries):
        if this.record_id != following.record_id or this.state is None:
            continue
        if following.state == this.state:
            continue
        stays[this.state].append((following.at - this.at).total_seconds() / 3600)
    return stays


def time_in_stage(conn: sa.Connection, scoped: ScopedRepository, report: ReportDef,
                  entity: EntityDef, pipeline: PipelineDef, options: RunOptions,
                  run_criteria: Any = None) -> ReportResult:
    since, until = _period(options)
    field = state_field_of(entity, pipeline)
    entries = scoped.state_entries(conn, report.entity, field,
                                   criteria=_and(report.filter, run_criteria))
    if since is not None and until is not None:
        keep = {i for i, e in enumerate(entries) if since <= e.at < until}
        # a stay counts when it started in the period; its end may be later
        pairs = [e for i, e in enumerate(entries) if i in keep or i - 1 in keep]
        entries = pairs
    stays = _stays(entries)
    rows = []
    for state in pipeline.states:
        if state.category != "open":
            continue
        hours = stays.get(state.name, [])
        rows.append({
            "state": state.name, "stays": len(hours),
            "average_hours": None if not hours
            else format(Decimal(statistics.fmean(hours)).quantize(HOURS), "f"),
            "median_hours": None if not hours
            else format(Decimal(statistics.median(hours)).quantize(HOURS), "f")})
    columns = [
        ResultColumn("state", _label("Stage", "Этап"), "dimension", "state"),
        ResultColumn("stays", _label("Stays", "Пребываний"), "metric", "number"),
        ResultColumn("average_hours", _label("Average, hours", "Среднее, часов"),
                     "metric", "hours"),
        ResultColumn("median_hours", _label("Median, hours", "Медиана, часов"),
                     "metric", "hours"),
    ]
    return ReportResult(columns, rows, {"stays": sum(len(v) for v in stays.values())})


def forecast(conn: sa.Connection, scoped: ScopedRepository, report: ReportDef,
             entity: EntityDef, pipeline: PipelineDef, options: RunOptions,
             run_criteria: Any) -> ReportResult:
    field = state_field_of(entity, pipeline)
    period = report.period or "quarter"
    date_field = report.date_field or "close_date"
    amount = report.amount_field or "amount"
    categories = {s.name: c for s in pipeline.states if (c := forecast_category(s))}
    weights = {s.name: int(s.probability or 0) for s in pipeline.states}
    extra = list(report.dimensions)
    query = AggregateQuery(
        dimensions=(Dimension(date_field, period, pointer="/date_field"),
                    Dimension(field, mapping=categories, pointer="/pipeline"),
                    *(Dimension(d.path, d.bucket, pointer=f"/group_by/{i}")
                      for i, d in enumerate(extra))),
        measures=(Measure("count"), Measure("sum", amount, pointer="/amount_field"),
                  Measure("weighted_sum", amount, weight_path=field, weights=weights,
                          pointer="/amount_field")),
        criteria=report.filter, where={**report.where, field: tuple(categories)},
        time_zone=options.time_zone, fiscal_start=options.fiscal_start,
        run_criteria=run_criteria)
    raw = scoped.aggregate(conn, report.entity, query)
    rows: list[dict[str, Any]] = []
    totals: dict[str, dict[str, Any]] = {}
    for row in raw:
        day = bucket_value(row[0])
        start = None if day is None else bucket_start(day, period, options.fiscal_start)
        count, total, weighted = row[-3:]
        weighted_amount = None if weighted is None else Decimal(weighted) / 100
        out = {"period": None if start is None else bucket_name(start, period,
                                                               options.fiscal_start),
               "forecast_category": row[1],
               **{dimension_name(d): json_value(v) for d, v in zip(extra, row[2:-3],
                                                                  strict=False)},
               "count": count, "amount": json_value(total),
               "weighted_amount": json_value(weighted_amount)}
        rows.append(out)
        bucket = totals.setdefault(str(row[1]), {"count": 0, "amount": Decimal(0),
                                                 "weighted_amount": Decimal(0)})
        bucket["count"] += count
        bucket["amount"] += total or 0
        bucket["weighted_amount"] += weighted_amount or 0
    order = {c: i for i, c in enumerate(FORECAST_CATEGORIES)}
    rows.sort(key=lambda r: (r["period"] is None, r["period"] or "",
                             order.get(r["forecast_category"], 9),
                             *(str(r.get(dimension_name(d)) or "") for d in extra)))
    columns = [
        ResultColumn("period", _label("Period", "Период"), "dimension", "bucket"),
        ResultColumn("forecast_category", _label("Forecast category", "Категория прогноза"),
                     "dimension", "value"),
        *(ResultColumn(dimension_name(d), d.label, "dimension", "value") for d in extra),
        ResultColumn("count", _label("Records", "Записей"), "metric", "number"),
        ResultColumn("amount", _label("Amount", "Сумма"), "metric", "number"),
        ResultColumn("weighted_amount", _label("Weighted amount", "Взвешенная сумма"),
                     "metric", "number"),
    ]
    return ReportResult(columns, rows, {
        category: {k: json_value(v) for k, v in values.items()}
        for category, values in sorted(totals.items(), key=lambda kv: order.get(kv[0], 9))})
