"""A burst of work items goes to RQ as a few jobs that several workers share, never as one
giant job nor as one job per item."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from metacrm.jobs.rq_queue import MAX_ITEMS_PER_JOB, SPREAD_JOBS, job_chunks


def test_small_and_large_bursts() -> None:
    assert job_chunks([]) == []
    assert job_chunks(["a"]) == [["a"]]
    assert job_chunks(list("abc")) == [["a"], ["b"], ["c"]]
    assert [len(c) for c in job_chunks([str(n) for n in range(9)])] == [3, 2, 2, 2]
    assert [len(c) for c in job_chunks([str(n) for n in range(25)])] == [7, 6, 6, 6]
    assert [len(c) for c in job_chunks([str(n) for n in range(95)])] == [10] * 5 + [9] * 5


@given(st.lists(st.uuids().map(str), unique=True, max_size=300))
def test_every_item_in_exactly_one_job_in_order(ids: list[str]) -> None:
    chunks = job_chunks(ids)
    assert [item for chunk in chunks for item in chunk] == ids
    sizes = [len(chunk) for chunk in chunks]
    assert all(1 <= size <= MAX_ITEMS_PER_JOB for size in sizes)
    assert not sizes or max(sizes) - min(sizes) <= 1
    assert len(chunks) >= min(len(ids), SPREAD_JOBS)
