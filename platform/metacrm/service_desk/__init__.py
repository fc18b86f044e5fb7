"""The service desk: tickets timed by SLA policies in business time (docs/service.md).

`install(services)` (a core feature, `composition.FEATURES`) keeps every ticket's clock
segments and due times on each save (`saves`) and fires milestones — warnings, breaches,
escalation levels — once each from a periodic job (`milestones`). The clock arithmetic is
the pure `metacrm.kernel.sla_clock`; the ticket and its pipeline are the `service` pack's
metadata (`metadata/service/`). Without a `ticket` entity everything here is idle.
"""
