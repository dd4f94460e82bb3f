"""The ledger's port: what the CC's domain code asks of its store, whatever the database.

A *unit of work* collects writes; one commit makes all of it durable or none of it. Writes
are synchronous and cheap (an append to the open unit: nothing waits for the database), so
the order path stays free of awaits until the one that matters:

- `await store.durable()` returns once everything written so far is committed. The order
  path awaits it before any edge hears of an order (write-ahead).
- `store.commit_soon(delay_s)` commits in a coming loop turn without waiting (booking an
  edge's answer: a crash before the commit is repaired by the edge replaying from the
  cursor saved in the same unit). Every writer in the meantime shares the commit.
- A unit nobody commits is committed by the store within `IDLE_COMMIT_S` of its first
  write (SQLite: within two ticks of a timer of that period), so a forgotten `commit_soon`
  delays durability and loses nothing.
- `with store.atomic():` makes a block of writes all-or-nothing inside the unit: an
  exception leaving it undoes the block's writes (and only them). Nested blocks join the
  outermost one; never `await` inside a block.
- A unit that cannot commit at all (the database is unreachable) is dropped whole and
  `durable()` raises `StoreUnavailable`: what it wrote ahead must not go out.

A write that breaks a constraint (a second order with the same client order id) raises
`StoreConflict`: from the write itself where the database sees it at once (SQLite), or from
the writer's `durable()` where it only shows at commit (PostgreSQL); either way the block
that broke it is dropped and the rest of the unit commits. Reads are `async` (PostgreSQL
answers over the network); they see at least everything committed.

`add_fill` must say at once whether a fill is new, since the caller books positions on it.
The store keeps the fill ids of every parent it has handed out (through a read) or been
given (`save_parent`) in memory, until the caller `release`s the parent (when the parent
leaves the caller's memory): the caller only books fills on parents it holds, which it got
from the store or created itself, so that index is exact and bounded by what the caller
holds; the database's unique fill id stays the backstop. A fill for a parent the store was
never shown raises `LookupError` (load the parent first). Algo fills have no parent: their
ids are kept for the most recent `ALGO_FILL_WINDOW` (loaded at open), since an edge only
repeats a fill it re-records after its own crash, seconds later; one older than the window
is still refused by the database's unique key and counted in `late_duplicates`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from seqmesh.runtime.cc.domain import Child, ClientRecord, Fill, Parent, ParentState

#: seconds after a unit's first write by which the store commits it if no writer asked (SQLite: twice that)
IDLE_COMMIT_S = 0.05
#: algo fill ids kept in memory for duplicate detection
ALGO_FILL_WINDOW = 100_000


class StoreConflict(Exception):
    """A write broke a uniqueness rule (e.g. a client order id used twice); it was dropped."""


class StoreUnavailable(Exception):
    """The unit could not be committed (the database is unreachable or failed); nothing of it was kept."""


@dataclass(frozen=True)
class StoredCredential:
    """A client's venue credential as the CC keeps it: sealed, its data key wrapped for the venue's
    edges (base64 text), with what may be shown (fingerprint, the venue's permissions)."""

    credential_id: str
    client: str
    venue: str
    key_fingerprint: str
    permissions: tuple[str, ...]
    created_ns: int
    wrap_key_id: str
    wrapped_key: str
    sealed: str


@dataclass(frozen=True)
class MarketSample:
    """A market trade or mid the CC saw, kept for TCA benchmarks (interval VWAP, arrival mid).

    `kind` is "trade" (price, qty) or "mid" (price, qty 0).
    """

    ts_ns: int
    venue: str
    symbol: str
    kind: str
    price: Decimal
    qty: Decimal = Decimal(0)


class LedgerStore(Protocol):
    """The CC's ledger (see the module docstring for the unit-of-work rules)."""

    @property
    def late_duplicates(self) -> int:
        """Fills the database refused as booked already although memory took them as new."""
        ...

    @property
    def commits(self) -> int:
        """Units committed since open."""
        ...

    # -- writes: appends to the open unit of work --------------------------------------------

    def atomic(self) -> AbstractContextManager[None]:
        """A block of writes that is kept or dropped as a whole."""
        ...

    def save_parent(self, p: Parent, kind: str = "parent") -> None:
        """Insert or update a parent (its mutable fields), with an event of `kind`."""
        ...

    def save_child(self, c: Child, kind: str = "child") -> None:
        """Insert or update a child (its mutable fields), with an event of `kind`."""
        ...

    def add_fill(self, f: Fill) -> bool:
        """Book a parent's fill; False (nothing written) if its fill id is already booked."""
        ...

    def add_algo_fill(self, client: str, algo: str, f: Fill) -> bool:
        """Book a fill of an order a WebAssembly algo placed; False if already booked."""
        ...

    def add_remote_child(self, child_id: str, origin: str, venue: str, client: str = "") -> None:
        """Another region's child placed on our edge (kept once), for the origin's `client`."""
        ...

    def finish_remote_child(self, child_id: str) -> None:
        """That child is final at our edge: `remote_children()` leaves it out from now on."""
        ...

    def add_forwarded_credential(self, credential_id: str, origin: str, client: str, venue: str) -> None:
        """Another region's (`origin`) client's credential installed at our `venue`'s edge (insert
        or update by id): only that origin may use or remove that account."""
        ...

    def remove_forwarded_credential(self, credential_id: str) -> None:
        """Its origin removed that forwarded credential."""
        ...

    def set_cursor(self, venue: str, seq: int) -> None:
        """The last edge event booked from `venue` (never moves backwards)."""
        ...

    def set_flag(self, name: str, value: str) -> None: ...

    def save_client(self, c: ClientRecord) -> None:
        """Insert or update a client made through the API (its key's digest, never the key)."""
        ...

    def add_market_samples(self, samples: Collection[MarketSample]) -> None:
        """Append market trades/mids for TCA."""
        ...

    def release(self, order_ids: Collection[str]) -> None:
        """The caller no longer holds these parents: drop their fill ids from memory."""
        ...

    # -- commits -----------------------------------------------------------------------------

    async def durable(self) -> None:
        """Return once everything written so far is committed (group commit: one per loop turn)."""
        ...

    def commit_soon(self, delay_s: float = 0.0) -> None:
        """Commit the open unit in a coming loop turn, or `delay_s` from now, without waiting."""
        ...

    # -- reads -------------------------------------------------------------------------------

    async def live_parents(self, final: Collection[ParentState]) -> dict[str, Parent]:
        """Every parent not in a `final` state, oldest first, with children and fills."""
        ...

    async def parent(self, order_id: str) -> Parent | None: ...

    async def parents(self, order_ids: Collection[str]) -> dict[str, Parent]: ...

    async def parent_by_client_id(self, client: str, client_order_id: str) -> Parent | None: ...

    async def parent_id_of_child(self, child_id: str) -> str | None: ...

    async def client_order_ids(self, client: str, symbol: str | None = None, state: str | None = None,
                               limit: int = 500) -> list[str]:
        """The client's latest `limit` parent order ids (optionally of one symbol or state), oldest first."""
        ...

    def client_fills(self) -> AsyncIterator[tuple[str, Fill]]:
        """Every parent's fill with its client, in booking order (streamed, not loaded)."""
        ...

    async def algo_fills(self) -> list[tuple[str, Fill]]:
        """Algo fills with the deploying client (a Fill whose parent_id is "algo:NAME")."""
        ...

    async def client_fill_page(self, client: str, after: int, limit: int, symbol: str | None = None,
                               order_id: str | None = None) -> list[tuple[int, Fill]]:
        """The client's order fills booked after position `after` (0: from the first), at most
        `limit`, in booking order, each with its position (the next page's `after`)."""
        ...

    async def remote_children(self) -> dict[str, tuple[str, str]]:
        """child id -> (origin region, venue), of the hosted children not yet final."""
        ...

    async def remote_child_clients(self) -> dict[str, str]:
        """child id -> the origin's client, of the hosted children not yet final."""
        ...

    async def remote_child(self, child_id: str) -> tuple[str, str] | None:
        """(origin region, venue) of a hosted child, final or not."""
        ...

    async def forwarded_credentials(self) -> dict[str, tuple[str, str, str]]:
        """credential id -> (origin region, its client, venue), of the credentials forwarded here."""
        ...

    async def child_venues(self) -> set[str]: ...

    async def cursor(self, venue: str) -> int: ...

    async def flag(self, name: str) -> str | None: ...

    async def clients(self) -> list[ClientRecord]:
        """The clients made through the API, revoked ones too."""
        ...

    async def has_fill(self, fill_id: str) -> bool: ...

    async def events(self, ref: str | None = None) -> list[dict[str, Any]]: ...

    async def market_samples(self, symbol: str, start_ns: int, end_ns: int,
                             kind: str | None = None) -> list[MarketSample]:
        """Samples of `symbol` with start_ns <= ts_ns <= end_ns, oldest first."""
        ...

    async def schema_version(self) -> int:
        """The last migration applied."""
        ...

    # -- sealed credentials: written and committed at once, off the order path ----------------

    async def put_credential(self, c: StoredCredential) -> None:
        """Insert, or update by id (a rewrap); StoreConflict if the client has another for that venue."""
        ...

    async def delete_credential(self, credential_id: str) -> None: ...

    async def credentials(self) -> list[StoredCredential]: ...

    async def close(self) -> None:
        """Commit what is open and close."""
        ...
