"""The legacy ``retry`` strategy (``"site_strategy": "retry"``): the bridge regenerates a
message the user captured on the site (its session and message ids) instead of starting a
new conversation. Everything only that strategy needs lives here, behind
:class:`~lmarena_bridge.site.legacy.strategy.LegacyRetryStrategy`: the seed payload, the
endpoint rotation, the seed-era error strings and the id side channel
(docs/site-protocol.md §4).
"""
