"""What the edge reports of its venue accounts' balances: the shared account's, and each
client's own account it holds a credential for (edge/credentials.py), asked of the venue with
that account's key. The CC caps a client's orders at this venue by its own account's."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from seqmesh.runtime.proto import edge_pb2 as pb

from .credentials import ClientAccounts
from .gateway import VenueGateway

log = logging.getLogger(__name__)
#: an account's error as reported (the venue's words, shortened)
ERROR_CHARS = 300


def balance_rows(balances: dict[str, tuple[Decimal, Decimal]]) -> list[pb.Balance]:
    """An account's balances as the link carries them, by asset."""
    return [pb.Balance(asset=a, free=str(f), locked=str(lk)) for a, (f, lk) in sorted(balances.items())]


async def _account(accounts: ClientAccounts, account: str) -> pb.AccountBalances:
    try:
        got = await accounts.gateway(account).balances()
    except Exception as exc:  # one account's failure is that account's answer, not the others'
        log.warning("balances of account %s not read: %s", account, type(exc).__name__)
        return pb.AccountBalances(account=account, error=f"{type(exc).__name__}: {exc}"[:ERROR_CHARS])
    return pb.AccountBalances(account=account, balances=balance_rows(got))


async def all_balances(shared: VenueGateway, accounts: ClientAccounts | None) -> pb.Balances:
    """Every account at once (concurrently): a client's account the venue did not answer for says
    why instead of its balances; the shared account's failure fails the call, as before."""
    own = [] if accounts is None else [_account(accounts, a) for a in sorted(accounts.sealed)]
    rows, mine = await asyncio.gather(shared.balances(), asyncio.gather(*own))
    return pb.Balances(balances=balance_rows(rows), accounts=mine)
