"""Which mails of one fetch batch must wait for which: plain Python, used by services/fetch.py.

Mails of a batch are processed several at a time, but two mails of one conversation must
not be: a reply processed before (or alongside) the mail it answers would open a second
ticket instead of threading. Mails are linked when they share any id among their
Message-ID, In-Reply-To and References (the union, so a chain A <- B <- C is one group even
when C names only B); each mail waits for the latest earlier mail of every group it joins,
so a group runs in listing order, one mail at a time, and groups run in parallel.
"""
from __future__ import annotations

from typing import Iterable


def conversation_ids(message_id: str | None, in_reply_to: Iterable[str],
                     references: Iterable[str]) -> set[str]:
    """The ids that link a mail to the others of its batch (case kept: Message-IDs are
    compared as stored)."""
    ids = {message_id} if message_id else set()
    ids.update(i for i in in_reply_to if i)
    ids.update(i for i in references if i)
    return ids


class ConversationOrder:
    """Fed the mails of a batch in listing order (`add`), answers which earlier mails each
    one waits for. A union-find over ids; each group remembers its latest mail."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}
        self._latest: dict[str, int] = {}  # group root -> index of its latest mail

    def _root(self, item: str) -> str:
        self._parent.setdefault(item, item)
        while self._parent[item] != item:
            self._parent[item] = self._parent[self._parent[item]]
            item = self._parent[item]
        return item

    def add(self, index: int, ids: set[str]) -> set[int]:
        """Record mail `index` with its ids; returns the indices of the earlier mails it must
        wait for (empty: it may start at once)."""
        if not ids:
            return set()
        roots = {self._root(i) for i in ids}
        waits = {self._latest[r] for r in roots if r in self._latest}
        root = roots.pop()
        for other in roots:
            self._parent[other] = root
            self._latest.pop(other, None)
        self._latest[root] = index
        return waits
