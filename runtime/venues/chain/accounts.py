"""Deterministic local keys for a seed: the same seed gives the same addresses, so the same
contract and pair addresses, on every run. Keys live here, in the process that signs; the node
never holds them. Only ever funded on a local anvil (they are derivable from the seed)."""

from __future__ import annotations

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import RPCEndpoint


def derive(seed: int, role: str, index: int = 0) -> LocalAccount:
    """The account for `role` number `index` under `seed` (e.g. role "lp", "trader")."""
    key = Web3.keccak(text=f"seqmesh chain account/{seed}/{role}/{index}")
    account: LocalAccount = Account.from_key(key)
    return account


def fund_native(w3: Web3, address: str, wei: int) -> None:
    """Sets `address`'s native balance (gas money) with anvil's dev RPC, as a genesis allocation would."""
    response = w3.provider.make_request(RPCEndpoint("anvil_setBalance"), [address, hex(wei)])
    if "error" in response:
        raise RuntimeError(f"anvil_setBalance({address}) failed: {response['error']}")
