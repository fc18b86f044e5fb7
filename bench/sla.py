"""Benchmark: recomputing one ticket's SLA clocks (target: ≤ 1 ms a ticket).

    python bench/sla.py [--tickets 2000] [--segments 12] [--repeat 5]

What a save or a tick of the milestone job does per ticket (`kernel.sla_clock`): read both
clocks (first response and resolution) from the ticket's stored segments on the support
calendar (Mon–Fri 09:00–18:00 with a lunch break, Europe/Moscow), plus the warning instant.
Each ticket has `--segments` state changes (running / paused) spread over up to two weeks,
with "now" up to three weeks after it opened. Pure computation: no database. Reported: the
median and 95th percentile per ticket (wall clock) over `--repeat` passes, and the
average CPU time per ticket (a loaded machine's preemptions show in the p95, not in it).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock

from metacrm.kernel.business_time import BusinessCalendar, day_intervals, weekly
from metacrm.kernel.sla_clock import Segment, read_clock, warning_at

CALENDAR = BusinessCalendar("Europe/Moscow", weekly({
    day: day_intervals(clock(9), clock(18), [(clock(13), clock(14))])
    for day in ("mon", "tue", "wed", "thu", "fri")}))


def tickets(count: int, segments: int, seed: int = 7
            ) -> list[tuple[list[Segment], datetime]]:
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        start = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(minutes=rng.randrange(525600))
        moments = sorted(start + timedelta(minutes=rng.randrange(1, 20160))
                         for _ in range(segments - 1))
        history = [Segment(start)] + [Segment(m, paused=i % 2 == 0)
                                      for i, m in enumerate(moments)]
        made.append((history, start + timedelta(minutes=rng.randrange(30240))))
    return made


def recompute(history: list[Segment], now: datetime) -> None:
    read_clock(CALENDAR, history, timedelta(hours=4), now)
    read_clock(CALENDAR, history, timedelta(hours=45), now)
    warning_at(CALENDAR, history, timedelta(hours=4), timedelta(hours=1), now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--segments", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = tickets(args.tickets, args.segments)
    per_ticket: list[float] = []
    cpu_began = time.process_time()
    for _ in range(args.repeat):
        for history, now in work:
            began = time.perf_counter()
            recompute(history, now)
            per_ticket.append((time.perf_counter() - began) * 1000)
    cpu_ms = (time.process_time() - cpu_began) * 1000 / (args.tickets * args.repeat)
    per_ticket.sort()
    print(f"{args.tickets} tickets x {args.repeat}, {args.segments} segments each: "
          f"median {statistics.median(per_ticket):.3f} ms, "
          f"p95 {per_ticket[int(len(per_ticket) * 0.95)]:.3f} ms per ticket "
          f"(both clocks and the warning); CPU {cpu_ms:.3f} ms per ticket on average")


if __name__ == "__main__":
    main()
