"""Benchmark: an inbound SMS or call to the caller's timeline (issue 15's inbound target,
p95 ≤ 10 s, as for email).

    python bench/sms_inbound.py [--url URL] [--people 2000] [--messages 200]

Default database: a SQLite file in a temporary folder; with a PostgreSQL URL the benchmark
works in a private schema dropped at the end. The shipped packs are applied, `--people`
people with mobile numbers are created, then `--messages` webhooks are handled through
`TelephonyIntake` (what `/api/v1/channels/sms/inbound` and `/voice/inbound` call after the
signature check): a third are SMS from known people, a third calls from known people, a
third SMS from unknown numbers (each becomes a lead). Each is timed from the webhook's form
to the item being on the record's timeline (`TimelineService.page` returns it); reported:
median and 95th percentile in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from email_inbound import database

SECRET_KEY = "bench-" + "x" * 40  # a throw-away key of a scratch instance
METADATA = Path(__file__).resolve().parents[1] / "metadata"
CRM_NUMBER = "+12025550143"


def mobile(i: int) -> str:
    return f"+1415555{i:04d}"  # valid US numbers, one per person


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()

    from metacrm.automation.subject import automation_subject
    from metacrm.composition import build_services
    from metacrm.metadata.loader import read_documents
    from metacrm.settings import Settings, TelephonyNumber, TelephonySettings

    with database(args.url) as url, tempfile.TemporaryDirectory() as scratch:
        settings = Settings(database_url=url, metadata_paths=(Path(scratch) / "packs",),
                            redis_url=None, instance_path=Path(scratch) / "instance",
                            secret_key=SECRET_KEY, telephony=TelephonySettings(
                                "AC" + "0" * 32, "bench-token", (TelephonyNumber(CRM_NUMBER),),
                                api_base="http://127.0.0.1:9"))
        services = build_services(settings)
        try:
            documents, errors = read_documents([METADATA])
            assert not errors, errors
            services.metadata.apply(documents, author="bench")
            records = services.records
            admin = automation_subject(records.runtime().model, "bench")
            for start in range(0, args.people, 1000):
                records.bulk_create(admin, "person", [
                    {"last_name": f"P{i}", "mobile": mobile(i)}
                    for i in range(start, min(args.people, start + 1000))])
            telephony = services.telephony
            assert telephony is not None
            times: list[float] = []
            for i in range(args.messages):
                kind = i % 3
                sender = mobile(i % args.people) if kind < 2 else f"+1202555{i:04d}"
                form = {"From": sender, "To": CRM_NUMBER, "AccountSid": "AC" + "0" * 32}
                started = time.perf_counter()
                if kind == 1:
                    received = telephony.intake.receive_call({**form, "CallSid": f"CA{i:032d}",
                                                              "CallStatus": "ringing"})
                else:
                    received = telephony.intake.receive_sms({**form, "MessageSid": f"SM{i:032d}",
                                                             "Body": f"Message {i}"})
                regarding = received.regarding or {}
                page = services.timeline.page(admin, regarding["entity"], regarding["id"],
                                              kinds=["call" if kind == 1 else "sms_message"],
                                              limit=1)
                assert page.entries and page.entries[0].data["record"]["id"] == \
                    received.record_id, (kind, page)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(f"{args.messages} SMS and calls, {args.people} people: median "
                  f"{statistics.median(times):.1f} ms, p95 {p95:.1f} ms (target 10,000 ms)")
        finally:
            services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
