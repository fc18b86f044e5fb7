"""Webhooks: record events POSTed to subscribers' URLs, signed (Standard Webhooks), retried.

Modules: `subscriptions` (the table), `requests` + `service` (what the API calls),
`matching` (which subscriptions hear an event, as their owners may see it), `payload`
(the owner's view of an event), `formats` (the payload versions built from that view),
`signing`, `addresses` (the SSRF guard), `sender` (one guarded POST), `consumer` (the
`webhook` work-item consumer: retries, delivery log, disabling), `attempts` (the delivery
log), `notify` (the owner's email), `action` (the automation action `call_webhook`),
`install` (wiring). The guide is the "Webhooks" and "Contract versioning" sections of
docs/api.md.
"""
