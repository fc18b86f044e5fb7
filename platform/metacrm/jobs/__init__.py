"""Running asynchronous work: the outbox relay, the dispatcher, the queue adapters, and the
worker and scheduler processes.

The database is the record of what has to be done (`metacrm.storage.work_item_store`); a queue
only carries "please run item X" (`inline_queue` runs it in this process, `rq_queue` hands it
to RQ workers). See docs/operations.md, "Jobs, worker and scheduler".
"""
