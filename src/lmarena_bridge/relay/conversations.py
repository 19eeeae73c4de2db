"""Site conversations the bridge started, so a client's next turn can continue one.

With ``reuse_site_sessions`` on, a request whose earlier turns are exactly a conversation
the bridge created (the same model, the same turns, and the bridge's own answer as the last
assistant turn) is sent as a follow-up (``post-to-evaluation``) with only the new user
turn; docs/site-protocol.md §5.6. Anything else starts a new conversation.
"""

from __future__ import annotations

import time
from collections import OrderedDict


class ConversationMemory:
    """Bounded, expiring map: conversation digest -> site session id. Event-loop use only."""

    def __init__(self, capacity: int = 512, ttl: float = 3600.0) -> None:
        self.capacity = capacity
        self.ttl = ttl
        self._items: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def remember(self, key: str, session_id: str) -> None:
        self._items[key] = (session_id, time.monotonic() + self.ttl)
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def session_for(self, key: str) -> str | None:
        found = self._items.get(key)
        if found is None:
            return None
        session_id, expires = found
        if expires < time.monotonic():
            del self._items[key]
            return None
        return session_id

    def forget(self, session_id: str) -> None:
        """Drop every entry of a session the site no longer accepts."""
        for key in [k for k, (sid, _) in self._items.items() if sid == session_id]:
            del self._items[key]

    def __len__(self) -> int:
        return len(self._items)
