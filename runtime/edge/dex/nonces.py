"""One wallet's nonces, counted locally: transactions go out without waiting for each other.

At start the next nonce is the chain's pending count, or past every swap the journal holds if
that is higher (a journaled transaction the node has not seen yet still owns its nonce). A
nonce is taken and used under one lock, in order; one the node refused outright was never used
is handed out again (counted afresh), so no gap ever stalls the transactions after it.
"""

from __future__ import annotations

import asyncio

from eth_typing import ChecksumAddress

from .chain_client import ChainClient
from .tx_journal import TxJournal


class NonceManager:
    def __init__(self, client: ChainClient, address: ChecksumAddress, journal: TxJournal) -> None:
        self.client = client
        self.address = address
        self.journal = journal
        self.lock = asyncio.Lock()  # held from taking a nonce until its transaction is sent or given back
        self._next: int | None = None

    async def take(self) -> int:
        """The next nonce (hold `lock`)."""
        assert self.lock.locked(), "take a nonce under the manager's lock"
        if self._next is None:
            self._next = max(await self.client.nonce(self.address, "pending"),
                             self.journal.next_nonce(self.address))
        nonce = self._next
        self._next += 1
        return nonce

    def give_back(self) -> None:
        """The last nonce taken was not used: the node refused its transaction. The next is counted
        afresh (the chain's and the journal's), so a nonce the node calls too low is not offered again."""
        self._next = None
