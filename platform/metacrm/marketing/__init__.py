"""Marketing (issue 17, docs/marketing.md): segments, the consent ledger, campaigns and
web-to-lead forms over the `marketing` pack's entities; mass mailings live in
`metacrm.marketing.mailings`.

`install(services)` (`metacrm.marketing.install`) sets `services.marketing`, a `Marketing`
with `.segments`, `.consent` and `.campaigns`.
"""
